"""The least CPU the platform's design needs per case on this machine, from its parts.

    python bench/design_floor.py              # 3,000 of each primitive (~1 min)
    python bench/design_floor.py --n 10000    # steadier figures
    python bench/design_floor.py --json out.json

A case on its way submit → assigned → answered → closed costs, by the design (DESIGN.md: gRPC
apis, an outbox per service published with confirms, nameko workers, every event applied
exactly once in a transaction with its processed-event marker):

- 2 unary gRPC calls (SubmitCase, AnswerCase), each writing one transaction in its api;
- 4 confirmed publishes (`intake.case_received`, `routing.case_assigned`,
  `routing.case_answered`, `intake.case_closed`) and their deliveries to the subscribers in
  `messaging.SUBSCRIPTIONS` (9), each applied in a worker in its own transaction.

This bench measures each of those parts alone, doing nothing else — no validation, no business
rules, no SQL beyond the marker — and the CPU seconds it takes in every process involved (the
caller, the server or worker child, and PostgreSQL's and RabbitMQ's processes, from /proc). Adding
the parts up as a case uses them gives the CPU a case needs at the very least; the machine's
cores divided by it are a ceiling on cases/s that no implementation of this design can pass on
this machine, whatever its business code costs. The same is computed for a variant that applies
the deliveries in batches (`--batch` markers per transaction), the largest change the design
allows.

The parts, each on a PostgreSQL database and RabbitMQ vhost of its own (dropped at the end):

1. a unary call to a bare grpcio echo server (bench/run.py's baseline), sequential;
2. a kombu publish with publisher confirms, persistent, one at a time (what the relay does);
3. a delivery to a nameko `@event_handler` that does nothing, acked (the worker's plumbing);
4. the same delivery through the project's own `worker.handles` with a handler that does nothing:
   nameko, eventlet, the marker inserted and committed on PostgreSQL (`messaging.consume`);
5. an api's transaction: one ORM row inserted and committed, no eventlet;
6. `--batch` markers inserted and committed in one transaction, per marker.

Prints figures; asserts nothing. See docs/performance.md.
"""

from __future__ import annotations

import os
import sys

# `python bench/design_floor.py` works without PYTHONPATH: the repo root and the generated protos.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen", "python"))  # fmt: skip
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import contextlib
import json
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.intake import _stat, own_database, own_vhost
from bench.run import DEFAULT_AMQP_URI, ROOT, Children, child_env, free_port, wait_until

# The case's main path, and who receives each of its events.
CASE_EVENTS = (
    ("intake", "case_received"),
    ("routing", "case_assigned"),
    ("routing", "case_answered"),
    ("intake", "case_closed"),
)
CALLS_PER_CASE = 2  # SubmitCase, AnswerCase
API_TRANSACTIONS_PER_CASE = 2

# The worker child: a nameko service whose handlers do nothing, one bare and one through the
# project's exactly-once path. It writes how many it handled to a file the bench polls.
_SERVICE = """
import os
from nameko.events import event_handler
from sqlalchemy.orm import DeclarativeBase
from services.common.messaging import ProcessedEventMixin
from services.common.worker import Database, handles

class Base(DeclarativeBase):
    pass

class ProcessedEvent(ProcessedEventMixin, Base):
    __tablename__ = "processed_event"

COUNT = os.environ["FLOOR_COUNT_FILE"]
seen = {"bare": 0, "marked": 0}

def tick(kind):
    seen[kind] += 1
    if seen[kind] % 100 == 0:
        with open(COUNT + "." + kind, "w") as f:
            f.write(str(seen[kind]))

class FloorWorker:
    name = "floor"
    # The settings know the five services only: the marker table is in a schema named after
    # one of them, in the bench's own database.
    db = Database("education", ProcessedEvent)

    @event_handler("floorsrc", "bare")
    def on_bare(self, body):
        tick("bare")

    @handles("floorsrc", "marked")
    def on_marked(self, session, envelope):
        tick("marked")
"""


@dataclass
class Part:
    what: str
    count: int
    seconds: float
    cpu_ms: dict[str, float]  # CPU ms per operation, by process

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds else float("nan")

    @property
    def total_ms(self) -> float:
        return sum(self.cpu_ms.values())


