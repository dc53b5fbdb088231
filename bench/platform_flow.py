"""(Run as bench/platform.py.) The whole platform end to end: cases submitted, assigned, answered and closed, per second.

    python bench/platform.py                      # 30 s per phase, 8 clients, 1 then 2 workers
    python bench/platform.py --quick              # 10 s per phase, 4 clients, 1 worker (CI smoke)
    python bench/platform.py --duration 60 --clients 16 --workers 2
    python bench/platform.py --json out.json      # the figures as JSON too ('-': stdout only)
    python bench/platform.py --profile /tmp/prof  # py-spy the hot processes while they run

The run gets a PostgreSQL database and a RabbitMQ vhost of its own (as the integration tests do;
dropped and deleted at the end), migrates, imports the demo directory and starts the ten real
processes (`services.platform.Platform`). Then, for each worker count (`--workers`):

1. **sustained**: `--clients` threads call intake's SubmitCase back to back, with at most
   `--inflight` cases open at once (submitted, not yet closed: the back-pressure that keeps the
   measure a steady state rather than a growing queue). Each institution follows its portal
   stream (`StreamAssignedCases`, follow) and answers every case assigned to it (`AnswerCase`);
   intake closes the case on the answer. Cases submitted, assigned and closed per second are
   counted over the steady window (the phase minus its first quarter).
2. **latency**: submissions paced open-loop at half the sustained closed/s, no in-flight cap;
   submit → assigned and submit → closed p50/p99, measured from each call's scheduled start.
3. Two workers per service: a second worker and a second api of every service (`add_worker`,
   `add_api`), clients and institutions spread over both apis, and 1-2 again.

Before the platform starts, on the same database server and broker, the raw ceilings: kombu
publish (persistent, publisher confirms) + consume (acked) messages/s, and psycopg INSERT + commit
transactions/s, from one and from `--clients` connections.

"Assigned" and "closed" are the arrivals of `routing.case_assigned` and `intake.case_closed` on
a queue of the bench's own (a listener child process): each is written in the same transaction as
the state it announces, so its arrival means that state is committed. Afterwards every case of the
run is checked in intake (ListCases: status CLOSED) and the check is printed.

Speed is never asserted: this prints figures. See docs/performance.md.
"""

from __future__ import annotations

import os
import sys

# `python bench/platform_flow.py` works without PYTHONPATH: the repo root and the generated protos.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen", "python"))  # fmt: skip
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import contextlib
import json
import platform as platform_mod
import queue
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.intake import (
    Arrivals,
    complaint,
    cpu_percent,
    cpu_snapshot,
    dead_letters,
    listen,
    log_summary,
    own_database,
    own_vhost,
    platform_env,
    xiaobao,
)
from bench.run import (
    DEFAULT_AMQP_URI,
    Children,
    Result,
    _terminate,
    child_env,
    free_port,
    run_guarded,
    wait_until,
)

SERVICES = ("intake", "routing", "mediation", "education", "blacklist")
ASSIGNED = "routing.case_assigned"
NEEDS_ROUTING = "routing.case_needs_routing"
CLOSED = "intake.case_closed"
LISTENED = (ASSIGNED, NEEDS_ROUTING, CLOSED)
# What py-spy samples with --profile: the processes that work on every case (the other apis
# barely work).
PROFILED = (
    "intake api",
    "intake worker",
    "routing worker",
    "routing api",
    "blacklist worker",
    "education worker",
    "mediation worker",
)


# --- options -------------------------------------------------------------------------------------


@dataclass
class Options:
    duration: float = 30.0
    clients: int = 8
    workers: tuple[int, ...] = (1, 2)
    inflight: int = 400
    answerers: int = 4
    messages: int = 2000
    inserts: int = 2000
    poll_seconds: float = 0.05
    drain_timeout: float = 120.0
    profile: str = ""
    keep_logs: bool = False
    quick: bool = False

    @classmethod
    def quick_run(cls) -> Options:
        return cls(
            duration=10.0,
            clients=4,
            workers=(1,),
            inflight=40,
            messages=300,
            inserts=300,
            quick=True,
        )


# --- figures -------------------------------------------------------------------------------------


def pct_ms(values: list[float], q: float) -> float:
    """Nearest-rank percentile in ms (as bench/run.py's Result)."""
    return Result("", len(values), 1.0, values).percentile_ms(q)


@dataclass
class Phase:
    label: str
    workers: int
    clients: int
    paced_rate: float = 0.0  # cases/s scheduled (latency phase); 0: as fast as the window allows
    start: float = 0.0  # wall clock
    end: float = 0.0
    calls: list[tuple[str, float, float]] = field(default_factory=list)  # case_no, start, seconds
    errors: Counter = field(default_factory=Counter)
    first_error: str = ""
    linked: int = 0
    schedule_lag_max: float = 0.0  # paced: how late the latest call started
    cpu: dict[str, float] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)


class Tracker:
    """Everything the bench's threads learn about the run's cases, and the in-flight window."""

    def __init__(self, listened: Path) -> None:
        self.lock = threading.Lock()
        self.window: threading.Semaphore | None = None
        self.holding: set[str] = set()  # cases holding a window slot until they close
        self.finished: set[str] = set()  # closed, or waiting for a person (never closes)
        self.seen: dict[str, float] = {}  # first seen ASSIGNED in its institution's stream
        self.answered: dict[str, float] = {}
        self.answer_errors: Counter = Counter()
        self.to_answer: queue.Queue = queue.Queue()
        self.arrivals = Arrivals(listened, on_event=self._on_event)

    def _on_event(self, event_type: str, case_no: str, _arrived: float) -> None:
        if event_type not in (CLOSED, NEEDS_ROUTING):
            return
        with self.lock:
            self.finished.add(case_no)
            if case_no in self.holding:
                self.holding.discard(case_no)
                if self.window is not None:
                    self.window.release()

    def hold(self, case_no: str) -> None:
        """A submitted case takes its window slot until it closes (it may have closed already)."""
        with self.lock:
            if case_no in self.finished:
                if self.window is not None:
                    self.window.release()
            else:
                self.holding.add(case_no)

    def open_window(self, size: int | None) -> None:
        with self.lock:
            self.window = threading.Semaphore(size) if size else None
            self.holding.clear()

    def on_seen(self, case_no: str, root: str) -> None:
        with self.lock:
            if case_no in self.seen:
                return
            self.seen[case_no] = time.time()
        self.to_answer.put((case_no, root))

    def closed(self) -> dict[str, float]:
        return self.arrivals.by_type.get(CLOSED, {})

    def assigned(self) -> dict[str, float]:
        return self.arrivals.by_type.get(ASSIGNED, {})


