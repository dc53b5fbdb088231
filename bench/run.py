"""Xiaobao's benchmarks: each figure is printed next to a baseline measured in the same run.

    python bench/run.py                 # everything, default counts
    python bench/run.py --quick         # counts / 10
    python bench/run.py --only grpc     # grpc | outbox | clock | portal | intake-flow

grpc    the intake api (a real child process) against a bare grpcio echo server (also a child)
outbox  the routing outbox relay against bare kombu publishes with publisher confirms
clock   compute_deadline against a trivial `start + timedelta(days=limit)`
portal  the routing api's institution portal (only with --only portal; see bench/routing_portal.py)
intake-flow  SubmitCase through the ten processes, RabbitMQ and PostgreSQL (only with
        --only intake-flow; see bench/intake.py)

Speed is never asserted: this prints figures; people read them. See bench/README.md.
"""

from __future__ import annotations

import os
import sys

# `python bench/run.py` works without PYTHONPATH: the repo root and the generated protos.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen", "python"))  # fmt: skip
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import contextlib
import platform
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

# One choice of free ports for every bench and test: below the range of outgoing connections.
from services.platform import free_port

ROOT = Path(__file__).resolve().parents[1]
THREADS = 8
ECHO_METHOD = "/bench.Echo/Echo"
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672//"


# --- figures ---------------------------------------------------------------------------------


@dataclass
class Result:
    what: str
    count: int
    seconds: float
    latencies: list[float]  # seconds, one per call (or per event)
    baseline: Result | None = None
    baseline_name: str = ""  # for the summary line: "0.41x of <baseline_name>"

    @property
    def ops(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, int(q * len(ordered) + 0.999999) - 1))  # nearest rank
        return ordered[rank] * 1000

    @property
    def ratio(self) -> float | None:
        return None if self.baseline is None else self.ops / self.baseline.ops


@dataclass
class Section:
    title: str
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _num(x: float) -> str:
    if x != x:  # nan
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio >= 0.1:
        return f"{ratio:.2f}x"
    return f"{ratio:.3g}x (1/{1 / ratio:,.0f})"