def measure(
    what: str,
    n: int,
    watched: dict[str, list[int]],
    run: Callable[[], None],
    wait: Callable[[], None],
) -> Part:
    """CPU seconds of the watched processes while `run` and then `wait` do n operations, per
    operation. Only the processes doing the part are watched (for PostgreSQL the backends of
    this run's database), so other work on the host does not count."""
    before = {k: _cpu_seconds(pids) for k, pids in watched.items()}
    started = time.perf_counter()
    run()
    wait()
    seconds = time.perf_counter() - started
    cpu = {k: (_cpu_seconds(pids) - before[k]) * 1000 / n for k, pids in watched.items()}
    return Part(what, n, seconds, cpu)


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            total += _stat(pid)[1]
    return total / os.sysconf("SC_CLK_TCK")


def rabbitmq() -> list[int]:
    """The broker's processes (a local node: beam.smp and its port helper)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                if _stat(entry.name)[0] in ("beam.smp", "erl_child_setup"):
                    pids.append(int(entry.name))
    return pids


def backends(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving this run's database now (ours, not the others
    on the host)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def grpc_part(n: int, children: Children, tmp: Path) -> Part:
    import grpc

    port = free_port()
    echo = children.spawn(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--serve-echo", str(port)],
        child_env({}),
        tmp / "echo.log",
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    call = channel.unary_unary("/bench.Echo/Echo")
    payload = b"x" * 600  # about a SubmitCase request
    for _ in range(200):
        call(payload)

    def run() -> None:
        for _ in range(n):
            call(payload)

    part = measure(
        "gRPC unary call, bare echo",
        n,
        {"caller": [os.getpid()], "server": [echo.pid]},
        run,
        _no_wait,
    )
    channel.close()
    children.stop(echo)
    return part


def _no_wait() -> None:
    return None


def _envelope(kind: str) -> dict:
    return {
        "event_id": uuid.uuid4().hex,
        "type": f"floorsrc.{kind}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "version": 1,
        "payload": {"case_no": "CP202611210001"},
    }


def publish_part(n: int, uri: str, kind: str, confirm: bool = True) -> Part:
    """n persistent publishes to the worker's queue (declared as nameko declares it), each
    waiting for its confirm as the relay does; or, `confirm` False, none waiting (to a queue
    nobody consumes, deleted afterwards): the least a relay confirming in batches could spend."""
    import kombu

    from services.common.messaging import durable_queue

    exchange = kombu.Exchange("floorsrc.events", type="topic", durable=True)
    queue = durable_queue(f"evt-floorsrc-{kind}--floor.on_{kind}", exchange, kind)
    bodies = [_envelope(kind) for _ in range(n)]
    options = {"confirm_publish": True} if confirm else {}
    with kombu.Connection(uri, transport_options=options) as conn:
        channel = conn.channel()
        bound = queue(channel)
        bound.declare()
        producer = kombu.Producer(channel)

        def run() -> None:
            for body in bodies:
                producer.publish(
                    body,
                    exchange=exchange,
                    routing_key=kind,
                    serializer="json",
                    delivery_mode=2,
                    message_id=body["event_id"],
                )

        def stored() -> None:  # unconfirmed: until the broker holds every message
            while not confirm and bound.queue_declare(passive=True).message_count < n:
                time.sleep(0.01)

        watched = {"caller": [os.getpid()], "rabbitmq": rabbitmq()}
        what = "publish, waiting for its confirm" if confirm else "publish, confirms not awaited"
        try:
            return measure(what, n, watched, run, stored)
        finally:
            if not confirm:
                bound.delete()


def delivery_part(
    n: int,
    total: int,
    kind: str,
    worker,
    children: Children,
    count_file: Path,
    what: str,
    database_url: str = "",
) -> Part:
    """The worker child drains what publish_part left on its queue (n of the `total` published
    so far; it may have begun): CPU per delivery."""

    def handled() -> int:
        with contextlib.suppress(OSError, ValueError):
            return int(Path(f"{count_file}.{kind}").read_text() or 0)
        return 0

    def wait() -> None:
        wait_until(lambda: handled() >= total, worker, children, f"the worker ({kind})", 600)

    watched = {"worker": [worker.pid], "rabbitmq": rabbitmq()}
    if database_url:
        watched["postgres"] = backends(database_url)
    return measure(what, n, watched, _no_wait, wait)


def stop_worker(worker) -> None:
    os.killpg(worker.pid, signal.SIGSTOP)


def resume_worker(worker) -> None:
    os.killpg(worker.pid, signal.SIGCONT)


def transaction_part(n: int, database_url: str, batch: int) -> Part:
    """n ORM inserts committed `batch` at a time (1: an api's transaction), no eventlet."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import DeclarativeBase, sessionmaker

    from services.common.db import engine_url
    from services.common.messaging import ProcessedEventMixin

    class Base(DeclarativeBase):
        pass

    class Marker(ProcessedEventMixin, Base):
        __tablename__ = f"floor_marker_{batch}"

    engine = create_engine(engine_url(database_url), pool_pre_ping=True)
    Base.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)

    def run() -> None:
        for start in range(0, n, batch):
            with factory() as session, session.begin():
                for _ in range(start, min(n, start + batch)):
                    session.add(
                        Marker(
                            event_id=uuid.uuid4().hex,
                            handler="floor.on_marked",
                            event_type="floorsrc.marked",
                            processed_at=datetime.now(UTC),
                        )
                    )

    what = "api transaction: one row, commit" if batch == 1 else f"{batch} markers a commit"
    with engine.connect():  # the pool's connection exists before the measure
        pass
    watched = {"caller": [os.getpid()], "postgres": backends(database_url)}
    part = measure(what, n, watched, run, _no_wait)
    engine.dispose()
    return part


