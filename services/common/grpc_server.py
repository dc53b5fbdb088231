"""The one gRPC server bootstrap: health, reflection, error mapping, metrics, graceful stop."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from pathlib import Path

import grpc
import kombu
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import db, logs, metrics, protoconv
from services.common import settings as settings_mod
from services.common.errors import XiaobaoError

log = logging.getLogger(__name__)

# Characters of a refusal's message: it travels percent-encoded in the status trailer (nine
# bytes a Chinese character), which clients refuse beyond 8 KiB.
MAX_MESSAGE = 300


def _split(full_method: str) -> tuple[str, str]:
    _, service, method = (
        full_method.split("/", 2) if full_method.count("/") == 2 else ("", "?", "?")
    )
    return service, method


class ErrorsAndMetrics(grpc.ServerInterceptor):
    """Maps domain errors to status codes in one place and counts every call; refuses a request
    with U+0000 in any string field before a method sees it."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        service, method = _split(handler_call_details.method)

        def record(code: grpc.StatusCode, started: float) -> None:
            metrics.GRPC_HANDLED.labels(service, method, code.name).inc()
            metrics.GRPC_SECONDS.labels(service, method).observe(time.perf_counter() - started)

        def fail(context, exc: BaseException, started: float):
            if isinstance(exc, XiaobaoError):
                record(exc.code, started)
                # A message may quote the caller's input: cut short, or a megabyte of it would
                # overflow the status trailer and reach the caller as RESOURCE_EXHAUSTED.
                message = exc.message
                if len(message) > MAX_MESSAGE:
                    message = message[: MAX_MESSAGE - 1] + "…"
                context.abort(exc.code, message)
            if db.is_unavailable(exc):
                # Nothing was committed; the caller retries (with its request_id where it has one).
                log.warning(
                    "database unavailable in %s/%s: %s", service, method, type(exc).__name__
                )
                record(grpc.StatusCode.UNAVAILABLE, started)
                context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable; retry shortly")
            log.exception("unexpected error in %s/%s", service, method)
            record(grpc.StatusCode.INTERNAL, started)
            context.abort(grpc.StatusCode.INTERNAL, "internal error; the operator has the details")

        if handler.unary_unary:
            inner = handler.unary_unary

            def unary_unary(request, context):
                started = time.perf_counter()
                try:
                    protoconv.refuse_nul(request)
                    response = inner(request, context)
                except grpc.RpcError:
                    raise
                except Exception as exc:
                    if context.code() is not None:  # already aborted by the servicer
                        raise
                    fail(context, exc, started)
                record(grpc.StatusCode.OK, started)
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            inner_stream = handler.unary_stream

            def unary_stream(request, context):
                started = time.perf_counter()
                try:
                    protoconv.refuse_nul(request)
                    yield from inner_stream(request, context)
                except Exception as exc:
                    if context.code() is not None:
                        raise
                    fail(context, exc, started)
                record(grpc.StatusCode.OK, started)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


# A health name that is SERVING for as long as the process runs (Kubernetes' liveness probe):
# readiness ("" and the service names) follows the database and the broker, and an outage of
# either must take pods out of their Service, not restart them.
LIVENESS = "xiaobao.liveness"


class BrokerPing:
    """Whether RabbitMQ answers: one kept connection, a channel opened and closed per check
    (a round trip), reconnecting after a failure. Socket timeouts bound every check."""

    def __init__(self, amqp_uri: str, timeout: float = 3.0) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self._connection: kombu.Connection | None = None

    def __call__(self) -> bool:
        try:
            if self._connection is None:
                self._connection = kombu.Connection(
                    self.amqp_uri,
                    connect_timeout=self.timeout,
                    heartbeat=0,
                    transport_options={
                        "read_timeout": self.timeout,
                        "write_timeout": self.timeout,
                    },
                )
                self._connection.connect()
            self._connection.channel().close()
            return True
        except Exception:
            self.close()
            return False

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # closing a dead connection
                self._connection.release()
        self._connection = None


