"""Every setting of every process, read once from XIAOBAO_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SERVICES = ("intake", "routing", "mediation", "education", "blacklist")

# Fixed default ports: service N listens for gRPC on 50050+N, api metrics on 9100+N and
# worker metrics on 9200+N, so a newcomer can guess them.
_BASE_INDEX = {name: i + 1 for i, name in enumerate(SERVICES)}

DEV_SECRET = "xiaobao-development-secret-change-me"  # noqa: S105 - refused outside XIAOBAO_ENV=dev


def _env(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name)
    return default if value is None or value == "" else value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _env(env, name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _env(env, name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class ServiceSettings:
    name: str
    grpc_port: int
    api_metrics_port: int
    worker_metrics_port: int
    # Where clients (CLI, other services, the demo) reach the api.
    address: str
    # Empty: derived from Settings.database_url or the embedded SQLite file.
    database_url: str
    # mtls mode only: a plaintext port carrying nothing but Health, for Kubernetes' gRPC probes,
    # which cannot present a client certificate.
    health_port: int


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    database_url: str
    amqp_uri: str
    bind_host: str
    auth_secret: str
    pii_key: str
    outbox_poll_seconds: float
    # How often intake checks whether the holiday table or policy changed.
    clock_sweep_seconds: float
    log_level: str
    log_format: str
    routing_min_confidence: float
    # How often routing sweeps open assignments for 60%/80% notices and breaches.
    routing_sweep_seconds: float
    # The routing policy (tiers, bounce limit, notice thresholds); empty: the packaged file.
    routing_policy_file: str
    # The consumers' HTTP JSON API and web page, served by the intake api process.
    intake_http_port: int
    # The one proxy (an Ingress) whose X-Forwarded-For names the consumer; empty: none.
    intake_trusted_proxy: str
    services: dict[str, ServiceSettings]
    # How often mediation's worker sends due session reminders and expires overdue requests.
    mediation_sweep_seconds: float = 60.0
    # How often an api re-checks its database and broker for its readiness.
    readiness_seconds: float = 5.0
    # How apis authenticate callers: "token" (signed bearer tokens, development) or "mtls"
    # (verified client certificates, production; bearer tokens are then refused).
    auth_mode: str = "token"
    # Server side, mtls mode: the api's certificate and key, and the CA its clients' certificates
    # must chain to.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    # Client side: with tls_ca_file set, clients open TLS channels trusting it and present the
    # client certificate if one is set.
    tls_ca_file: str = ""
    tls_client_cert_file: str = ""
    tls_client_key_file: str = ""
    # Blacklist screening's lexicon (a versioned YAML, re-read when it changes); empty: the
    # packaged services/blacklist/data/lexicon.yaml.
    blacklist_lexicon_file: str = ""
    # RabbitMQ queue type of every queue that carries cases: "classic" (the local development
    # broker) or "quorum" (a cluster: replicated, a lost node loses nothing). Changing it on an
    # existing broker needs the queues drained and deleted first (docs/operations.md).
    queue_type: str = "classic"

    def service(self, name: str) -> ServiceSettings:
        try:
            return self.services[name]
        except KeyError:
            raise KeyError(f"unknown service {name!r}; expected one of {SERVICES}") from None


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Reads the environment (or `env`) now; use get() for the process-wide cached copy."""
    env = os.environ if env is None else env
    services = {}
    for name in SERVICES:
        i = _BASE_INDEX[name]
        upper = name.upper()
        grpc_port = _int(env, f"XIAOBAO_{upper}_GRPC_PORT", 50050 + i)
        services[name] = ServiceSettings(
            name=name,
            grpc_port=grpc_port,
            api_metrics_port=_int(env, f"XIAOBAO_{upper}_METRICS_PORT", 9100 + i),
            worker_metrics_port=_int(env, f"XIAOBAO_{upper}_WORKER_METRICS_PORT", 9200 + i),
            address=_env(env, f"XIAOBAO_{upper}_ADDR", f"127.0.0.1:{grpc_port}"),
            database_url=_env(env, f"XIAOBAO_{upper}_DATABASE_URL", ""),
            health_port=_int(env, f"XIAOBAO_{upper}_HEALTH_PORT", grpc_port + 100),
        )
    deployment = _env(env, "XIAOBAO_ENV", "dev")
    auth_secret = _env(env, "XIAOBAO_AUTH_SECRET", DEV_SECRET)
    pii_key = _env(env, "XIAOBAO_PII_KEY", DEV_SECRET)
    if deployment != "dev" and DEV_SECRET in (auth_secret, pii_key):
        raise ValueError(
            "XIAOBAO_AUTH_SECRET and XIAOBAO_PII_KEY must be set outside XIAOBAO_ENV=dev"
        )
    tls = _tls(env)
    return Settings(
        env=deployment,
        data_dir=Path(_env(env, "XIAOBAO_DATA_DIR", ".data")).resolve(),
        database_url=_env(env, "XIAOBAO_DATABASE_URL", ""),
        amqp_uri=_env(env, "XIAOBAO_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//"),
        bind_host=_env(env, "XIAOBAO_BIND_HOST", "127.0.0.1"),
        auth_secret=auth_secret,
        pii_key=pii_key,
        outbox_poll_seconds=_float(env, "XIAOBAO_OUTBOX_POLL_SECONDS", 0.2),
        clock_sweep_seconds=_float(env, "XIAOBAO_CLOCK_SWEEP_SECONDS", 60.0),
        log_level=_env(env, "XIAOBAO_LOG_LEVEL", "INFO").upper(),
        log_format=_env(env, "XIAOBAO_LOG_FORMAT", "text"),
        routing_min_confidence=_float(env, "XIAOBAO_ROUTING_MIN_CONFIDENCE", 0.72),
        routing_sweep_seconds=_float(env, "XIAOBAO_ROUTING_SWEEP_SECONDS", 60.0),
        routing_policy_file=_env(env, "XIAOBAO_ROUTING_POLICY_FILE", ""),
        intake_http_port=_int(env, "XIAOBAO_INTAKE_HTTP_PORT", 8051),
        intake_trusted_proxy=_env(env, "XIAOBAO_INTAKE_TRUSTED_PROXY", ""),
        services=services,
        mediation_sweep_seconds=_float(env, "XIAOBAO_MEDIATION_SWEEP_SECONDS", 60.0),
        readiness_seconds=_float(env, "XIAOBAO_READINESS_SECONDS", 5.0),
        blacklist_lexicon_file=_env(env, "XIAOBAO_BLACKLIST_LEXICON_FILE", ""),
        queue_type=_choice(env, "XIAOBAO_QUEUE_TYPE", QUEUE_TYPES),
        **tls,
    )