# --- the institutions: follow the portal stream, answer what is assigned ----------------------------


def answer_request(case_no: str):
    from xiaobao.routing.v1 import routing_pb2 as rpb

    contact = rpb.ContactRecord(method=rpb.CONTACT_METHOD_PHONE, staff_name="客服专员")
    contact.contacted_at.GetCurrentTime()
    return rpb.AnswerCaseRequest(
        case_no=case_no,
        outcome=rpb.ANSWER_OUTCOME_CLOSED_WITH_EXPLANATION,
        answer="经核实，已电话告知处理结果。",
        contact=contact,
    )


class Institutions:
    """One following stream per institution (head office) and a pool of answering threads."""

    def __init__(self, tracker: Tracker, roots: list[str], secret: str, answerers: int) -> None:
        from services.common import auth

        self.tracker = tracker
        self.roots = roots
        self.tokens = {
            r: auth.bearer(auth.issue_token(f"bench-{r}", "institution", r, secret=secret))
            for r in roots
        }
        self.answerers = answerers
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []
        self.calls: list = []
        self.portals: list = []  # one InstitutionPortal stub per routing api
        self.stream_errors: Counter = Counter()

    def set_apis(self, channels: list) -> None:
        from xiaobao.routing.v1 import routing_pb2_grpc

        self.portals = [routing_pb2_grpc.InstitutionPortalStub(c) for c in channels]

    def start(self) -> None:
        for i, root in enumerate(self.roots):
            t = threading.Thread(target=self._follow, args=(root, i), daemon=True)
            t.start()
            self.threads.append(t)
        for k in range(self.answerers):
            t = threading.Thread(target=self._answer, args=(k,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopped.set()
        for call in list(self.calls):
            with contextlib.suppress(Exception):
                call.cancel()
        for t in self.threads:
            t.join(5)

    def _follow(self, root: str, i: int) -> None:
        import grpc

        from xiaobao.routing.v1 import routing_pb2 as rpb

        cursor = ""
        while not self.stopped.is_set():
            portal = self.portals[i % len(self.portals)]  # re-read: a second api may be added
            call = portal.StreamAssignedCases(
                rpb.StreamAssignedCasesRequest(cursor=cursor, follow=True),
                metadata=self.tokens[root],
            )
            self.calls.append(call)
            try:
                for update in call:
                    cursor = update.cursor
                    a = update.assignment
                    if a.status == rpb.ASSIGNMENT_STATUS_ASSIGNED:
                        self.tracker.on_seen(a.case_no, root)
            except grpc.RpcError as exc:
                if self.stopped.is_set():
                    return
                self.stream_errors[exc.code().name] += 1
                time.sleep(0.2)
            finally:
                self.calls.remove(call)
            i += 1  # reconnect (the server ends a stream after a while) to the next api

    def _answer(self, k: int) -> None:
        import grpc

        while not self.stopped.is_set():
            try:
                case_no, root = self.tracker.to_answer.get(timeout=0.2)
            except queue.Empty:
                continue
            portal = self.portals[k % len(self.portals)]
            try:
                portal.AnswerCase(answer_request(case_no), metadata=self.tokens[root], timeout=30)
            except grpc.RpcError as exc:
                self.tracker.answer_errors[exc.code().name] += 1
                continue
            with self.tracker.lock:
                self.tracker.answered[case_no] = time.time()


# --- the clients ---------------------------------------------------------------------------------


def run_phase(
    phase: Phase,
    stubs: list,
    metadata,
    tracker: Tracker,
    seconds: float,
    tag: str,
    inflight: int,
) -> None:
    """`phase.clients` threads submit for `seconds`: back to back within the in-flight window,
    or, with `phase.paced_rate`, each case at its scheduled instant (open loop, no window)."""
    import grpc

    from xiaobao.intake.v1 import intake_pb2 as ipb

    paced = phase.paced_rate > 0
    tracker.open_window(None if paced else inflight)
    stop = threading.Event()
    gate = threading.Barrier(phase.clients + 1)
    lock = threading.Lock()
    per_client: list[list[tuple[str, float, float]]] = [[] for _ in range(phase.clients)]
    schedule = {"next": 0, "t0": 0.0, "wall0": 0.0}
    lag = [0.0]

    def next_slot() -> tuple[float, float] | None:
        with lock:
            i = schedule["next"]
            schedule["next"] += 1
        offset = i / phase.paced_rate
        if offset >= seconds:
            return None
        return schedule["t0"] + offset, schedule["wall0"] + offset

    def work(k: int) -> None:
        rng = random.Random(f"{tag}-{phase.label}-{k}")
        stub = stubs[k % len(stubs)]
        out = per_client[k]
        gate.wait()
        i = 0
        while not stop.is_set():
            if paced:
                slot = next_slot()
                if slot is None:
                    return
                delay = slot[0] - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    with lock:
                        lag[0] = max(lag[0], -delay)
                wall = slot[1]  # from the scheduled instant: a late call counts its wait
            else:
                if not tracker.window.acquire(timeout=0.2):
                    continue
                wall = time.time()
            request = complaint(rng, f"bench-{tag}-{phase.label}-{k}-{i}")
            i += 1
            t = time.perf_counter()
            try:
                reply = stub.SubmitCase(request, metadata=metadata, timeout=30)
            except grpc.RpcError as exc:
                with lock:
                    phase.errors[exc.code().name] += 1
                    phase.first_error = phase.first_error or f"{exc.code().name}: {exc.details()}"
                if not paced:
                    tracker.window.release()
                time.sleep(0.05)
                continue
            took = time.perf_counter() - t
            case_no = reply.case.case_no
            if reply.duplicate_request or reply.case.status != ipb.CASE_STATUS_RECEIVED:
                # Linked to an earlier case (a repeat without new facts): it never closes.
                with lock:
                    phase.linked += 1
                if not paced:
                    tracker.window.release()
                continue
            out.append((case_no, wall, took))
            if not paced:
                tracker.hold(case_no)

    pool = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(phase.clients)]
    for t in pool:
        t.start()
    gate.wait()
    schedule["t0"], schedule["wall0"] = time.perf_counter(), time.time()
    phase.start = schedule["wall0"]
    try:
        end = schedule["t0"] + seconds
        while time.perf_counter() < end:
            time.sleep(min(0.1, max(0.0, end - time.perf_counter())))
    finally:
        stop.set()
        # Nobody waits on a window that no longer matters.
        tracker.open_window(None)
    for t in pool:
        t.join()
    phase.end = phase.start + seconds
    phase.calls = sorted((c for out in per_client for c in out), key=lambda c: c[1])
    phase.schedule_lag_max = lag[0]


def drain(tracker: Tracker, phase: Phase, limit: float, check_alive) -> list[str]:
    """Until every case of the phase has closed (or waits for a person); the ones that did not."""
    wanted = [c for c, _, _ in phase.calls]
    deadline = time.monotonic() + limit
    while True:
        tracker.arrivals.poll()
        with tracker.lock:
            missing = [c for c in wanted if c not in tracker.finished]
        if not missing or time.monotonic() > deadline:
            return missing
        check_alive()
        time.sleep(0.1)


def phase_figures(phase: Phase, tracker: Tracker, seconds: float, skip: float) -> dict:
    """Rates over the steady window (the phase minus its first `skip` seconds) and latencies."""
    lo, hi = phase.start + skip, phase.end
    span = hi - lo
    ours = {c: s for c, s, _ in phase.calls}
    assigned, closed = tracker.assigned(), tracker.closed()
    needs = tracker.arrivals.by_type.get(NEEDS_ROUTING, {})

    def rate(instants) -> float:
        return sum(1 for t in instants if lo <= t <= hi) / span if span > 0 else 0.0

    to_assigned = [assigned[c] - s for c, s in ours.items() if c in assigned]
    to_seen = [tracker.seen[c] - s for c, s in ours.items() if c in tracker.seen]
    to_closed = [closed[c] - s for c, s in ours.items() if c in closed]
    # Where the time after the assignment goes: the stream's poll, the answer, intake closing.
    answered = tracker.answered
    seen_to_answered = [answered[c] - tracker.seen[c] for c in ours if c in answered]
    answered_to_closed = [closed[c] - answered[c] for c in ours if c in closed and c in answered]
    assigned_to_seen = [
        tracker.seen[c] - assigned[c] for c in ours if c in tracker.seen and c in assigned
    ]
    calls = [took for _, _, took in phase.calls]
    return {
        "label": phase.label,
        "workers": phase.workers,
        "clients": phase.clients,
        "seconds": seconds,
        "steady_window_seconds": span,
        "paced_rate": phase.paced_rate,
        "submitted": len(phase.calls),
        "submitted_per_s": rate(ours.values()),
        "assigned_per_s": rate(assigned[c] for c in ours if c in assigned),
        "closed_per_s": rate(closed[c] for c in ours if c in closed),
        "assigned": len(to_assigned),
        "closed": len(to_closed),
        "needs_routing": sum(1 for c in ours if c in needs),
        "linked": phase.linked,
        "errors": dict(phase.errors),
        "first_error": phase.first_error,
        "submit_call_ms": {"p50": pct_ms(calls, 0.5), "p99": pct_ms(calls, 0.99)},
        "submit_to_assigned_ms": {
            "p50": pct_ms(to_assigned, 0.5),
            "p99": pct_ms(to_assigned, 0.99),
        },
        "submit_to_seen_in_portal_ms": {
            "p50": pct_ms(to_seen, 0.5),
            "p99": pct_ms(to_seen, 0.99),
        },
        "submit_to_closed_ms": {"p50": pct_ms(to_closed, 0.5), "p99": pct_ms(to_closed, 0.99)},
        "stages_ms": {
            "assigned_event_to_seen_in_stream": _p(assigned_to_seen),
            "seen_to_answer_returned": _p(seen_to_answered),
            "answer_returned_to_closed_event": _p(answered_to_closed),
        },
        "schedule_lag_max_ms": phase.schedule_lag_max * 1000,
        "cpu_percent_of_one_core": {k: round(v, 1) for k, v in phase.cpu.items()},
    }


def _p(values: list[float]) -> dict:
    return {"p50": pct_ms(values, 0.5), "p99": pct_ms(values, 0.99)}


# --- the raw ceilings ----------------------------------------------------------------------------


def rabbit_ceiling(uri: str, n: int, body: dict) -> dict:
    """kombu: n persistent messages published one at a time with publisher confirms, while a
    consumer on its own connection receives and acks them; msgs/s from the first publish to the
    last ack, and the publish-only rate."""
    import kombu

    tag = secrets.token_hex(4)
    exchange = kombu.Exchange(f"xiaobao-bench-{tag}", type="topic", durable=True, auto_delete=False)
    q = kombu.Queue(f"xiaobao-bench-{tag}", exchange=exchange, routing_key="bench", durable=True)
    got = threading.Event()
    count = [0]
    last = [0.0]

    def on_message(_body, message) -> None:
        message.ack()
        count[0] += 1
        if count[0] >= n:
            last[0] = time.perf_counter()
            got.set()

    with (
        kombu.Connection(uri, transport_options={"confirm_publish": True}) as pub,
        kombu.Connection(uri) as sub,
    ):
        channel = pub.channel()
        q(channel).declare()
        try:
            consumer_channel = sub.channel()
            consumer_channel.basic_qos(0, 200, False)
            stop = threading.Event()

            def consume() -> None:
                with kombu.Consumer(consumer_channel, [q], callbacks=[on_message], accept=["json"]):
                    while not stop.is_set() and not got.is_set():
                        with contextlib.suppress(TimeoutError, OSError):
                            sub.drain_events(timeout=0.2)

            consumer = threading.Thread(target=consume, daemon=True)
            consumer.start()
            producer = kombu.Producer(channel)
            started = time.perf_counter()
            for i in range(n):
                producer.publish(
                    {**body, "event_id": f"{tag}{i:08d}"},
                    exchange=exchange,
                    routing_key="bench",
                    serializer="json",
                    delivery_mode=2,
                )
            published = time.perf_counter() - started
            got.wait(60)
            stop.set()
            consumer.join(5)
            total = (last[0] or time.perf_counter()) - started
        finally:
            with contextlib.suppress(Exception):
                q(channel).delete()
            with contextlib.suppress(Exception):
                exchange(channel).delete()
    return {
        "messages": n,
        "received": count[0],
        "publish_per_s": n / published if published else 0.0,
        "publish_consume_per_s": count[0] / total if total else 0.0,
    }


def postgres_ceiling(url: str, n: int, connections: int) -> dict:
    """psycopg: n transactions, each a single-row INSERT of a ~1 KB row and its commit, from one
    connection, then from `connections` connections at once; then the same from `connections`
    connections with each transaction also incrementing one shared counter row first, as routing's
    feed counter does (its row lock serialises the transactions up to their commits)."""
    import psycopg

    payload = json.dumps({"summary": "保险销售误导" * 40})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, body jsonb, at timestamptz)"
        )
        conn.execute("CREATE TABLE bench_counter (id int PRIMARY KEY, value bigint)")
        conn.execute("INSERT INTO bench_counter VALUES (1, 0)")
    try:

        def insert(conn, counter: bool = False) -> None:
            with conn.transaction():
                if counter:
                    conn.execute(
                        "UPDATE bench_counter SET value = value + 1 WHERE id = 1 RETURNING value",
                        prepare=True,
                    )
                conn.execute(
                    "INSERT INTO bench_ceiling (body, at) VALUES (%s, now())",
                    (payload,),
                    prepare=True,
                )

        out: dict = {"transactions": n}
        with psycopg.connect(url, autocommit=True) as conn:
            insert(conn)
            started = time.perf_counter()
            for _ in range(n):
                insert(conn)
            out["one_connection_per_s"] = n / (time.perf_counter() - started)

        def concurrently(counter: bool) -> float:
            def worker(k: int, gate: threading.Barrier) -> None:
                with psycopg.connect(url, autocommit=True) as conn:
                    insert(conn)
                    gate.wait()
                    for _ in range(k, n, connections):
                        insert(conn, counter)

            gate = threading.Barrier(connections + 1)
            pool = [
                threading.Thread(target=worker, args=(k, gate), daemon=True)
                for k in range(connections)
            ]
            for t in pool:
                t.start()
            gate.wait()
            started = time.perf_counter()
            for t in pool:
                t.join()
            return n / (time.perf_counter() - started)

        out[f"{connections}_connections_per_s"] = concurrently(False)
        out[f"{connections}_connections_one_shared_counter_per_s"] = concurrently(True)
        return out
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_ceiling")
            conn.execute("DROP TABLE IF EXISTS bench_counter")


