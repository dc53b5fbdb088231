# One image for every process of Xiaobao; each Deployment or Job picks its command
# (deploy/k8s/base/<svc>.yaml):
#   python -m services.<svc>.api
#   python -m nameko run services.<svc>.worker --broker "$XIAOBAO_AMQP_URI"
#   xiaobao db upgrade <svc>
# Build from the repository root: docker build -t xiaobao:<version> .
# Checked by hadolint in `make k8s-check` (deploy/k8s/check.py).

# --- builder: compilers for any dependency without a wheel; installs into a virtualenv --------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Debian's own versions of the toolchain: pinning them would break on every point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/xiaobao
ENV PATH=/opt/xiaobao/bin:$PATH

WORKDIR /src
# Dependencies first (a cached layer while only the code changes), then the project itself.
COPY pyproject.toml constraints.txt README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt wheel -r /tmp/requirements.txt
COPY services ./services
COPY gen ./gen
RUN pip install -c constraints.txt . \
    && python -m compileall -q /opt/xiaobao/lib

# --- runtime: the virtualenv and nothing else; no compiler, no source tree --------------------
FROM python:3.11-slim-bookworm AS runtime

ENV PATH=/opt/xiaobao/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    XIAOBAO_BIND_HOST=0.0.0.0 \
    XIAOBAO_DATA_DIR=/tmp/xiaobao \
    XIAOBAO_LOG_FORMAT=json

RUN groupadd --gid 10001 xiaobao \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin xiaobao
COPY --from=builder /opt/xiaobao /opt/xiaobao

# The root filesystem may be read-only: only /tmp (an emptyDir in Kubernetes) is written.
WORKDIR /tmp
USER 10001:10001
EXPOSE 50051 50052 50053 50054 50055 8051
CMD ["xiaobao", "--help"]
