"""Sustained SubmitCase through the real platform: calls/s and submit→assigned latency.

    python bench/intake.py                    # 30 s sequential, then 30 s from 4 callers
    python bench/intake.py --quick            # 5 s each, a smaller baseline
    python bench/intake.py --seconds 60 --threads 8
    python bench/run.py --only intake-flow    # the same, inside the main harness

The run gets a PostgreSQL database and a RabbitMQ vhost of its own (dropped and deleted at the
end), migrates, imports the demo directory and starts the ten processes (`Platform`). It then
measures, in the same run and on the same vhost:

- the bare kombu publish with publisher confirms of persistent `intake.case_received`-sized
  messages (the baseline: what one confirmed message costs on this broker);
- SubmitCase from one caller, then from N callers, each for S seconds, as fast as they go;
- for every submitted case, the time from its SubmitCase call's start to the arrival of its
  `routing.case_assigned` event on a queue of the bench's own (bound to `routing.events` in a
  listener child process), and where that time went, from the timestamps the services stored
  (outbox rows written and sent, the assignment, intake's processed-event marker).

Speed is never asserted: this prints figures next to their baseline. See bench/README.md.
"""

from __future__ import annotations

import os
import sys

# `python bench/intake.py` works without PYTHONPATH: the repo root and the generated protos.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen", "python"))  # fmt: skip
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import contextlib
import itertools
import json
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bench.routing_portal import GIVEN, SUMMARIES, SURNAMES
from bench.run import (
    DEFAULT_AMQP_URI,
    ROOT,
    Children,
    Result,
    Section,
    _terminate,
    _with_vhost,
    child_env,
    ratio_text,
    render,
    run_guarded,
    run_sequential,
    wait_until,
)

