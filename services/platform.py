"""Starts and stops the ten processes (a worker and an api per service) as real processes.

Used by `xiaobao demo` and by the integration tests, so both run the platform the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import kombu

from services.common import messaging
from services.common import settings as settings_mod

ROOT = Path(__file__).resolve().parents[1]


class BrokerUnreachable(RuntimeError):
    pass


def _local_port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now, below the kernel's range of ports
    for outgoing connections: a port from that range (what bind(0) gives) may be taken by any
    client connection before the process it was chosen for binds it."""
    low = _local_port_range()[0]
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports_env(services: tuple[str, ...] = settings_mod.SERVICES) -> dict[str, str]:
    """Settings that put every api, /metrics endpoint and the consumers' HTTP page of `services`
    on free ports, so a platform (of a test, a benchmark) starts beside any other one."""
    env: dict[str, str] = {}
    for service in services:
        upper, port = service.upper(), free_port()
        env[f"XIAOBAO_{upper}_GRPC_PORT"] = str(port)
        env[f"XIAOBAO_{upper}_ADDR"] = f"127.0.0.1:{port}"
        env[f"XIAOBAO_{upper}_METRICS_PORT"] = str(free_port())
        env[f"XIAOBAO_{upper}_WORKER_METRICS_PORT"] = str(free_port())
    if "intake" in services:
        env["XIAOBAO_INTAKE_HTTP_PORT"] = str(free_port())
    return env