@dataclass
class Floor:
    label: str
    ms_per_case: float
    cases_per_s: float
    terms: list[str]


def floors(parts: dict[str, Part], cores: int, batch: int) -> list[Floor]:
    """The case's parts added up three ways: as built, deliveries batched, confirms batched."""
    from services.common.messaging import SUBSCRIPTIONS

    publishes = len(CASE_EVENTS)
    deliveries = sum(len(SUBSCRIPTIONS[e]) for e in CASE_EVENTS)
    batched_delivery = parts["bare"].total_ms + parts["batch"].total_ms

    def floor(label: str, publish_ms: float, delivery_ms: float, delivered: str) -> Floor:
        terms = [
            (CALLS_PER_CASE, "calls", parts["grpc"].total_ms),
            (API_TRANSACTIONS_PER_CASE, "api transactions", parts["tx"].total_ms),
            (publishes, "publishes", publish_ms),
            (deliveries, delivered, delivery_ms),
        ]
        ms = sum(n * each for n, _, each in terms)
        return Floor(
            label, ms, cores * 1000 / ms, [f"{n} {what} x {each:.2f}" for n, what, each in terms]
        )

    return [
        floor(
            "as built: a transaction per delivery",
            parts["publish"].total_ms,
            parts["marked"].total_ms,
            "deliveries with their marker transaction",
        ),
        floor(
            f"deliveries applied {batch} to a transaction",
            parts["publish"].total_ms,
            batched_delivery,
            "bare deliveries + batched markers",
        ),
        floor(
            "and publishes confirmed in batches (no wait each)",
            parts["unconfirmed"].total_ms,
            batched_delivery,
            "bare deliveries + batched markers",
        ),
    ]