def render(console, section: Section) -> None:
    from rich.table import Table

    table = Table(title=section.title, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("ops/s", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("vs baseline", justify="right")
    for r in section.results:
        ratio = "baseline" if r.baseline is None else ratio_text(r.ratio)
        table.add_row(
            r.what,
            f"{r.count:,}",
            f"{r.ops:,.0f}",
            _num(r.percentile_ms(0.50)),
            _num(r.percentile_ms(0.99)),
            ratio,
        )
    console.print(table)
    for note in section.notes:
        console.print(f"  [dim]{note}[/dim]")


# --- timing ----------------------------------------------------------------------------------


def run_sequential(call: Callable[[int], object], n: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    clock = time.perf_counter
    started = clock()
    for i in range(n):
        t = clock()
        call(i)
        latencies.append(clock() - t)
    return clock() - started, latencies


def run_threaded(
    call: Callable[[int], object], n: int, threads: int = THREADS
) -> tuple[float, list[float]]:
    """n calls shared by `threads` threads that start together; wall time of the whole lot."""
    per_thread: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    gate = threading.Barrier(threads + 1)
    clock = time.perf_counter

    def work(k: int) -> None:
        out = per_thread[k]
        gate.wait()
        try:
            for i in range(k, n, threads):
                t = clock()
                call(i)
                out.append(clock() - t)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    gate.wait()
    started = clock()
    for t in pool:
        t.join()
    elapsed = clock() - started
    if errors:
        raise errors[0]
    return elapsed, [x for out in per_thread for x in out]


def warmup_count(n: int) -> int:
    return max(5, min(100, n // 10))


# --- child processes -------------------------------------------------------------------------


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    paths = [str(ROOT), str(ROOT / "gen" / "python")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Children:
    """Every process the bench starts, each in its own process group; all stopped in the end."""

    def __init__(self) -> None:
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def spawn(self, argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group: we stop it and anything it started
            )
        self.procs.append((popen, log_path))
        return popen

    def log_tail(self, popen: subprocess.Popen, chars: int = 2000) -> str:
        for p, path in self.procs:
            if p is popen:
                return path.read_text(errors="replace")[-chars:]
        return ""

    def stop(self, popen: subprocess.Popen, timeout: float = 10.0) -> None:
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
        # Anything the child left in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        self.procs = [(p, path) for p, path in self.procs if p is not popen]

    def stop_all(self) -> None:
        for popen, _ in list(self.procs):
            self.stop(popen)


def run_guarded(
    console,
    name: str,
    work: Callable[[Children, Path], object],
    interrupted: str = "interrupted; stopped the processes, dropped the database",
) -> tuple[object, int | None]:
    """Runs a benchmark's work with its child processes and a temporary directory, both gone
    afterwards whatever happens: (what the work returned, None), or (None, the exit code) after
    saying in one line that it was interrupted or failed, with the traceback dimmed."""
    children = Children()
    tmp_dir = tempfile.TemporaryDirectory(prefix=f"xiaobao-bench-{name}-")
    try:
        return work(children, Path(tmp_dir.name)), None
    except (KeyboardInterrupt, SystemExit) as exc:
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 130
        console.print(f"[yellow]{interrupted}[/yellow]")
        return None, code
    except Exception as exc:
        console.print(f"[red]{name} benchmark failed:[/red] {type(exc).__name__}: {exc}")
        console.print(f"[dim]{traceback.format_exc()}[/dim]")
        return None, 1
    finally:
        children.stop_all()
        tmp_dir.cleanup()


def serve_echo(port: int) -> None:
    """The baseline server (run in a child): bytes in, the same bytes out, no serializers."""
    from concurrent import futures

    import grpc

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="echo-grpc"),
        options=[("grpc.so_reuseport", 0)],  # the same pool size and options as grpc_server.serve
    )
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo",
        {"Echo": grpc.unary_unary_rpc_method_handler(lambda request, _context: request)},
    )
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"echo server: cannot listen on 127.0.0.1:{port}")
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=1).wait()


def wait_until(
    ready: Callable[[], bool],
    popen: subprocess.Popen,
    children: Children,
    what: str,
    timeout: float = 60.0,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if popen.poll() is not None:
            raise RuntimeError(
                f"{what} exited with code {popen.returncode}; last log lines:\n"
                + children.log_tail(popen)
            )
        if ready():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(0.1)


# --- grpc ------------------------------------------------------------------------------------


def submit_request(request_id: str):
    from xiaobao.intake.v1 import intake_pb2 as pb

    return pb.SubmitCaseRequest(
        kind=pb.CASE_KIND_COMPLAINT,
        channel=pb.CHANNEL_HOTLINE,
        complainant=pb.Complainant(name="王芳", phone="13812345678", region_code="120104"),
        institution_text="天津平安人寿",
        summary="保险销售误导",
        request_id=request_id,
    )


def bench_grpc(n: int, children: Children, tmp: Path, console) -> Section:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from services.common import auth
    from xiaobao.intake.v1 import intake_pb2 as pb
    from xiaobao.intake.v1 import intake_pb2_grpc

    section = Section("grpc: intake api (child process) vs bare grpcio echo (child process)")
    run_tag = secrets.token_hex(4)
    # The echo carries the bytes of a real SubmitCaseRequest, so both move a similar payload.
    payload = submit_request(f"bench-{run_tag}-000000").SerializeToString()
    warm = warmup_count(n)

    # Baseline: a bare grpcio server in a child process.
    port = free_port()
    console.print(f"grpc: starting the echo server on :{port}")
    echo = children.spawn(
        [sys.executable, str(Path(__file__).resolve()), "--serve-echo", str(port)],
        child_env({}),
        tmp / "echo.log",
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            echo_call = channel.unary_unary(ECHO_METHOD)  # no serializers: bytes in, bytes out

            def echo_ready() -> bool:
                try:
                    return echo_call(payload, timeout=1) == payload
                except grpc.RpcError:
                    return False

            wait_until(echo_ready, echo, children, "echo server")

            def call_echo(_i: int) -> None:
                echo_call(payload, timeout=10)

            for i in range(warm):
                call_echo(i)
            echo_seq = Result("bare grpcio echo, sequential", n, *run_sequential(call_echo, n))
            echo_thr = Result(
                f"bare grpcio echo, {THREADS} threads", n, *run_threaded(call_echo, n)
            )
    finally:
        children.stop(echo)
    section.results += [echo_seq, echo_thr]

    # Ours: the intake api as a real process on a fresh SQLite database.
    secret = secrets.token_urlsafe(48)
    grpc_port, metrics_port = free_port(), free_port()
    while metrics_port == grpc_port:
        metrics_port = free_port()
    data_dir = tmp / "data"
    data_dir.mkdir()
    env = child_env(
        {
            "XIAOBAO_DATA_DIR": str(data_dir),
            "XIAOBAO_INTAKE_GRPC_PORT": str(grpc_port),
            "XIAOBAO_INTAKE_METRICS_PORT": str(metrics_port),
            # The api also serves the consumer page; a running demo holds the default port.
            "XIAOBAO_INTAKE_HTTP_PORT": str(free_port()),
            "XIAOBAO_AUTH_SECRET": secret,
            "XIAOBAO_PII_KEY": secrets.token_urlsafe(48),
            "XIAOBAO_BIND_HOST": "127.0.0.1",
        }
    )
    for name in ("XIAOBAO_DATABASE_URL", "XIAOBAO_INTAKE_DATABASE_URL"):
        env.pop(name, None)  # SQLite in the temporary directory, whatever the shell says
    console.print("grpc: migrating a fresh intake database")
    migrated = subprocess.run(
        [sys.executable, "-m", "services.cli", "db", "upgrade", "intake"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if migrated.returncode != 0:
        raise RuntimeError(
            f"intake migration failed ({migrated.returncode}):\n"
            + (migrated.stdout + migrated.stderr)[-2000:]
        )
    console.print(f"grpc: starting the intake api on :{grpc_port} (metrics :{metrics_port})")
    api = children.spawn([sys.executable, "-m", "services.intake.api"], env, tmp / "intake-api.log")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            def serving() -> bool:
                try:
                    status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                except grpc.RpcError:
                    return False
                return status.status == health_pb2.HealthCheckResponse.SERVING

            wait_until(serving, api, children, "intake api")
            stub = intake_pb2_grpc.IntakeServiceStub(channel)
            metadata = auth.bearer(auth.issue_token("bench", "operator", secret=secret))

            seed = stub.SubmitCase(
                submit_request(f"bench-{run_tag}-seed"), metadata=metadata, timeout=10
            )
            get_request = pb.GetCaseRequest(case_no=seed.case.case_no)

            def get_case(_i: int) -> None:
                stub.GetCase(get_request, metadata=metadata, timeout=10)

            for i in range(warm):
                get_case(i)
            get_seq = Result("intake GetCase, sequential", n, *run_sequential(get_case, n))
            get_thr = Result(f"intake GetCase, {THREADS} threads", n, *run_threaded(get_case, n))

            def submitter(label: str, count: int) -> Callable[[int], None]:
                requests = [submit_request(f"bench-{run_tag}-{label}-{i}") for i in range(count)]

                def submit(i: int) -> None:
                    reply = stub.SubmitCase(requests[i], metadata=metadata, timeout=30)
                    if reply.duplicate_request or not reply.case.case_no:
                        raise RuntimeError(f"SubmitCase {i} did not create a case: {reply}")

                return submit

            warm_submit = submitter("warm", warm)
            for i in range(warm):
                warm_submit(i)
            sub_seq = Result(
                "intake SubmitCase, sequential", n, *run_sequential(submitter("seq", n), n)
            )
            sub_thr = Result(
                f"intake SubmitCase, {THREADS} threads",
                n,
                *run_threaded(submitter("thr", n), n),
            )
    finally:
        children.stop(api)

    for ours, base in ((get_seq, echo_seq), (get_thr, echo_thr), (sub_seq, echo_seq)):
        ours.baseline, ours.baseline_name = base, base.what
    sub_thr.baseline, sub_thr.baseline_name = echo_thr, echo_thr.what
    section.results += [get_seq, get_thr, sub_seq, sub_thr]
    section.notes.append(
        f"one channel per server, {warm} warm-up calls each; the echo payload is a "
        f"{len(payload)}-byte SubmitCaseRequest; SubmitCase writes the case, its clocks, "
        "its timeline and an outbox row to SQLite"
    )
    return section


# --- outbox ----------------------------------------------------------------------------------


def _with_vhost(uri: str, vhost: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


@contextlib.contextmanager
def bench_vhost(uri: str, console) -> Iterator[tuple[str, bool]]:
    """A throwaway vhost when rabbitmqctl manages this (local) broker; else the given one.

    Yields (uri, isolated). The vhost and everything in it are deleted afterwards.
    """
    ctl = shutil.which("rabbitmqctl")
    parts = urlsplit(uri)
    local = (parts.hostname or "127.0.0.1") in ("127.0.0.1", "localhost", "::1")
    if not (ctl and local):
        yield uri, False
        return
    vhost = f"xiaobao-bench-{secrets.token_hex(4)}"
    user = unquote(parts.username or "guest")
    try:
        made = subprocess.run([ctl, "add_vhost", vhost], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        made = None
    if made is None or made.returncode != 0:
        console.print("outbox: rabbitmqctl cannot add a vhost here; using the broker's own vhost")
        yield uri, False
        return
    try:
        subprocess.run(
            [ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            capture_output=True,
            timeout=60,
            check=True,
        )
        console.print(f"outbox: throwaway RabbitMQ vhost {vhost}")
        yield _with_vhost(uri, vhost), True
    finally:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


def bench_outbox(n: int, tmp: Path, uri: str, console) -> Section:
    import kombu
    from sqlalchemy.orm import sessionmaker

    from services.common.db import make_engine, session_scope
    from services.common.messaging import Envelope, OutboxRelay, emit, queue_name
    from services.routing.models import Base, OutboxMessage

    section = Section("outbox: routing outbox relay vs bare kombu publish with confirms")
    event_type = "routing.case_acknowledged"

    def case_no(label: str, i: int) -> str:
        return f"XB20261121{label}{i:06d}"

    with bench_vhost(uri, console) as (bench_uri, isolated):
        # Baseline: confirmed publishes of the same envelopes to a throwaway exchange and queue.
        tag = secrets.token_hex(4)
        exchange = kombu.Exchange(
            f"xiaobao-bench-{tag}", type="topic", durable=True, auto_delete=False
        )
        queue = kombu.Queue(
            f"xiaobao-bench-{tag}", exchange=exchange, routing_key="bench", durable=True
        )
        bodies = [Envelope(event_type, {"case_no": case_no("B", i)}).to_body() for i in range(n)]
        with kombu.Connection(
            bench_uri, transport_options={"confirm_publish": True}, connect_timeout=5
        ) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            bound_queue = queue(channel)
            bound_queue.declare()  # declares the exchange and the binding too
            try:
                producer = kombu.Producer(channel)

                def publish(i: int) -> None:
                    body = bodies[i]
                    producer.publish(
                        body,
                        exchange=exchange,
                        routing_key="bench",
                        serializer="json",
                        delivery_mode=2,
                        message_id=body["event_id"],
                        headers={"xiaobao.event_type": event_type},
                    )

                publish(0)  # warm-up: the first publish on the channel
                base = Result("bare kombu publish, confirms", n, *run_sequential(publish, n))
            finally:
                with contextlib.suppress(Exception):
                    bound_queue.delete()
                with contextlib.suppress(Exception):
                    exchange(channel).delete()

        # Ours: rows in a routing outbox (SQLite), published by OutboxRelay.relay_once().
        engine = make_engine("routing", f"sqlite:///{tmp}/r.db")
        Base.metadata.create_all(engine)
        factory = sessionmaker(engine, expire_on_commit=False)

        def insert(label: str, count: int) -> None:
            with session_scope(factory) as session:
                for i in range(count):
                    emit(session, OutboxMessage, event_type, {"case_no": case_no(label, i)})

        relay = OutboxRelay("routing", factory, OutboxMessage, bench_uri)
        try:
            insert("W", 1)  # warm-up: connects and declares, as a running worker already has
            if relay.relay_once() != 1:
                raise RuntimeError("the relay could not publish a warm-up event (see above)")
            t = time.perf_counter()
            insert("R", n)
            inserted = time.perf_counter() - t
            latencies: list[float] = []
            passes = 0
            sent = 0
            started = time.perf_counter()
            while sent < n:
                t = time.perf_counter()
                k = relay.relay_once()
                elapsed = time.perf_counter() - t
                if k == 0:
                    raise RuntimeError(f"a relay pass published nothing with {n - sent} pending")
                passes += 1
                sent += k
                latencies += [elapsed / k] * k  # each event: its pass's time per event
            total = time.perf_counter() - started
            pending = relay.pending()
        finally:
            relay.close()
            engine.dispose()
        if pending:
            raise RuntimeError(f"{pending} outbox rows still pending after the relay")
        ours = Result(
            f"OutboxRelay.relay_once ({passes} pass{'es' if passes != 1 else ''})",
            n,
            total,
            latencies,
            base,
            base.what,
        )
        section.results += [base, ours]

        consumer_queue = queue_name(
            "routing", "case_acknowledged", "intake", "on_case_acknowledged"
        )
        if isolated:
            section.notes.append(f"ran in a throwaway vhost; {consumer_queue} went with it")
        else:
            with kombu.Connection(bench_uri, connect_timeout=5) as conn:
                purged = conn.default_channel.queue_purge(consumer_queue)
            section.notes.append(
                f"no vhost of our own: purged {purged or 0} messages from {consumer_queue}"
            )
    section.notes.append(
        f"outbox p50/p99: per event, each event counted at its pass's time per event "
        f"(batches of {relay.batch_size}); inserting the {n} rows beforehand took "
        f"{inserted * 1000:.0f} ms and is not timed"
    )
    return section


# --- clock -----------------------------------------------------------------------------------


def bench_clock(n: int) -> Section:
    from services.common.calendar import WorkingCalendar
    from services.common.clock import SHANGHAI, compute_deadline

    section = Section("clock: compute_deadline vs start + timedelta(days=limit)")
    calendar = WorkingCalendar.load()
    year = 365 * 24 * 3600
    origin = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    starts = [origin + timedelta(seconds=i * year // n) for i in range(n)]
    variants = [
        ("15 calendar days", 15, "calendar_days", False),
        ("7 working days", 7, "working_days", False),
        ("60 calendar days, 10-day pause", 60, "calendar_days", True),
    ]
    clock = time.perf_counter
    for label, limit, unit, paused in variants:
        pauses = [
            (((d := s.astimezone(SHANGHAI).date()) + timedelta(days=5), d + timedelta(days=14)),)
            if paused
            else ()
            for s in starts
        ]
        days = timedelta(days=limit)

        def ours_call(i: int, limit=limit, unit=unit, pauses=pauses) -> None:
            compute_deadline(starts[i], limit, unit, calendar, pauses[i])

        def base_call(i: int, days=days) -> None:
            _ = starts[i] + days

        # A per-call timed pass (warm-up, and the percentiles), then a tight loop for the rate:
        # the timer would otherwise cost more than the baseline's whole call.
        _, ours_lat = run_sequential(ours_call, n)
        _, base_lat = run_sequential(base_call, n)
        t = clock()
        for s, p in zip(starts, pauses, strict=True):
            compute_deadline(s, limit, unit, calendar, p)
        ours_s = clock() - t
        t = clock()
        for s in starts:
            _ = s + days
        base_s = clock() - t
        base = Result(f"start + timedelta({limit} days)", n, base_s, base_lat)
        ours = Result(f"compute_deadline, {label}", n, ours_s, ours_lat, base, base.what)
        section.results += [base, ours]
    section.notes.append(
        "start instants spread evenly over 2026 (Asia/Shanghai); ops/s from an untimed tight "
        "loop, p50/p99 from a per-call timed pass"
    )
    return section


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Xiaobao benchmarks: figures against baselines measured in the same run."
    )
    parser.add_argument("--calls", type=int, default=2000, help="gRPC calls per measurement")
    parser.add_argument("--events", type=int, default=2000, help="outbox events per measurement")
    parser.add_argument("--quick", action="store_true", help="divide the counts by 10")
    parser.add_argument(
        "--only",
        choices=("grpc", "outbox", "clock", "portal", "intake-flow"),
        help="run one benchmark",
    )
    parser.add_argument("--serve-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.calls < 1 or args.events < 1:
        parser.error("--calls and --events must be at least 1")
    if args.quick:
        args.calls = max(10, args.calls // 10)
        args.events = max(10, args.events // 10)
    return args


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_echo is not None:
        serve_echo(args.serve_echo)
        return 0

    import grpc
    import kombu
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 120)
    signal.signal(signal.SIGTERM, _terminate)  # a kill runs the finally blocks too
    wanted = [args.only] if args.only else ["grpc", "outbox", "clock"]
    console.print(
        f"[bold]Xiaobao benchmarks[/bold] {datetime.now():%Y-%m-%d %H:%M}  "
        f"python {platform.python_version()}, grpcio {grpc.__version__}, "
        f"kombu {kombu.__version__}, {os.cpu_count()} cpus, {platform.machine()}"
        f"  calls={args.calls} events={args.events}{' (quick)' if args.quick else ''}",
        soft_wrap=True,
    )

    children = Children()
    failed: list[str] = []
    sections: list[Section] = []
    tmp_dir = tempfile.TemporaryDirectory(prefix="xiaobao-bench-")
    tmp = Path(tmp_dir.name)
    try:
        for name in wanted:
            try:
                (tmp / name).mkdir(exist_ok=True)
                if name == "grpc":
                    section = bench_grpc(args.calls, children, tmp / "grpc", console)
                elif name == "outbox":
                    from services.common import settings as settings_mod
                    from services.platform import BrokerUnreachable, check_broker

                    uri = settings_mod.load().amqp_uri or DEFAULT_AMQP_URI
                    try:
                        check_broker(uri)
                    except BrokerUnreachable as exc:
                        console.print(f"[red]outbox skipped:[/red] {exc}", soft_wrap=True)
                        failed.append("outbox (RabbitMQ unreachable)")
                        continue
                    section = bench_outbox(args.events, tmp / "outbox", uri, console)
                elif name == "portal":
                    from bench.routing_portal import Options, bench_portal

                    quick = Options(calls=args.calls, cases=500, streams=2)
                    opts = quick if args.quick else Options(calls=args.calls)
                    section = bench_portal(opts, children, tmp / name, console)
                elif name == "intake-flow":
                    from bench.intake import Options as FlowOptions
                    from bench.intake import bench_intake_flow

                    flow = FlowOptions.quick() if args.quick else FlowOptions()
                    section = bench_intake_flow(flow, children, tmp / name, console)
                else:
                    section = bench_clock(args.calls * 10)
            except Exception as exc:
                console.print(f"[red]{name} benchmark failed:[/red] {type(exc).__name__}: {exc}")
                console.print(f"[dim]{traceback.format_exc()}[/dim]")
                failed.append(name)
                continue
            sections.append(section)
            render(console, section)
    except (KeyboardInterrupt, SystemExit) as exc:
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 130
        console.print("[yellow]interrupted; stopping the child processes[/yellow]")
        return code
    finally:
        children.stop_all()
        tmp_dir.cleanup()

    console.print()
    console.print("[bold]Summary[/bold] (throughput relative to the baseline of the same run)")
    for section in sections:
        for r in section.results:
            if r.baseline is not None:
                console.print(f"{r.what}: {ratio_text(r.ratio)} of {r.baseline_name}")
    if failed:
        console.print(f"[red]not measured: {', '.join(failed)}[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