def check_broker(amqp_uri: str, timeout: float = 3.0) -> None:
    try:
        with kombu.Connection(amqp_uri, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:
        raise BrokerUnreachable(
            f"RabbitMQ is not reachable at {_redact(amqp_uri)} ({type(exc).__name__}); "
            "start one with `rabbitmq-server -detached` or point XIAOBAO_AMQP_URI at one"
        ) from None


def _redact(uri: str) -> str:
    if "@" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if the demo or test run that started it is killed outright."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class PortsInUse(RuntimeError):
    pass


def check_ports(
    cfg: settings_mod.Settings, services: tuple[str, ...], patience: float = 0.0
) -> None:
    """Refuses to start when a port is taken (another demo still running, say), naming it.

    With `patience`, a port found taken is tried again for that many seconds: 50051-50055 lie in
    Linux's ephemeral range, so a passing client connection can hold one for a moment.
    """
    end = time.monotonic() + patience
    while True:
        try:
            return _check_ports_once(cfg, services)
        except PortsInUse:
            if time.monotonic() >= end:
                raise
            time.sleep(0.5)


def _check_ports_once(cfg: settings_mod.Settings, services: tuple[str, ...]) -> None:
    taken = []
    for name in services:
        own = cfg.service(name)
        ports = [
            ("GRPC_PORT", own.grpc_port),
            ("METRICS_PORT", own.api_metrics_port),
            ("WORKER_METRICS_PORT", own.worker_metrics_port),
        ]
        if name == "intake":  # the consumers' page and HTTP API, in intake's api process
            ports.append(("HTTP_PORT", cfg.intake_http_port))
        for what, port in ports:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((cfg.bind_host, port))
                except OSError:
                    taken.append(f"{port} (XIAOBAO_{name.upper()}_{what})")
    if taken:
        raise PortsInUse(
            f"ports already in use: {', '.join(taken)}; is another Xiaobao running? "
            "Stop it or set those variables"
        )


@dataclass
class Process:
    service: str
    role: str  # worker | api
    popen: subprocess.Popen
    log_path: Path


@dataclass
class Platform:
    """The running platform; `env` overrides settings for every child (ports, database, broker)."""

    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: Path(".data/logs"))
    processes: list[Process] = field(default_factory=list)

    def child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        paths = [str(ROOT), str(ROOT / "gen" / "python")]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def settings(self) -> settings_mod.Settings:
        return settings_mod.load({**os.environ, **self.env})

    def _spawn(
        self,
        service: str,
        role: str,
        argv: list[str],
        extra_env: dict[str, str] | None = None,
        log_name: str = "",
    ) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{log_name or f'{service}-{role}'}.log"
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env={**self.child_env(), **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us, and we stop the children in order
                preexec_fn=_die_with_parent,
            )
        self.processes.append(Process(service, role, popen, log_path))

    def start(
        self, services: tuple[str, ...] = settings_mod.SERVICES, timeout: float = 60.0
    ) -> None:
        cfg = self.settings()
        check_broker(cfg.amqp_uri)
        for service in services:
            self._spawn(service, "worker", self._worker_argv(service, cfg))
        self.wait_workers(services, cfg, timeout)
        for service in services:
            self._spawn(service, "api", [sys.executable, "-m", f"services.{service}.api"])
        self.wait_apis(services, cfg, timeout)

    @staticmethod
    def _worker_argv(service: str, cfg: settings_mod.Settings) -> list[str]:
        return [
            sys.executable,
            "-m",
            "nameko",
            "run",
            f"services.{service}.worker",
            "--broker",
            cfg.amqp_uri,
        ]

    def add_worker(self, service: str, replica: int, env: dict[str, str]) -> Process:
        """Starts one more worker of a service (a second replica, as Kubernetes would run);
        `env` must move what cannot be shared, such as its metrics port."""
        self._spawn(
            service,
            "worker",
            self._worker_argv(service, self.settings()),
            extra_env=env,
            log_name=f"{service}-worker-{replica}",
        )
        return self.processes[-1]

    def add_api(self, service: str, replica: int, env: dict[str, str]) -> Process:
        """Starts one more api of a service; `env` must give it its own ports."""
        self._spawn(
            service,
            "api",
            [sys.executable, "-m", f"services.{service}.api"],
            extra_env=env,
            log_name=f"{service}-api-{replica}",
        )
        return self.processes[-1]

    def stop_process(self, process: Process, timeout: float = 15.0) -> None:
        """Stops one process (SIGTERM, then SIGKILL) and forgets it."""
        if process.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
            try:
                process.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
        self.processes.remove(process)

    def _check_alive(self) -> None:
        for p in self.processes:
            if p.popen.poll() is not None:
                tail = p.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(
                    f"{p.service} {p.role} exited with code {p.popen.returncode}; last log lines:\n{tail}"
                )

    def wait_workers(self, services, cfg: settings_mod.Settings, timeout: float) -> None:
        """A worker is ready when every queue it subscribes to has a consumer."""
        deadline = time.monotonic() + timeout
        wanted = [q for s in services for q in messaging.consumer_queue_names(s)]
        with kombu.Connection(cfg.amqp_uri) as conn:
            while True:
                self._check_alive()
                missing = []
                for name in wanted:
                    try:
                        _, _, consumers = conn.default_channel.queue_declare(name, passive=True)
                    except Exception:
                        conn.close()
                        conn.connect()
                        consumers = 0
                    if consumers < 1:
                        missing.append(name)
                if not missing:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"workers not consuming after {timeout}s: {missing}")
                time.sleep(0.3)

    def wait_apis(self, services, cfg: settings_mod.Settings, timeout: float) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + timeout
        for service in services:
            address = cfg.service(service).address
            with grpc.insecure_channel(address) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                while True:
                    self._check_alive()
                    try:
                        status = stub.Check(
                            health_pb2.HealthCheckRequest(service=""), timeout=1
                        ).status
                        if status == health_pb2.HealthCheckResponse.SERVING:
                            break
                    except grpc.RpcError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{service} api at {address} not serving after {timeout}s"
                        )
                    time.sleep(0.2)
            if service == "intake":
                self._wait_http(f"{self.consumer_url(cfg)}healthz", deadline, timeout)

    def _wait_http(self, url: str, deadline: float, timeout: float) -> None:
        """Until GET url answers 200 (intake's consumer page and API, beside its gRPC)."""
        import urllib.error
        import urllib.request

        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - our own
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"intake's consumer page at {url} not answering after {timeout}s"
                )
            time.sleep(0.2)

    @staticmethod
    def consumer_url(cfg: settings_mod.Settings) -> str:
        """Where a browser on this machine finds the consumer's page."""
        host = "127.0.0.1" if cfg.bind_host in ("0.0.0.0", "") else cfg.bind_host  # noqa: S104
        return f"http://{host}:{cfg.intake_http_port}/"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the apis first (no new work), then the workers; SIGKILL what lingers."""
        ordered = [p for p in self.processes if p.role == "api"] + [
            p for p in self.processes if p.role == "worker"
        ]
        for p in ordered:
            if p.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.popen.pid, signal.SIGTERM)
        end = time.monotonic() + timeout
        for p in ordered:
            try:
                p.popen.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.popen.pid, signal.SIGKILL)
                p.popen.wait()
        self.processes.clear()

    def endpoints(self) -> list[tuple[str, str, str, str]]:
        cfg = self.settings()
        host = "127.0.0.1" if cfg.bind_host in ("0.0.0.0", "") else cfg.bind_host  # noqa: S104
        return [
            (
                s,
                cfg.service(s).address,
                f"http://{host}:{cfg.service(s).api_metrics_port}/metrics",
                f"http://{host}:{cfg.service(s).worker_metrics_port}/metrics",
            )
            for s in settings_mod.SERVICES
        ]
