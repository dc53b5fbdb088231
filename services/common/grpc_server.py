"""The one gRPC server bootstrap: health, reflection, error mapping, metrics, graceful stop."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import db, logs, metrics
from services.common import settings as settings_mod
from services.common.errors import XiaobaoError

log = logging.getLogger(__name__)


def _split(full_method: str) -> tuple[str, str]:
    _, service, method = (
        full_method.split("/", 2) if full_method.count("/") == 2 else ("", "?", "?")
    )
    return service, method


class ErrorsAndMetrics(grpc.ServerInterceptor):
    """Maps domain errors to status codes in one place and counts every call."""

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
                context.abort(exc.code, exc.message)
            log.exception("unexpected error in %s/%s", service, method)
            record(grpc.StatusCode.INTERNAL, started)
            context.abort(grpc.StatusCode.INTERNAL, "internal error; the operator has the details")

        if handler.unary_unary:
            inner = handler.unary_unary

            def unary_unary(request, context):
                started = time.perf_counter()
                try:
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


class Readiness:
    """Health: SERVING only while the service's database answers (re-checked every few seconds)."""

    def __init__(self, service: str, servicer: health.HealthServicer, names: Iterable[str]) -> None:
        self.service = service
        self.servicer = servicer
        self.names = ["", *names]
        self._stop = threading.Event()

    def check(self) -> bool:
        ok = db.ping(self.service)
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ok
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in self.names:
            self.servicer.set(name, status)
        metrics.PROCESS_READY.labels(self.service, "api").set(1 if ok else 0)
        return ok

    def run(self, interval: float = 5.0) -> None:
        while not self._stop.wait(interval):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        for name in self.names:
            self.servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)


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
    readiness = Readiness(service, health_servicer, names)
    readiness.check()
    address = f"{cfg.bind_host}:{own.grpc_port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise SystemExit(f"{service} api: cannot listen on {address} (port in use?)")
    metrics.serve(own.api_metrics_port, cfg.bind_host)
    server.start()
    threading.Thread(target=readiness.run, name="readiness", daemon=True).start()
    log.info("%s api listening on %s, metrics on :%d", service, address, own.api_metrics_port)

    stopped = threading.Event()

    def _stop(signum, _frame):
        log.info("%s api stopping (signal %d)", service, signum)
        readiness.stop()
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stopped.wait()
    server.stop(grace=5).wait()