# --- replicas --------------------------------------------------------------------------------------


def add_replicas(plat, cfg, replica: int) -> dict[str, str]:
    """A second worker and api of every service; returns service -> the new api's address."""
    addresses = {}
    for service in SERVICES:
        upper = service.upper()
        plat.add_worker(
            service, replica, {f"XIAOBAO_{upper}_WORKER_METRICS_PORT": str(free_port())}
        )
        port = free_port()
        env = {
            f"XIAOBAO_{upper}_GRPC_PORT": str(port),
            f"XIAOBAO_{upper}_METRICS_PORT": str(free_port()),
        }
        if service == "intake":
            env["XIAOBAO_INTAKE_HTTP_PORT"] = str(free_port())
        plat.add_api(service, replica, env)
        addresses[service] = f"127.0.0.1:{port}"
    return addresses


def wait_replicas(plat, cfg, addresses: dict[str, str], consumers: int, timeout: float) -> None:
    import grpc
    import kombu
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from services.common import messaging

    deadline = time.monotonic() + timeout
    wanted = [q for s in SERVICES for q in messaging.consumer_queue_names(s)]
    with kombu.Connection(cfg.amqp_uri) as conn:
        while True:
            plat._check_alive()
            short = []
            for name in wanted:
                _, _, have = conn.default_channel.queue_declare(name, passive=True)
                if have < consumers:
                    short.append(name)
            if not short:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues without {consumers} consumers: {short}")
            time.sleep(0.3)
    for service, address in addresses.items():
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                plat._check_alive()
                try:
                    got = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if got.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} api at {address} not serving")
                time.sleep(0.2)