QUEUE_TYPES = ("classic", "quorum")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`; the first is the default."""
    value = _env(env, name, choices[0])
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


AUTH_MODES = ("token", "mtls")
_TLS_VARIABLES = {
    "tls_cert_file": "XIAOBAO_TLS_CERT",
    "tls_key_file": "XIAOBAO_TLS_KEY",
    "tls_client_ca_file": "XIAOBAO_TLS_CLIENT_CA",
    "tls_ca_file": "XIAOBAO_TLS_CA",
    "tls_client_cert_file": "XIAOBAO_TLS_CLIENT_CERT",
    "tls_client_key_file": "XIAOBAO_TLS_CLIENT_KEY",
}


def _tls(env: Mapping[str, str]) -> dict[str, str]:
    """The auth mode and TLS file settings, refusing a combination that cannot work."""
    mode = _env(env, "XIAOBAO_AUTH_MODE", "token")
    if mode not in AUTH_MODES:
        raise ValueError(f"XIAOBAO_AUTH_MODE must be one of {', '.join(AUTH_MODES)}, got {mode!r}")
    files = {field: _env(env, variable, "") for field, variable in _TLS_VARIABLES.items()}
    if mode == "mtls":
        for field in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
            if not files[field]:
                raise ValueError(f"{_TLS_VARIABLES[field]} must be set when XIAOBAO_AUTH_MODE=mtls")
    if bool(files["tls_client_cert_file"]) != bool(files["tls_client_key_file"]):
        raise ValueError("XIAOBAO_TLS_CLIENT_CERT and XIAOBAO_TLS_CLIENT_KEY must be set together")
    if files["tls_client_cert_file"] and not files["tls_ca_file"]:
        raise ValueError("XIAOBAO_TLS_CA must be set when XIAOBAO_TLS_CLIENT_CERT is")
    return {"auth_mode": mode, **files}


@lru_cache(maxsize=1)
def get() -> Settings:
    return load()