def render(parts: dict[str, Part], result: list[Floor], cores: int, console) -> None:
    from rich.table import Table

    table = Table(title="the parts, alone: CPU ms per operation", title_justify="left")
    for col in ("part", "count", "ops/s", "caller", "server/worker", "PostgreSQL", "RabbitMQ"):
        table.add_column(col, justify="left" if col == "part" else "right")
    table.add_column("total CPU ms", justify="right")
    for p in parts.values():
        c = p.cpu_ms
        table.add_row(
            p.what,
            f"{p.count:,}",
            f"{p.per_s:,.0f}",
            f"{c.get('caller', 0):.3f}",
            f"{c.get('server', c.get('worker', 0)):.3f}",
            f"{c.get('postgres', 0):.3f}",
            f"{c.get('rabbitmq', 0):.3f}",
            f"{p.total_ms:.3f}",
        )
    console.print(table)
    table = Table(
        title=f"the least CPU a case needs, and the ceiling on {cores} cores",
        title_justify="left",
    )
    table.add_column("design")
    table.add_column("CPU ms a case", justify="right")
    table.add_column("ceiling cases/s", justify="right")
    table.add_column("made of (ms each)")
    for f in result:
        table.add_row(f.label, f"{f.ms_per_case:.1f}", f"{f.cases_per_s:,.0f}", "; ".join(f.terms))
    console.print(table)
    console.print(
        "  [dim]A ceiling with no business code at all: no validation, routing, clocks, "
        "timeline, screening or portal stream, and every core busy with nothing else.[/dim]"
    )


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="operations of each part")
    parser.add_argument("--batch", type=int, default=20, help="markers a batched transaction")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON too")
    args = parser.parse_args(argv)
    if args.n < 100 or args.batch < 2:
        parser.error("--n must be at least 100 and --batch at least 2")
    console = Console()
    cores = os.cpu_count() or 1
    uri = os.environ.get("XIAOBAO_AMQP_URI", DEFAULT_AMQP_URI)
    children = Children()
    parts: dict[str, Part] = {}
    load = os.getloadavg()[0]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="xiaobao-floor-") as tmp_name,
            own_database(console) as database_url,
            own_vhost(uri, console) as vhost_uri,
        ):
            tmp = Path(tmp_name)
            parts["grpc"] = grpc_part(args.n, children, tmp)
            parts["tx"] = transaction_part(args.n, database_url, 1)
            parts["batch"] = transaction_part(args.n, database_url, args.batch)
            (tmp / "floor_worker.py").write_text(_SERVICE)
            count_file = tmp / "count"
            env = child_env(
                {
                    "XIAOBAO_DATABASE_URL": database_url,
                    "XIAOBAO_AMQP_URI": vhost_uri,
                    "XIAOBAO_DATA_DIR": str(tmp),
                    "FLOOR_COUNT_FILE": str(count_file),
                }
            )
            env["PYTHONPATH"] += os.pathsep + str(tmp)
            from services.common.db import make_engine

            engine = make_engine("education", database_url)
            with engine.begin() as conn:
                conn.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "education"')
                conn.exec_driver_sql(
                    "CREATE TABLE education.processed_event (event_id varchar(32), "
                    "handler varchar(80), event_type varchar(80), "
                    "processed_at timestamptz, PRIMARY KEY (event_id, handler))"
                )
            engine.dispose()
            worker = children.spawn(
                [sys.executable, "-m", "nameko", "run", "floor_worker", "--broker", vhost_uri],
                env,
                tmp / "worker.log",
            )
            # Warm the worker up (connections, imports) before anything is measured.
            warm = 200
            for kind in ("bare", "marked"):
                publish_part(warm, vhost_uri, kind)
                delivery_part(warm, warm, kind, worker, children, count_file, "warm-up")
            # The worker is stopped while its queue fills: the publisher's CPU alone (and
            # RabbitMQ's for it), then the worker's (and RabbitMQ's for the deliveries).
            stop_worker(worker)
            parts["publish"] = publish_part(args.n, vhost_uri, "bare")
            parts["unconfirmed"] = publish_part(args.n, vhost_uri, "unconfirmed", confirm=False)
            resume_worker(worker)
            parts["bare"] = delivery_part(
                args.n,
                warm + args.n,
                "bare",
                worker,
                children,
                count_file,
                "delivery to a nameko handler, acked",
            )
            stop_worker(worker)
            publish_part(args.n, vhost_uri, "marked")
            resume_worker(worker)
            parts["marked"] = delivery_part(
                args.n,
                warm + args.n,
                "marked",
                worker,
                children,
                count_file,
                "delivery applied exactly once (worker.handles)",
                database_url,
            )
            children.stop(worker)
    finally:
        children.stop_all()
    result = floors(parts, cores, args.batch)
    console.print(
        f"Xiaobao design floor {datetime.now(UTC).isoformat(timespec='seconds')}  {cores} cpus, "
        f"python {sys.version.split()[0]}; load average at start {load:.2f}, "
        f"at end {os.getloadavg()[0]:.2f}"
    )
    render(parts, result, cores, console)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "parts": {k: {**asdict(p), "total_ms": p.total_ms} for k, p in parts.items()},
                    "floors": [asdict(f) for f in result],
                    "cores": cores,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