PG_ADMIN_URL = os.environ.get(
    "XIAOBAO_BENCH_PG_URL",
    os.environ.get("XIAOBAO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
SERVICES = ("intake", "routing", "mediation", "education", "blacklist")

# What complainants write as the institution, where they live, the product; all resolve to one
# office of the demo directory (the run counts any that end up waiting for a person instead).
MIX = [
    ("工行河西支行", "120103", "credit_cards"),
    ("天津平安人寿", "120104", "life"),
    ("建设银行天津分行", "120101", "loans"),
    ("招商银行天津分行", "120101", "credit_cards"),
]
ROUTED = ("routing.case_assigned", "routing.case_needs_routing")
WARMUP = 5  # cases submitted and assigned before anything is measured


# --- options -----------------------------------------------------------------------------------


@dataclass
class Options:
    seconds: float = 30.0
    threads: int = 4
    messages: int = 2000  # bare publishes for the baseline
    warmup: int = 20  # cases one at a time through the idle pipeline
    poll_seconds: float = 0.05
    drain_timeout: float = 0.0  # 0: 120 s + 4 x seconds
    keep_logs: bool = False

    @classmethod
    def quick(cls) -> Options:
        return cls(seconds=5.0, messages=500, warmup=10)

    @property
    def drain_limit(self) -> float:
        return self.drain_timeout or 120.0 + 4 * self.seconds


# --- the run's own database and vhost ------------------------------------------------------------


@contextlib.contextmanager
def own_database(console) -> Iterator[str]:
    """A fresh PostgreSQL database (as tests/integration/conftest.py makes one); dropped after."""
    import psycopg

    name = f"xiaobao_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); "
            "XIAOBAO_BENCH_PG_URL names another admin database"
        ) from None
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    console.print(f"intake-flow: PostgreSQL database {name} (dropped at the end)")
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def own_vhost(uri: str, console) -> Iterator[str]:
    """A throwaway vhost when rabbitmqctl manages this (local) broker; else the given one."""
    ctl = shutil.which("rabbitmqctl")
    parts = urlsplit(uri)
    local = (parts.hostname or "127.0.0.1") in ("127.0.0.1", "localhost", "::1")
    vhost = f"xiaobao-bench-intake-{secrets.token_hex(4)}"
    made = None
    if ctl and local:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            made = subprocess.run([ctl, "add_vhost", vhost], capture_output=True, timeout=60)
    if made is None or made.returncode != 0:
        console.print(
            "[yellow]intake-flow: rabbitmqctl cannot add a vhost here; using the broker's own "
            "vhost: do not run this next to a running Xiaobao on that vhost[/yellow]",
            soft_wrap=True,
        )
        yield uri
        return
    try:
        user = unquote(parts.username or "guest")
        subprocess.run(
            [ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            capture_output=True,
            timeout=60,
            check=True,
        )
        console.print(f"intake-flow: RabbitMQ vhost {vhost} (deleted at the end)")
        yield _with_vhost(uri, vhost)
    finally:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


def platform_env(database_url: str, amqp_uri: str, data_dir: Path, opts: Options) -> dict:
    from services.platform import free_ports_env

    env = {
        "XIAOBAO_DATABASE_URL": database_url,
        "XIAOBAO_AMQP_URI": amqp_uri,
        "XIAOBAO_DATA_DIR": str(data_dir),
        "XIAOBAO_AUTH_SECRET": secrets.token_urlsafe(48),
        "XIAOBAO_PII_KEY": secrets.token_urlsafe(48),
        "XIAOBAO_OUTBOX_POLL_SECONDS": str(opts.poll_seconds),
        "XIAOBAO_BIND_HOST": "127.0.0.1",
        # Whatever the shell says: plaintext with bearer tokens, the packaged policy.
        "XIAOBAO_AUTH_MODE": "token",
        "XIAOBAO_TLS_CA": "",
        "XIAOBAO_TLS_CLIENT_CERT": "",
        "XIAOBAO_TLS_CLIENT_KEY": "",
        "XIAOBAO_ROUTING_POLICY_FILE": "",
    }
    env.update(free_ports_env())  # the consumers' page too, in intake's api
    for service in SERVICES:
        env[f"XIAOBAO_{service.upper()}_DATABASE_URL"] = ""  # the run's database, a schema each
    return env


def xiaobao(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"xiaobao {' '.join(args)} failed ({done.returncode}):\n"
            + (done.stdout + done.stderr)[-2000:]
        )


# --- the listener: routing's assignment events, as they reach a queue ---------------------------


def listen(out_path: str, events: tuple[str, ...] = ROUTED) -> None:
    """(In a child.) One line per event of `events` (qualified types), with its arrival."""
    import kombu

    from services.common.messaging import event_exchange

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    queue = kombu.Queue(
        f"xiaobao-bench-listener-{secrets.token_hex(4)}",
        bindings=[
            kombu.binding(event_exchange(k.split(".", 1)[0]), routing_key=k.split(".", 1)[1])
            for k in events
        ],
        durable=False,
        exclusive=True,
        auto_delete=True,
    )
    uri = os.environ["XIAOBAO_AMQP_URI"]
    with open(out_path, "a", encoding="utf-8") as out, kombu.Connection(uri) as conn:
        conn.ensure_connection(max_retries=3)

        def on_message(body, _message) -> None:
            arrived = time.time()
            payload = body.get("payload") or {}
            out.write(json.dumps([arrived, body.get("type"), payload.get("case_no")]) + "\n")

        with kombu.Consumer(
            conn.channel(), [queue], callbacks=[on_message], no_ack=True, accept=["json"]
        ):
            out.write(json.dumps({"ready": True}) + "\n")
            out.flush()
            while not stopped.is_set():
                with contextlib.suppress(socket.timeout):
                    conn.drain_events(timeout=0.2)
                out.flush()


class Arrivals:
    """What the listener has written so far: case_no -> (arrival, event type)."""

    def __init__(self, path: Path, on_event=None) -> None:
        self.path = path
        self.on_event = on_event  # (event type, case_no, arrival) for each first arrival
        self.offset = 0
        self.rest = b""
        self.ready = False
        self.events: dict[str, tuple[float, str]] = {}  # routing's decisions (ROUTED) only
        self.by_type: dict[str, dict[str, float]] = {}  # event type -> case_no -> first arrival
        self.repeats = 0  # the same case announced twice (a redelivery, or a re-routing)

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
            self.offset = f.tell()
        *lines, self.rest = (self.rest + data).split(b"\n")
        for line in lines:
            row = json.loads(line)
            if isinstance(row, dict):
                self.ready = self.ready or bool(row.get("ready"))
                continue
            arrived, event_type, case_no = row
            seen = self.by_type.setdefault(event_type, {})
            if case_no not in seen:
                seen[case_no] = arrived
                if self.on_event is not None:
                    self.on_event(event_type, case_no, arrived)
            if event_type not in ROUTED:
                continue
            if case_no in self.events:
                self.repeats += 1
                continue
            self.events[case_no] = (arrived, event_type)


# --- the complaints ------------------------------------------------------------------------------


def complaint(rng: random.Random, request_id: str):
    from xiaobao.intake.v1 import intake_pb2 as pb

    text, region, product = rng.choice(MIX)
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    return pb.SubmitCaseRequest(
        kind=pb.CASE_KIND_COMPLAINT,
        channel=rng.choice((pb.CHANNEL_HOTLINE, pb.CHANNEL_HOTLINE, pb.CHANNEL_WEB)),
        complainant=pb.Complainant(name=name, phone=phone, region_code=region),
        institution_text=text,
        product=product,
        summary=rng.choice(SUMMARIES),
        amount_in_dispute_fen=rng.randrange(0, 5_000_000, 100),
        request_id=request_id,
    )


@dataclass
class Submitted:
    case_no: str
    started: float  # wall clock (time.time()), comparable with the services' timestamps
    seconds: float  # the call's latency


@dataclass
class Phase:
    label: str
    callers: int
    calls: list[Submitted] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    first_error: str = ""
    start: float = 0.0  # wall clock
    elapsed: float = 0.0  # from the callers' start to the last call's end
    handler_ms: float | None = None  # mean time inside the api's SubmitCase handler
    assigned: int = 0
    needs_routing: int = 0
    missing: list[str] = field(default_factory=list)
    drain: float | None = None  # last arrival after the end of the calls, seconds
    intake_drain: float | None = None  # the same, for intake recording the assignments
    last_arrival: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core over window + drain
    cpu_seconds: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.elapsed


def submit_for(stub, metadata, phase: Phase, seconds: float, tag: str) -> None:
    """`phase.callers` threads call SubmitCase back to back until `seconds` have passed."""
    import grpc

    per_caller: list[list[Submitted]] = [[] for _ in range(phase.callers)]
    lock = threading.Lock()
    stop = threading.Event()
    gate = threading.Barrier(phase.callers + 1)
    clock = time.perf_counter

    def work(k: int) -> None:
        rng = random.Random(f"{tag}-{phase.label}-{k}")
        out = per_caller[k]
        gate.wait()
        i = 0
        while not stop.is_set():
            request = complaint(rng, f"bench-{tag}-{phase.label}-{k}-{i}")
            i += 1
            wall, t = time.time(), clock()
            try:
                reply = stub.SubmitCase(request, metadata=metadata, timeout=30)
            except grpc.RpcError as exc:
                with lock:
                    phase.errors[exc.code().name] += 1
                    phase.first_error = phase.first_error or f"{exc.code().name}: {exc.details()}"
                time.sleep(0.05)
                continue
            except Exception as exc:
                with lock:
                    phase.errors[type(exc).__name__] += 1
                    phase.first_error = phase.first_error or f"{type(exc).__name__}: {exc}"
                time.sleep(0.05)
                continue
            took = clock() - t
            if reply.duplicate_request or not reply.case.case_no:
                with lock:
                    phase.errors["no new case"] += 1
                continue
            out.append(Submitted(reply.case.case_no, wall, took))

    pool = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(phase.callers)]
    for t in pool:
        t.start()
    try:
        gate.wait()
        phase.start, started = time.time(), clock()
        time.sleep(seconds)
    finally:
        stop.set()
    for t in pool:
        t.join()
    phase.elapsed = clock() - started
    phase.calls = sorted((s for out in per_caller for s in out), key=lambda s: s.started)


# --- waiting for the pipeline to drain -----------------------------------------------------------


def wait_routed(
    arrivals: Arrivals, phase: Phase, limit: float, check_alive, console, quiet: bool = False
) -> None:
    """Until every case of the phase has been announced as assigned (or needing a person)."""
    wanted = {s.case_no for s in phase.calls}
    deadline = time.monotonic() + limit
    last_report = time.monotonic()
    while True:
        arrivals.poll()
        missing = [c for c in wanted if c not in arrivals.events]
        if not missing:
            break
        check_alive()
        if time.monotonic() > deadline:
            break
        if not quiet and time.monotonic() - last_report > 10:
            last_report = time.monotonic()
            console.print(f"  … {phase.label}: {len(missing):,} cases still to be assigned")
        time.sleep(0.1)
    phase.missing = sorted(missing)
    routed = [arrivals.events[c] for c in wanted if c in arrivals.events]
    phase.assigned = sum(1 for _, t in routed if t == "routing.case_assigned")
    phase.needs_routing = sum(1 for _, t in routed if t == "routing.case_needs_routing")
    phase.last_arrival = max((a for a, _ in routed), default=0.0)
    if routed and not missing:
        phase.drain = max(0.0, phase.last_arrival - phase.end)


def wait_intake_recorded(db, phase: Phase, limit: float) -> None:
    """Until intake's worker has applied every announced case of the phase."""
    numbers = [s.case_no for s in phase.calls]
    expected = phase.assigned + phase.needs_routing
    deadline = time.monotonic() + limit
    while True:
        done = db.execute(
            "SELECT count(*), max(p.processed_at) FROM intake.processed_event p "
            "JOIN routing.outbox o ON o.event_id = p.event_id "
            "WHERE p.event_type = ANY(%s) AND o.body->'payload'->>'case_no' = ANY(%s)",
            (list(ROUTED), numbers),
        ).fetchone()
        if done[0] >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if done[0] >= expected and done[1] is not None:
        phase.intake_drain = max(0.0, done[1].timestamp() - phase.end)


# --- where the time went, from the services' own timestamps ----------------------------------------

STAGES = [
    ("api: call start → outbox row written", "submitted", "intake_row"),
    ("intake relay: row → published (confirmed)", "intake_row", "intake_sent"),
    ("broker + routing worker: published → routing assigns", "intake_sent", "assigned"),
    ("routing: assigns → its outbox row", "assigned", "routing_row"),
    ("routing relay: row → delivered to the listener", "routing_row", "arrived"),
    ("submit → assigned (listener)", "submitted", "arrived"),
    ("listener → intake recorded it", "arrived", "recorded"),
    ("submit → intake recorded it", "submitted", "recorded"),
]


def timestamps(db, phase: Phase, arrivals: Arrivals) -> dict[str, dict[str, float]]:
    """case_no -> {stage point: wall-clock seconds} for the phase's assigned cases."""
    numbers = [s.case_no for s in phase.calls]
    points: dict[str, dict[str, float]] = {s.case_no: {"submitted": s.started} for s in phase.calls}
    for case_no, created, sent in db.execute(
        "SELECT body->'payload'->>'case_no', created_at, sent_at FROM intake.outbox "
        "WHERE event_type = 'intake.case_received' AND body->'payload'->>'case_no' = ANY(%s)",
        (numbers,),
    ):
        points[case_no]["intake_row"] = created.timestamp()
        if sent is not None:
            points[case_no]["intake_sent"] = sent.timestamp()
    for case_no, assigned in db.execute(
        "SELECT case_no, assigned_at FROM routing.assignment WHERE case_no = ANY(%s)", (numbers,)
    ):
        if assigned is not None:
            points[case_no]["assigned"] = assigned.timestamp()
    for case_no, created, sent, recorded in db.execute(
        "SELECT o.body->'payload'->>'case_no', o.created_at, o.sent_at, p.processed_at "
        "FROM routing.outbox o LEFT JOIN intake.processed_event p ON p.event_id = o.event_id "
        "WHERE o.event_type = 'routing.case_assigned' "
        "AND o.body->'payload'->>'case_no' = ANY(%s) ORDER BY o.id",
        (numbers,),
    ):
        row = points[case_no]
        if "routing_row" in row:
            continue  # a second assignment of the same case: the first one counts
        row["routing_row"] = created.timestamp()
        if sent is not None:
            row["routing_sent"] = sent.timestamp()
        if recorded is not None:
            row["recorded"] = recorded.timestamp()
    for case_no, row in points.items():
        seen = arrivals.events.get(case_no)
        if seen is not None and seen[1] == "routing.case_assigned":
            row["arrived"] = seen[0]
    return points


def _staged(db, phase: Phase, arrivals: Arrivals):
    points = timestamps(db, phase, arrivals)
    return stage_figures(points), points


@dataclass
class Stalls:
    """A relay's waits between two consecutive confirmed publishes while the second row was
    already written: time it had work and did not publish (a bare publish takes well under 1 ms)."""

    count: int
    seconds: float  # all of them together
    p50_ms: float
    p99_ms: float


def relay_stalls(db, phase: Phase) -> dict[str, Stalls]:
    numbers = [s.case_no for s in phase.calls]
    out = {}
    for service, event_type in (("intake", "intake.case_received"), ("routing", ROUTED[0])):
        rows = db.execute(
            f"SELECT created_at, sent_at FROM {service}.outbox WHERE event_type = %s "  # noqa: S608
            "AND sent_at IS NOT NULL AND body->'payload'->>'case_no' = ANY(%s) "
            "ORDER BY sent_at",
            (event_type, numbers),
        ).fetchall()
        gaps = [
            (b_sent - a_sent).total_seconds()
            for (_, a_sent), (b_created, b_sent) in itertools.pairwise(rows)
            if b_created < a_sent
        ]
        p50, p99, _ = pcts(gaps)
        out[service] = Stalls(len(gaps), sum(gaps), p50, p99)
    return out


def stalls_text(stalls: dict[str, Stalls], phase: Phase) -> str:
    span = phase.cpu_seconds or phase.elapsed
    parts = [
        f"{service} {st.seconds:.1f} s ({st.seconds / span * 100:.0f} % of the {span:.0f} s; "
        f"p50/p99 {_ms(st.p50_ms)}/{_ms(st.p99_ms)} ms over {st.count:,} waits)"
        for service, st in stalls.items()
    ]
    return "relay idle between publishes with rows pending: " + ", ".join(parts)


def stage_figures(
    points: dict[str, dict[str, float]],
) -> list[tuple[str, int, float, float, float]]:
    rows = []
    for label, a, b in STAGES:
        spans = [p[b] - p[a] for p in points.values() if a in p and b in p]
        rows.append((label, len(spans), *pcts(spans)))
    return rows


def pcts(values: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max in ms (nearest rank, as bench/run.py's Result)."""
    r = Result("", len(values), 1.0, values)
    return r.percentile_ms(0.50), r.percentile_ms(0.99), (max(values) * 1000 if values else 0)


# --- the api's own view: time inside the SubmitCase handler --------------------------------------

_HANDLER = re.compile(
    r'^xiaobao_grpc_server_handling_seconds_(sum|count)\{(?=[^}]*grpc_method="SubmitCase")'
    r'(?=[^}]*grpc_service="xiaobao\.intake\.v1\.IntakeService")[^}]*\}\s+(\S+)$'
)


def handler_seconds(metrics_port: int) -> tuple[float, float]:
    """(seconds, calls) the intake api has spent inside SubmitCase, from its /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return (0.0, 0.0)
    found = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        m = _HANDLER.match(line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found["sum"], found["count"]


# --- CPU, from /proc (Linux; elsewhere nothing is printed) ------------------------------------------

OTHERS = {"postgres": "postgres", "beam.smp": "rabbitmq", "erl_child_setup": "rabbitmq"}


def _stat(pid: int | str) -> tuple[str, float]:
    """(command, user + system ticks) of one process."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode(errors="replace")
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, float(fields[11]) + float(fields[12])


def cpu_snapshot(watched: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far: of our processes by name, of PostgreSQL's and RabbitMQ's processes
    (all of them, whoever they serve), and of the whole host (busy time, all cores)."""
    if not Path("/proc/stat").exists():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for label, pid in watched.items():
        with contextlib.suppress(OSError, ValueError):
            out[label] = _stat(pid)[1] / tick
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                comm, ticks = _stat(entry.name)
                if comm in OTHERS:
                    out[OTHERS[comm]] = out.get(OTHERS[comm], 0.0) + ticks / tick
    with open("/proc/stat") as f:
        cpu = [float(x) for x in f.readline().split()[1:]]
    out["host"] = (sum(cpu[:8]) - cpu[3] - cpu[4]) / tick  # all but idle and iowait
    return out


def cpu_percent(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    if wall <= 0:
        return {}
    return {k: (after[k] - before.get(k, 0.0)) / wall * 100 for k in after if k in before}


def cpu_text(phase: Phase) -> str:
    cpu = dict(phase.cpu)
    host = cpu.pop("host", None)
    top = sorted(cpu.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} {v:.0f}" for k, v in top if v >= 0.5)
    cores = os.cpu_count() or 1
    if host is not None:
        text += (
            f", everything else on the host {max(0.0, host - sum(cpu.values())):.0f}; "
            f"the host's {cores} cores: {host:.0f} of {cores * 100} busy"
        )
    return f"CPU, % of one core, over the window and its drain ({phase.cpu_seconds:.1f} s): {text}"


# --- the baseline: bare confirmed publishes on the same vhost -------------------------------------


def bare_publish(uri: str, body: dict, n: int, event_type: str) -> Result:
    """bench/run.py's outbox baseline, on this run's vhost: kombu `Producer.publish` with
    `confirm_publish`, persistent, one message at a time, to a throwaway durable exchange and
    queue (deleted afterwards); the body is a real intake.case_received, a new event_id each."""
    import kombu

    tag = secrets.token_hex(4)
    exchange = kombu.Exchange(f"xiaobao-bench-{tag}", type="topic", durable=True, auto_delete=False)
    queue = kombu.Queue(
        f"xiaobao-bench-{tag}", exchange=exchange, routing_key="bench", durable=True
    )
    bodies = [{**body, "event_id": uuid.uuid4().hex} for _ in range(n + 1)]
    with kombu.Connection(
        uri, transport_options={"confirm_publish": True}, connect_timeout=5
    ) as conn:
        conn.ensure_connection(max_retries=1)
        channel = conn.channel()
        bound_queue = queue(channel)
        bound_queue.declare()  # declares the exchange and the binding too
        try:
            producer = kombu.Producer(channel)

            def publish(i: int) -> None:
                b = bodies[i]
                producer.publish(
                    b,
                    exchange=exchange,
                    routing_key="bench",
                    serializer="json",
                    delivery_mode=2,
                    message_id=b["event_id"],
                    headers={"xiaobao.event_type": event_type},
                )

            publish(n)  # warm-up: the first publish on the channel
            return Result("bare kombu publish, confirms", n, *run_sequential(publish, n))
        finally:
            with contextlib.suppress(Exception):
                bound_queue.delete()
            with contextlib.suppress(Exception):
                exchange(channel).delete()


# --- the benchmark -------------------------------------------------------------------------------


def _ms(x: float) -> str:
    if x != x:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def bench_intake_flow(opts: Options, children: Children, tmp: Path, console) -> Section:
    import grpc
    import psycopg
    from rich.table import Table

    from services.common import auth
    from services.common import settings as settings_mod
    from services.platform import Platform, check_broker
    from xiaobao.intake.v1 import intake_pb2_grpc

    section = Section(
        "intake-flow: SubmitCase through the ten processes, RabbitMQ and PostgreSQL, "
        "vs bare confirmed publishes on the same vhost"
    )
    tag = secrets.token_hex(3)
    base_uri = os.environ.get("XIAOBAO_AMQP_URI") or DEFAULT_AMQP_URI
    check_broker(base_uri)
    log_dir = tmp / "logs"
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(own_database(console))
        amqp_uri = stack.enter_context(own_vhost(base_uri, console))
        check_broker(amqp_uri)
        env = platform_env(database_url, amqp_uri, tmp / "data", opts)
        cfg = settings_mod.load({**os.environ, **env})
        console.print(
            f"intake-flow: settings: XIAOBAO_OUTBOX_POLL_SECONDS={cfg.outbox_poll_seconds} "
            f"XIAOBAO_ROUTING_SWEEP_SECONDS={cfg.routing_sweep_seconds} "
            f"XIAOBAO_CLOCK_SWEEP_SECONDS={cfg.clock_sweep_seconds} "
            f"XIAOBAO_LOG_LEVEL={cfg.log_level} XIAOBAO_ROUTING_MIN_CONFIDENCE="
            f"{cfg.routing_min_confidence}; auth {cfg.auth_mode}; one database, a schema per "
            f"service; seconds={opts.seconds:g} threads={opts.threads} "
            f"messages={opts.messages} one-at-a-time={opts.warmup}",
            soft_wrap=True,
        )
        console.print("intake-flow: xiaobao db upgrade all; xiaobao routing import-directory")
        xiaobao(env, "db", "upgrade", "all")
        xiaobao(env, "routing", "import-directory")

        plat = Platform(env=env, log_dir=log_dir)
        stack.callback(plat.stop)
        console.print("intake-flow: starting the ten processes (a worker and an api per service)")
        started = time.monotonic()
        plat.start()
        console.print(f"intake-flow: platform up in {time.monotonic() - started:.1f} s")

        listened = tmp / "listener.jsonl"
        listener = children.spawn(
            [sys.executable, str(Path(__file__).resolve()), "--listen", str(listened)],
            child_env({"XIAOBAO_AMQP_URI": amqp_uri}),
            tmp / "listener.log",
        )
        stack.callback(children.stop, listener)
        arrivals = Arrivals(listened)

        def listener_ready() -> bool:
            arrivals.poll()
            return arrivals.ready

        wait_until(listener_ready, listener, children, "event listener")

        def check_alive() -> None:
            plat._check_alive()
            if listener.poll() is not None:
                raise RuntimeError("the event listener exited:\n" + children.log_tail(listener))

        db = stack.enter_context(psycopg.connect(database_url, autocommit=True))
        channel = stack.enter_context(grpc.insecure_channel(cfg.service("intake").address))
        stub = intake_pb2_grpc.IntakeServiceStub(channel)
        metadata = auth.bearer(auth.issue_token("bench-intake", "operator", secret=cfg.auth_secret))
        metrics_port = cfg.service("intake").api_metrics_port

        # Warm-up: every process has connected, declared and served its first calls.
        warm = Phase("warm", 1)
        rng = random.Random(tag)
        for i in range(WARMUP):
            request = complaint(rng, f"bench-{tag}-warm-{i}")
            reply = stub.SubmitCase(request, metadata=metadata, timeout=30)
            warm.calls.append(Submitted(reply.case.case_no, time.time(), 0.0))
        warm.start = time.time()
        wait_routed(arrivals, warm, 60.0, check_alive, console, quiet=True)
        if warm.missing:
            raise RuntimeError(
                f"{len(warm.missing)} of {WARMUP} warm-up cases were not assigned within "
                f"60 s; see the logs in {log_dir}"
            )

        # The pipeline idle: one case at a time, each waited for until it is assigned.
        console.print(f"intake-flow: {opts.warmup} cases one at a time, each until assigned")
        idle = Phase("one at a time", 1)
        idle.start = time.time()
        started = time.perf_counter()
        for i in range(opts.warmup):
            request = complaint(rng, f"bench-{tag}-idle-{i}")
            wall, t = time.time(), time.perf_counter()
            reply = stub.SubmitCase(request, metadata=metadata, timeout=30)
            idle.calls.append(Submitted(reply.case.case_no, wall, time.perf_counter() - t))
            until = time.monotonic() + 30
            while reply.case.case_no not in arrivals.events and time.monotonic() < until:
                time.sleep(0.005)
                arrivals.poll()
        idle.elapsed = time.perf_counter() - started
        wait_routed(arrivals, idle, 30.0, check_alive, console, quiet=True)
        wait_intake_recorded(db, idle, 30.0)

        # The baseline, on this vhost, with the body of a real case_received.
        (body,) = db.execute(
            "SELECT body FROM intake.outbox WHERE event_type = 'intake.case_received' "
            "ORDER BY id LIMIT 1"
        ).fetchone()
        size = len(json.dumps(body).encode())
        console.print(f"intake-flow: {opts.messages:,} bare confirmed publishes of {size:,} B")
        base = bare_publish(amqp_uri, body, opts.messages, "intake.case_received")
        section.results.append(base)

        watched = {f"{p.service} {p.role}": p.popen.pid for p in plat.processes}
        watched["bench listener"] = listener.pid
        watched["bench"] = os.getpid()
        phases = []
        for label, callers in (("sequential", 1), (f"{opts.threads} threads", opts.threads)):
            check_alive()
            phase = Phase(label, callers)
            console.print(
                f"intake-flow: SubmitCase, {label}, for {opts.seconds:g} s", soft_wrap=True
            )
            before = handler_seconds(metrics_port)
            cpu_before = cpu_snapshot(watched), time.monotonic()
            submit_for(stub, metadata, phase, opts.seconds, tag)
            after = handler_seconds(metrics_port)
            if after[1] > before[1]:
                phase.handler_ms = (after[0] - before[0]) / (after[1] - before[1]) * 1000
            console.print(
                f"  {len(phase.calls):,} cases in {phase.elapsed:.1f} s; waiting for routing",
                soft_wrap=True,
            )
            wait_routed(arrivals, phase, opts.drain_limit, check_alive, console)
            wait_intake_recorded(db, phase, 30.0 if phase.missing else opts.drain_limit)
            phase.cpu_seconds = time.monotonic() - cpu_before[1]
            phase.cpu = cpu_percent(cpu_before[0], cpu_snapshot(watched), phase.cpu_seconds)
            phases.append(phase)

        # Figures.
        flow_rows = [(idle, *_staged(db, idle, arrivals))]
        for phase in phases:
            calls = Result(
                f"SubmitCase, {phase.label}",
                len(phase.calls),
                phase.elapsed,
                [s.seconds for s in phase.calls],
                base,
                base.what,
            )
            section.results.append(calls)
            rows, points = _staged(db, phase, arrivals)
            e2e = [p["arrived"] - p["submitted"] for p in points.values() if "arrived" in p]
            span = (phase.last_arrival - phase.start) if phase.last_arrival else 0.0
            section.results.append(
                Result(
                    f"submit → assigned, {phase.label}",
                    len(e2e),
                    span,
                    e2e,
                    base,
                    base.what,
                )
            )
            flow_rows.append((phase, rows, points))

        pending = {
            service: db.execute(
                f"SELECT count(*) FROM {service}.outbox WHERE sent_at IS NULL"  # noqa: S608
            ).fetchone()[0]
            for service in SERVICES
        }
        statuses = dict(db.execute('SELECT status, count(*) FROM intake."case" GROUP BY status'))
        dead = dead_letters(amqp_uri)
        log_lines = log_summary(log_dir)

        table = Table(
            title="intake-flow: where submit → assigned goes (services' own timestamps)",
            title_justify="left",
        )
        table.add_column("stage")
        for phase, *_ in flow_rows:
            table.add_column(f"{phase.label}\np50 ms", justify="right")
            table.add_column("p99 ms", justify="right")
        for i, (label, *_rest) in enumerate(STAGES):
            cells = []
            for _phase, rows, _points in flow_rows:
                _, count, p50, p99, _mx = rows[i]
                cells += [_ms(p50), _ms(p99)] if count else ["-", "-"]
            table.add_row(label, *cells)
        console.print(table)

        idle_rows = flow_rows[0][1]
        section.notes.append(
            f"one case at a time (the pipeline idle, {len(idle.calls)} cases): SubmitCase p50/p99 "
            f"{_ms(pcts([c.seconds for c in idle.calls])[0])}/"
            f"{_ms(pcts([c.seconds for c in idle.calls])[1])} ms, submit → assigned p50/p99 "
            f"{_ms(idle_rows[5][2])}/{_ms(idle_rows[5][3])} ms, max {_ms(idle_rows[5][4])} ms; "
            f"{len(idle.missing)} never announced"
        )
        for phase, rows, points in flow_rows[1:]:
            rate = len(phase.calls) / phase.elapsed if phase.elapsed else 0.0
            seen = [
                arrivals.events[s.case_no][0] for s in phase.calls if s.case_no in arrivals.events
            ]
            window = sum(1 for a in seen if a <= phase.end)
            pace = (
                len(seen) / (max(seen) - min(seen))
                if len(seen) > 1 and max(seen) > min(seen)
                else 0
            )
            drain = f"{phase.drain:.2f} s" if phase.drain is not None else "not drained"
            intake_drain = (
                f"{phase.intake_drain:.2f} s" if phase.intake_drain is not None else "not all"
            )
            handler = f"{phase.handler_ms:.2f} ms" if phase.handler_ms is not None else "-"
            line = (
                f"{phase.label}: {len(phase.calls):,} cases submitted ({rate:,.0f}/s), "
                f"{window:,} assigned within the {phase.elapsed:.1f} s window "
                f"({window / phase.elapsed if phase.elapsed else 0:,.0f}/s), {phase.assigned:,} "
                f"assigned in all (announced at {pace:,.0f}/s from the first to the last), "
                f"{phase.needs_routing} waiting for a person, "
                f"{len(phase.missing)} never announced; drain after the last call: {drain} to "
                f"the listener, {intake_drain} until intake recorded all; mean time in the api's "
                f"SubmitCase handler {handler}"
            )
            if phase.errors:
                line += f"; errors {dict(phase.errors)} (first: {phase.first_error})"
            section.notes.append(line)
            if phase.missing:
                section.notes.append(
                    f"  never announced ({phase.label}): {', '.join(phase.missing[:10])}"
                    + (" …" if len(phase.missing) > 10 else "")
                )
            stalls = relay_stalls(db, phase)
            routing_lag = pcts(
                [
                    p["routing_sent"] - p["routing_row"]
                    for p in points.values()
                    if "routing_sent" in p
                ]
            )
            section.notes.append(
                f"  {phase.label}: submit → assigned max {_ms(rows[5][4])} ms; outbox relay lag "
                f"(row written → publish confirmed) p50/p99: intake {_ms(rows[1][2])}/"
                f"{_ms(rows[1][3])} ms, routing {_ms(routing_lag[0])}/{_ms(routing_lag[1])} ms; "
                f"{stalls_text(stalls, phase)}"
            )
            if phase.cpu:
                section.notes.append(f"  {phase.label}: {cpu_text(phase)}")
        section.notes.append(
            f"afterwards: intake cases by status {statuses}; outbox rows still pending "
            f"{pending}; dead letters {dead}; {arrivals.repeats} repeated announcements"
        )
        section.notes.append(log_lines)
        section.notes.append(
            "submit → assigned: from the SubmitCase call's start (bench clock) to the arrival of "
            "its routing.case_assigned on the bench's own queue on routing.events (a listener "
            "child); intake's own queue receives the same message at the same moment and records "
            "it a little later (the last rows). ops/s of those rows: cases assigned per second "
            "from the phase's first call to its last assignment. Baseline: "
            f"{size:,}-byte body of a real intake.case_received, persistent, one at a time"
        )
        if opts.keep_logs:
            kept = Path(tempfile.mkdtemp(prefix="xiaobao-bench-intake-logs-"))
            for log in log_dir.glob("*.log"):
                shutil.copy2(log, kept / log.name)
            section.notes.append(f"logs kept in {kept}")
    return section


def dead_letters(uri: str) -> int | str:
    import kombu

    from services.common.messaging import DEAD_LETTER_QUEUE

    try:
        with kombu.Connection(uri, connect_timeout=5) as conn:
            _, count, _ = conn.default_channel.queue_declare(DEAD_LETTER_QUEUE, passive=True)
            return count
    except Exception:
        return 0  # never declared: nothing was dead-lettered


def log_summary(log_dir: Path) -> str:
    counts = Counter()
    for log in sorted(log_dir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            for level in ("ERROR", "WARNING", "Traceback"):
                if level in line:
                    counts[f"{log.stem} {level}"] += 1
    if not counts:
        return "the ten processes logged no warning, error or traceback"
    return "in the processes' logs: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SubmitCase through the real platform, next to bare confirmed publishes."
    )
    parser.add_argument("--quick", action="store_true", help="5 s per phase, 500 publishes")
    parser.add_argument("--seconds", type=float, help="seconds per phase (default 30)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent callers (default 4)")
    parser.add_argument("--messages", type=int, help="bare publishes (default 2000)")
    parser.add_argument(
        "--poll-seconds", type=float, default=0.05, help="XIAOBAO_OUTBOX_POLL_SECONDS (0.05)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=0.0, help="seconds to wait for routing to catch up"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--listen", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads < 1 or (args.seconds is not None and args.seconds <= 0):
        parser.error("--threads must be at least 1 and --seconds positive")
    if args.messages is not None and args.messages < 1:
        parser.error("--messages must be at least 1")
    return args


def options(args: argparse.Namespace) -> Options:
    opts = Options.quick() if args.quick else Options()
    if args.seconds is not None:
        opts.seconds = args.seconds
    if args.messages is not None:
        opts.messages = args.messages
    opts.threads = args.threads
    opts.poll_seconds = args.poll_seconds
    opts.drain_timeout = args.drain_timeout
    opts.keep_logs = args.keep_logs
    return opts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.listen:
        listen(args.listen)
        return 0

    import grpc
    import kombu
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 130)
    signal.signal(signal.SIGTERM, _terminate)  # a kill runs the finally blocks too
    # Ctrl-C stops the run even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    opts = options(args)
    console.print(
        f"[bold]Xiaobao intake flow benchmark[/bold] {datetime.now():%Y-%m-%d %H:%M}  "
        f"python {platform.python_version()}, grpcio {grpc.__version__}, "
        f"kombu {kombu.__version__}, {os.cpu_count()} cpus, {platform.machine()}"
        f"{' (quick)' if args.quick else ''}",
        soft_wrap=True,
    )
    section, code = run_guarded(
        console,
        "intake-flow",
        lambda children, tmp: bench_intake_flow(opts, children, tmp, console),
    )
    if code is not None:
        return code
    render(console, section)
    console.print()
    console.print("[bold]Summary[/bold] (throughput relative to the baseline of the same run)")
    for r in section.results:
        if r.baseline is not None:
            console.print(f"{r.what.strip()}: {ratio_text(r.ratio)} of {r.baseline_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
