# One image for every process of Xiaobao (deploy/k8s picks the command per Deployment):
#   python -m nameko run services.<svc>.worker --broker "$XIAOBAO_AMQP_URI"
#   python -m services.<svc>.api
#   xiaobao db upgrade <svc>
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    XIAOBAO_BIND_HOST=0.0.0.0 \
    XIAOBAO_DATA_DIR=/tmp/xiaobao \
    XIAOBAO_LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY services ./services
COPY gen ./gen
RUN pip install -c constraints.txt . \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin xiaobao \
    && rm -rf /app/services /app/gen

# Runs from site-packages; the root filesystem may be read-only (only /tmp is written).
WORKDIR /tmp
USER 10001
CMD ["xiaobao", "--help"]