def _idle_line(cpu: dict[str, float], seconds: float) -> str:
    cpu = dict(cpu)
    host = cpu.pop("host", 0.0)
    ours = sum(v for k, v in cpu.items() if k not in ("postgres", "rabbitmq"))
    top = ", ".join(f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])[:6])
    return (
        f"{seconds:g} s with no case submitted: CPU % of one core: the ten processes {ours:.0f} "
        f"({top}); host {host:.0f} of {(os.cpu_count() or 1) * 100}"
    )


def cpu_ms_per_case(fig: dict, idle: dict[str, float]) -> tuple[float, float]:
    """The host's CPU ms per closed case in a phase, all of it and above the idle host's."""
    rate = fig["closed_per_s"]
    host = fig["cpu_percent_of_one_core"].get("host", 0.0)
    if rate <= 0:
        return float("nan"), float("nan")
    return host * 10 / rate, max(0.0, host - idle.get("host", 0.0)) * 10 / rate


# --- profiles (py-spy) -----------------------------------------------------------------------------


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def start_profiles(watched: dict[str, int], out_dir: Path, seconds: float, label: str) -> list:
    exe = py_spy()
    if exe is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for name in PROFILED:
        pid = watched.get(name)
        if pid is None:
            continue
        path = out_dir / f"{label}-{name.replace(' ', '-')}.txt"
        argv = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds)))]
        argv += ["--rate", "50", "--nonblocking", "--format", "raw", "--output", str(path)]
        procs.append(
            (
                name,
                path,
                subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            )
        )
    return procs