class Readiness:
    """Health: SERVING only while the service's database and the broker answer (re-checked every
    few seconds); LIVENESS stays SERVING until the process stops."""

    def __init__(
        self,
        service: str,
        servicer: health.HealthServicer,
        names: Iterable[str],
        broker: Callable[[], bool] | None = None,
    ) -> None:
        self.service = service
        self.servicer = servicer
        self.names = ["", *names]
        self.broker = broker
        self._stop = threading.Event()
        servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)

    def check(self) -> bool:
        ok = db.ping(self.service)
        if ok and self.broker is not None:
            ok = self.broker()
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ok
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in self.names:
            self.servicer.set(name, status)
        metrics.set_ready(self.service, "api", ok)
        return ok

    def run(self, interval: float = 5.0) -> None:
        while not self._stop.wait(interval):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        for name in [*self.names, LIVENESS]:
            self.servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if isinstance(self.broker, BrokerPing):
            self.broker.close()


def _read(path: str, variable: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{variable}: cannot read {path}: {exc.strerror}") from None


def server_credentials(cfg: settings_mod.Settings) -> grpc.ServerCredentials:
    """mtls mode: TLS with the api's certificate, and a client certificate from the client CA
    required at the handshake, before any method runs."""
    key = _read(cfg.tls_key_file, "XIAOBAO_TLS_KEY")
    cert = _read(cfg.tls_cert_file, "XIAOBAO_TLS_CERT")
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=_read(cfg.tls_client_ca_file, "XIAOBAO_TLS_CLIENT_CA"),
        require_client_auth=True,
    )


def listen(server: grpc.Server, address: str, cfg: settings_mod.Settings) -> int:
    """Binds an api's port as the auth mode wants: TLS requiring a client certificate in mtls
    mode, plaintext in token mode. Returns the bound port, 0 if the address cannot be had."""
    try:
        if cfg.auth_mode == "mtls":
            return server.add_secure_port(address, server_credentials(cfg))
        return server.add_insecure_port(address)
    except RuntimeError:
        return 0


def health_server(servicer: health.HealthServicer, address: str) -> tuple[grpc.Server, int]:
    """A plaintext server carrying only Health, for probes that cannot present a client
    certificate (Kubernetes' native gRPC probes). Shares the api's servicer, so it reports the
    same readiness. Returns the unstarted server and its bound port (0: address in use)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="health-grpc"),
        options=[("grpc.so_reuseport", 0)],
    )
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    try:
        return server, server.add_insecure_port(address)
    except RuntimeError:
        return server, 0


def serve(
    service: str,
    register: Callable[[grpc.Server], Iterable[str]],
    max_workers: int = 16,
) -> None:
    """Runs a service's api until SIGTERM/SIGINT.

    `register` adds the servicers to the server and returns their full names for reflection
    and health.
    """
    cfg = settings_mod.get()
    own = cfg.service(service)
    logs.setup(service, "api", cfg.log_level, cfg.log_format)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"{service}-grpc"),
        interceptors=[ErrorsAndMetrics()],
        options=[("grpc.so_reuseport", 0)],
    )
    names = list(register(server))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    readiness = Readiness(service, health_servicer, names, BrokerPing(cfg.amqp_uri))
    readiness.check()
    address = f"{cfg.bind_host}:{own.grpc_port}"
    mtls = cfg.auth_mode == "mtls"
    if listen(server, address, cfg) == 0:
        raise SystemExit(f"{service} api: cannot listen on {address} (port in use?)")
    probes = None
    if mtls:
        probe_address = f"{cfg.bind_host}:{own.health_port}"
        probes, bound = health_server(health_servicer, probe_address)
        if bound == 0:
            raise SystemExit(f"{service} api: cannot listen on {probe_address} (port in use?)")
    metrics.serve(own.api_metrics_port, cfg.bind_host)
    server.start()
    if probes is not None:
        probes.start()
    threading.Thread(
        target=readiness.run, args=(cfg.readiness_seconds,), name="readiness", daemon=True
    ).start()
    if mtls:
        log.info(
            "%s api listening on %s with mutual TLS (client CA %s), plaintext health on :%d, "
            "metrics on :%d",
            service,
            address,
            cfg.tls_client_ca_file,
            own.health_port,
            own.api_metrics_port,
        )
    else:
        log.info(
            "%s api listening on %s in token mode (plaintext), metrics on :%d",
            service,
            address,
            own.api_metrics_port,
        )

    stopped = threading.Event()

    def _stop(signum, _frame):
        log.info("%s api stopping (signal %d)", service, signum)
        readiness.stop()
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stopped.wait()
    server.stop(grace=5).wait()
    if probes is not None:
        probes.stop(grace=1).wait()