def summarize_profile(path: Path, top: int = 12) -> list[str]:
    """The functions with the largest share of samples in which they run (inclusive), from
    py-spy's collapsed stacks, the eventlet hub's idle wait and thread idling left out."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    if not path.exists():
        return [f"  (no profile at {path})"]
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        leaf = frames[-1]
        if any(
            w in leaf
            for w in (
                "hubs/epolls.py",
                "hubs/poll.py",
                "wait (threading.py",
                "select (selectors.py",
            )
        ):
            continue  # idle
        total += n
        own[_short(leaf)] += n
        for name in {_short(f) for f in frames}:
            inclusive[name] += n
    if not total:
        return ["  (no busy samples)"]
    lines = [f"  {total} busy samples; inclusive share (self share):"]
    ours = [(k, v) for k, v in inclusive.most_common() if "services/" in k or "bench/" in k]
    for name, n in ours[:top]:
        lines.append(f"  {n / total:6.1%} ({own.get(name, 0) / total:5.1%})  {name}")
    lines.append("  heaviest leaves:")
    for name, n in own.most_common(8):
        lines.append(f"  {n / total:6.1%}  {name}")
    return lines


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (file path from services/ or site-packages/)"
    func, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("/services/", "/site-packages/", "/bench/", "/lib/python"):
        if marker in path:
            path = marker.strip("/") + "/" + path.split(marker, 1)[1]
            break
    return f"{func} ({path})"


# --- the run ---------------------------------------------------------------------------------------


def roots_for_mix(cfg, staff) -> list[str]:
    """The head offices the bench's complaints resolve to (one stream each)."""
    import grpc

    from bench.intake import MIX
    from xiaobao.routing.v1 import routing_pb2 as rpb
    from xiaobao.routing.v1 import routing_pb2_grpc

    with grpc.insecure_channel(cfg.service("routing").address) as channel:
        directory = routing_pb2_grpc.DirectoryServiceStub(channel)
        nodes = {n.id: n for n in directory.ListNodes(rpb.ListNodesRequest(), metadata=staff).nodes}
        roots = []
        for text, region, product in MIX:
            got = directory.Resolve(
                rpb.ResolveRequest(text=text, region_code=region, product=product), metadata=staff
            )
            node = got.node.id
            while nodes.get(node) is not None and nodes[node].parent_id:
                node = nodes[node].parent_id
            if node and node not in roots:
                roots.append(node)
    return roots


def verify_closed(stub, staff, numbers: set[str]) -> dict:
    """Every case of the run as intake has it now (ListCases of CLOSED cases, paged)."""
    from xiaobao.intake.v1 import intake_pb2 as ipb

    found = 0
    token = ""
    while True:
        page = stub.ListCases(
            ipb.ListCasesRequest(status=ipb.CASE_STATUS_CLOSED, page_size=500, page_token=token),
            metadata=staff,
            timeout=60,
        )
        found += sum(1 for c in page.cases if c.case_no in numbers and c.HasField("closed_at"))
        token = page.next_page_token
        if not token:
            break
    return {"cases": len(numbers), "closed_in_intake": found}


class Connections:
    """Peak PostgreSQL connections while a phase runs: the run's database, and the server's.

    Each process's engine may hold up to 10 (pool 5 + overflow 5), so the platform alone can
    use ~100 with one worker per service and ~200 with two, against the server's
    max_connections (100 by default): past it, handlers wait and retry ("database unavailable").
    """

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.max = int(self.conn.execute("SHOW max_connections").fetchone()[0])
        self.peak_ours = self.peak_all = 0
        self.refused = 0  # samples at which the server was full
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(0.5):
            with contextlib.suppress(Exception):
                ours, total = self.conn.execute(
                    "SELECT count(*) FILTER (WHERE datname = current_database()), count(*) "
                    "FROM pg_stat_activity WHERE backend_type = 'client backend'"
                ).fetchone()
                self.peak_ours = max(self.peak_ours, ours)
                self.peak_all = max(self.peak_all, total)
                if total >= self.max - 3:  # superuser_reserved_connections
                    self.refused += 1

    def take(self) -> dict:
        out = {
            "peak_this_run": self.peak_ours,
            "peak_server": self.peak_all,
            "max_connections": self.max,
            "samples_at_the_limit": self.refused,
        }
        self.peak_ours = self.peak_all = self.refused = 0
        return out

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(2)
        self.conn.close()


def bench_platform(opts: Options, children: Children, tmp: Path, say) -> dict:
    import grpc
    import kombu

    from services.common import auth
    from services.common import settings as settings_mod
    from services.platform import Platform, check_broker
    from xiaobao.intake.v1 import intake_pb2_grpc

    report: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "arch": platform_mod.machine(),
            "python": platform_mod.python_version(),
            "grpcio": grpc.__version__,
            "kombu": kombu.__version__,
            "load_average_at_start": list(os.getloadavg()),
        },
        "options": asdict(opts),
        "phases": [],
    }
    tag = secrets.token_hex(3)
    base_uri = os.environ.get("XIAOBAO_AMQP_URI") or DEFAULT_AMQP_URI
    check_broker(base_uri)
    log_dir = tmp / "logs"
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(own_database(_Console(say)))
        amqp_uri = stack.enter_context(own_vhost(base_uri, _Console(say)))
        check_broker(amqp_uri)
        env = platform_env(database_url, amqp_uri, tmp / "data", opts)
        cfg = settings_mod.load({**os.environ, **env})

        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            report["machine"]["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        say(f"ceilings: {opts.messages:,} kombu publish+consume, {opts.inserts:,} INSERT+commit")
        sample = {"event_id": "", "type": "intake.case_received", "payload": {"x": "y" * 800}}
        report["rabbitmq"] = rabbit_ceiling(amqp_uri, opts.messages, sample)
        report["postgresql"] = postgres_ceiling(database_url, opts.inserts, opts.clients)
        say(f"  rabbitmq {_fmt(report['rabbitmq'])}")
        say(f"  postgresql {_fmt(report['postgresql'])}")

        say("xiaobao db upgrade all; xiaobao routing import-directory")
        xiaobao(env, "db", "upgrade", "all")
        xiaobao(env, "routing", "import-directory")
        plat = Platform(env=env, log_dir=log_dir)
        stack.callback(plat.stop)
        started = time.monotonic()
        plat.start()
        say(f"the ten processes are up ({time.monotonic() - started:.1f} s)")
        connections = Connections(database_url)
        stack.callback(connections.close)
        wanted = 10 * len(SERVICES) * max(opts.workers) * 2 + 10
        if connections.max < wanted:
            say(
                f"[yellow]PostgreSQL max_connections is {connections.max}; the platform's "
                f"processes may open up to ~{wanted - 10}: handlers will wait and retry when it "
                "is full, which the figures then include (raise max_connections for a clean "
                "run)[/yellow]"
            )

        listened = tmp / "listener.jsonl"
        listener = children.spawn(
            [sys.executable, str(Path(__file__).resolve()), "--listen", str(listened)],
            child_env({"XIAOBAO_AMQP_URI": amqp_uri}),
            tmp / "listener.log",
        )
        stack.callback(children.stop, listener)
        tracker = Tracker(listened)

        def listener_ready() -> bool:
            tracker.arrivals.poll()
            return tracker.arrivals.ready

        wait_until(listener_ready, listener, children, "event listener")
        stop_polling = threading.Event()

        def poll_arrivals() -> None:
            while not stop_polling.is_set():
                with contextlib.suppress(Exception):
                    tracker.arrivals.poll()
                time.sleep(0.02)

        poller = threading.Thread(target=poll_arrivals, daemon=True)
        stack.callback(poller.join, 2)
        stack.callback(stop_polling.set)

        def check_alive() -> None:
            plat._check_alive()
            if listener.poll() is not None:
                raise RuntimeError("the event listener exited:\n" + children.log_tail(listener))

        staff = auth.bearer(auth.issue_token("bench-platform", "operator", secret=cfg.auth_secret))
        intake_addresses = [cfg.service("intake").address]
        routing_addresses = [cfg.service("routing").address]
        channels: dict[str, grpc.Channel] = {}

        def channel(address: str) -> grpc.Channel:
            if address not in channels:
                channels[address] = stack.enter_context(grpc.insecure_channel(address))
            return channels[address]

        roots = roots_for_mix(cfg, staff)
        say(f"institutions answering: {', '.join(roots)} (one following stream each)")
        institutions = Institutions(tracker, roots, cfg.auth_secret, opts.answerers)
        institutions.set_apis([channel(a) for a in routing_addresses])

        # Warm-up: every process has connected, declared and served its first calls; the
        # stream has caught up. Its cases are left out of every figure.
        poller.start()
        institutions.start()
        stack.callback(institutions.stop)
        warm = Phase("warm-up", 1, 2)
        run_phase(
            warm,
            [intake_pb2_grpc.IntakeServiceStub(channel(intake_addresses[0]))],
            staff,
            tracker,
            3.0 if opts.quick else 5.0,
            tag,
            20,
        )
        missing = drain(tracker, warm, 60.0, check_alive)
        if missing or not warm.calls:
            raise RuntimeError(
                f"warm-up: {len(missing)} of {len(warm.calls)} cases did not close within 60 s "
                f"(answer errors {dict(tracker.answer_errors)}, stream errors "
                f"{dict(institutions.stream_errors)}); logs in {log_dir}"
            )
        say(f"warm-up: {len(warm.calls)} cases submitted, assigned, answered and closed")

        # Idle: what the ten processes cost with nothing to do but their relays' polls, the
        # institutions' streams and the timers; every phase's CPU per case is read against it.
        idle_watched = {f"{p.service} {p.role}": p.popen.pid for p in plat.processes}
        idle_seconds = min(5.0, opts.duration / 2)
        cpu0, t0 = cpu_snapshot(idle_watched), time.monotonic()
        time.sleep(idle_seconds)
        report["idle_cpu_percent_of_one_core"] = {
            k: round(v, 1)
            for k, v in cpu_percent(cpu0, cpu_snapshot(idle_watched), time.monotonic() - t0).items()
        }
        say("idle, " + _idle_line(report["idle_cpu_percent_of_one_core"], idle_seconds))

        numbers: set[str] = set()
        skip = opts.duration / 4
        for workers in opts.workers:
            if workers == 2:
                say("adding a second worker and a second api of every service")
                added = add_replicas(plat, cfg, 2)
                wait_replicas(plat, cfg, added, 2, 90.0)
                intake_addresses.append(added["intake"])
                routing_addresses.append(added["routing"])
                institutions.set_apis([channel(a) for a in routing_addresses])
            stubs = [intake_pb2_grpc.IntakeServiceStub(channel(a)) for a in intake_addresses]
            watched = {}
            replica_seen: Counter = Counter()
            for p in plat.processes:
                replica_seen[(p.service, p.role)] += 1
                n = replica_seen[(p.service, p.role)]
                watched[f"{p.service} {p.role}" + (f" {n}" if n > 1 else "")] = p.popen.pid
            watched["bench"] = os.getpid()
            watched["bench listener"] = listener.pid

            sustained = Phase(f"sustained, {workers} worker(s)", workers, opts.clients)
            say(
                f"{sustained.label}: {opts.clients} clients, at most {opts.inflight} cases open, "
                f"{opts.duration:g} s"
            )
            profiles = []
            if opts.profile:
                profiles = start_profiles(
                    watched, Path(opts.profile), opts.duration, f"workers{workers}"
                )
            connections.take()
            cpu0, t0 = cpu_snapshot(watched), time.monotonic()
            run_phase(sustained, stubs, staff, tracker, opts.duration, tag, opts.inflight)
            sustained.cpu = cpu_percent(cpu0, cpu_snapshot(watched), time.monotonic() - t0)
            missing = drain(tracker, sustained, opts.drain_timeout, check_alive)
            fig = phase_figures(sustained, tracker, opts.duration, skip)
            fig["not_closed"] = len(missing)
            fig["postgresql_connections"] = connections.take()
            report["phases"].append(fig)
            say("  " + _phase_line(fig))
            for name, path, proc in profiles:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(30)
                say(f"  profile of the {name} ({path}):")
                for line in summarize_profile(path):
                    say("  " + line)

            rate = fig["closed_per_s"] / 2
            if rate <= 0:
                say("  no case closed in the steady window: no latency phase")
                continue
            paced = Phase(f"latency at {rate:.0f}/s, {workers} worker(s)", workers, opts.clients)
            paced.paced_rate = rate
            say(f"{paced.label}: open loop, half the sustained closed/s, {opts.duration:g} s")
            connections.take()
            cpu0, t0 = cpu_snapshot(watched), time.monotonic()
            run_phase(paced, stubs, staff, tracker, opts.duration, tag, 0)
            paced.cpu = cpu_percent(cpu0, cpu_snapshot(watched), time.monotonic() - t0)
            missing = drain(tracker, paced, opts.drain_timeout, check_alive)
            fig = phase_figures(paced, tracker, opts.duration, skip)
            fig["not_closed"] = len(missing)
            fig["postgresql_connections"] = connections.take()
            report["phases"].append(fig)
            say("  " + _phase_line(fig))
            numbers |= {c for c, _, _ in sustained.calls} | {c for c, _, _ in paced.calls}

        report["check"] = verify_closed(
            intake_pb2_grpc.IntakeServiceStub(channel(intake_addresses[0])), staff, numbers
        )
        report["check"]["answer_errors"] = dict(tracker.answer_errors)
        report["check"]["stream_errors"] = dict(institutions.stream_errors)
        report["check"]["dead_letters"] = dead_letters(amqp_uri)
        report["check"]["logs"] = log_summary(log_dir)
        report["machine"]["load_average_at_end"] = list(os.getloadavg())
        if opts.keep_logs:
            kept = Path(tempfile.mkdtemp(prefix="xiaobao-bench-platform-logs-"))
            for log in log_dir.glob("*.log"):
                shutil.copy2(log, kept / log.name)
            report["logs_kept_in"] = str(kept)
    return report


class _Console:
    """What bench/intake.py's helpers print through (they want a rich console's print)."""

    def __init__(self, say) -> None:
        self.say = say

    def print(self, text: str, **_kw) -> None:
        self.say(text)


def _fmt(d: dict) -> str:
    return ", ".join(f"{k} {v:,.0f}" if isinstance(v, float) else f"{k} {v}" for k, v in d.items())


def _phase_line(f: dict) -> str:
    line = (
        f"{f['label']}: submitted {f['submitted_per_s']:,.1f}/s, assigned "
        f"{f['assigned_per_s']:,.1f}/s, closed {f['closed_per_s']:,.1f}/s over the steady "
        f"{f['steady_window_seconds']:.1f} s; submit→assigned p50/p99 "
        f"{f['submit_to_assigned_ms']['p50']:,.0f}/{f['submit_to_assigned_ms']['p99']:,.0f} ms, "
        f"submit→closed {f['submit_to_closed_ms']['p50']:,.0f}/"
        f"{f['submit_to_closed_ms']['p99']:,.0f} ms; {f['submitted']:,} cases, "
        f"{f['closed']:,} closed, {f['not_closed']} not closed"
    )
    if f["errors"]:
        line += f"; errors {f['errors']} (first: {f['first_error']})"
    if f["linked"]:
        line += f"; {f['linked']} linked as repeats"
    return line


def render(report: dict, console) -> None:
    from rich.table import Table

    m = report["machine"]
    console.print(
        f"[bold]Xiaobao platform benchmark[/bold] {report['when']}  {m['cpus']} cpus "
        f"{m['arch']}, python {m['python']}, grpcio {m['grpcio']}, kombu {m['kombu']}, "
        f"PostgreSQL {m.get('postgresql', '?')}; load average at start "
        f"{m['load_average_at_start'][0]:.2f}, at end {m.get('load_average_at_end', [0])[0]:.2f}",
        soft_wrap=True,
    )
    rb, pg = report["rabbitmq"], report["postgresql"]
    ceilings = Table(title="raw ceilings on this machine", title_justify="left")
    ceilings.add_column("what")
    ceilings.add_column("per second", justify="right")
    ceilings.add_row(
        "RabbitMQ publish (persistent, confirms), one publisher", f"{rb['publish_per_s']:,.0f}"
    )
    ceilings.add_row(
        "RabbitMQ publish + consume (acked), first publish → last ack",
        f"{rb['publish_consume_per_s']:,.0f}",
    )
    for key, value in pg.items():
        if key.endswith("_per_s"):
            who = key.removesuffix("_per_s").replace("_", " ")
            ceilings.add_row(f"PostgreSQL INSERT + commit, {who}", f"{value:,.0f}")
    console.print(ceilings)
    table = Table(title="the platform end to end (steady window)", title_justify="left")
    for col in ("phase", "submitted/s", "assigned/s", "closed/s", "call p50/p99 ms", "→assigned p50/p99 ms", "→closed p50/p99 ms", "cases", "not closed"):  # fmt: skip
        table.add_column(col, justify="left" if col == "phase" else "right")
    for f in report["phases"]:
        table.add_row(
            f["label"],
            f"{f['submitted_per_s']:,.1f}",
            f"{f['assigned_per_s']:,.1f}",
            f"{f['closed_per_s']:,.1f}",
            f"{f['submit_call_ms']['p50']:,.1f}/{f['submit_call_ms']['p99']:,.0f}",
            f"{f['submit_to_assigned_ms']['p50']:,.0f}/{f['submit_to_assigned_ms']['p99']:,.0f}",
            f"{f['submit_to_closed_ms']['p50']:,.0f}/{f['submit_to_closed_ms']['p99']:,.0f}",
            f"{f['submitted']:,}",
            str(f["not_closed"]),
        )
    console.print(table)
    for f in report["phases"]:
        cpu = dict(f["cpu_percent_of_one_core"])
        host = cpu.pop("host", None)
        top = ", ".join(f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])[:8])
        st = f.get("stages_ms", {})
        console.print(
            "  [dim]"
            + f"{f['label']}: after the assignment, p50/p99 ms: "
            + "; ".join(
                f"{k.replace('_', ' ')} {v['p50']:,.0f}/{v['p99']:,.0f}" for k, v in st.items()
            )
            + "[/dim]",
            soft_wrap=True,
        )
        pg = f.get("postgresql_connections", {})
        total, above_idle = cpu_ms_per_case(f, report.get("idle_cpu_percent_of_one_core", {}))
        console.print(
            f"  [dim]{f['label']}: host CPU per closed case {total:.0f} ms, {above_idle:.0f} ms "
            "above idle[/dim]",
            soft_wrap=True,
        )
        console.print(
            f"  [dim]{f['label']}: CPU % of one core: {top}; host {host or 0:.0f} of "
            f"{(os.cpu_count() or 1) * 100}; PostgreSQL connections at most "
            f"{pg.get('peak_this_run')} of this run, {pg.get('peak_server')} on the server "
            f"(max_connections {pg.get('max_connections')}, "
            f"{pg.get('samples_at_the_limit')} samples at the limit)[/dim]",
            soft_wrap=True,
        )
    check = report.get("check", {})
    console.print(
        f"  [dim]check: {check.get('closed_in_intake')} of {check.get('cases')} measured cases "
        f"CLOSED in intake (ListCases); answer errors {check.get('answer_errors')}; stream "
        f"errors {check.get('stream_errors')}; dead letters {check.get('dead_letters')}; "
        f"{check.get('logs')}[/dim]",
        soft_wrap=True,
    )


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Cases through the whole platform: submitted, assigned, answered, closed."
    )
    parser.add_argument("--duration", type=float, help="seconds per phase (default 30; quick 5)")
    parser.add_argument("--clients", type=int, help="client threads (default 8; quick 4)")
    parser.add_argument(
        "--workers",
        choices=("1", "2", "1,2"),
        help="workers (and apis) per service: 1, 2, or 1 then 2 (default 1,2; quick 1)",
    )
    parser.add_argument("--inflight", type=int, help="cases open at once (400; quick 40)")
    parser.add_argument("--answerers", type=int, default=4, help="answering threads (4)")
    parser.add_argument("--quick", action="store_true", help="a short run (CI smoke)")
    parser.add_argument(
        "--json", nargs="?", const="-", metavar="PATH", help="write the figures as JSON ('-')"
    )
    parser.add_argument(
        "--poll-seconds", type=float, default=0.05, help="XIAOBAO_OUTBOX_POLL_SECONDS (0.05)"
    )
    parser.add_argument("--profile", metavar="DIR", help="py-spy the hot processes (sustained)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--listen", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clients is not None and args.clients < 1:
        parser.error("--clients must be at least 1")
    if args.duration is not None and args.duration <= 0:
        parser.error("--duration must be positive")
    return args


def options(args: argparse.Namespace) -> Options:
    opts = Options.quick_run() if args.quick else Options()
    if args.duration is not None:
        opts.duration = args.duration
    if args.clients is not None:
        opts.clients = args.clients
    if args.workers is not None:
        opts.workers = tuple(int(w) for w in args.workers.split(","))
    if args.inflight is not None:
        opts.inflight = args.inflight
    opts.answerers = args.answerers
    opts.poll_seconds = args.poll_seconds
    opts.profile = args.profile or ""
    opts.keep_logs = args.keep_logs
    return opts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.listen:
        listen(args.listen, LISTENED)
        return 0

    from rich.console import Console

    to_stdout = args.json == "-"
    console = Console(
        stderr=to_stdout, width=None if (sys.stderr if to_stdout else sys.stdout).isatty() else 140
    )
    signal.signal(signal.SIGTERM, _terminate)  # a kill runs the finally blocks too
    signal.signal(signal.SIGINT, signal.default_int_handler)
    opts = options(args)

    def say(text: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}", soft_wrap=True)

    report, code = run_guarded(
        console, "platform", lambda children, tmp: bench_platform(opts, children, tmp, say)
    )
    if code is not None:
        return code
    render(report, console)
    if args.json:
        text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
        if to_stdout:
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text + "\n", encoding="utf-8")
            console.print(f"figures written to {args.json}")
    check = report.get("check", {})
    return 0 if check.get("closed_in_intake") == check.get("cases") else 1


if __name__ == "__main__":
    sys.exit(main())
