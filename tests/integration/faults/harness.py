"""What the fault tests need and the session platform must not be put through: a RabbitMQ node
and a PostgreSQL cluster of their own, which they stop, kill and restart; the ten processes on
them; a steady stream of complaints through intake -> routing -> institution answers; and the
reckoning afterwards (every case once, in its final state, every effect once, outboxes empty).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import kombu
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common import auth
from services.common.clients import stub
from services.common.settings import SERVICES
from services.platform import Platform, Process, free_port, free_ports_env
from xiaobao.intake.v1 import intake_pb2 as ipb
from xiaobao.routing.v1 import routing_pb2 as rpb

ROOT = Path(__file__).resolve().parents[3]
SECRET = "faults-test-secret-0123456789abcdef0123"
NODE = "pingan-life-tj"
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def wait_for(check, timeout: float, what: str, interval: float = 0.2):
    end = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < end:
        try:
            value = check()
            if value:
                return value
        except ProcessDied:
            raise
        except Exception as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last error: {last!r})")


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@dataclass
class PrivateRabbit:
    """A RabbitMQ node of our own (own node name, ports, data and no plugins)."""

    base: Path
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    node: str = field(default_factory=lambda: f"xbfaults{uuid.uuid4().hex[:6]}@localhost")

    @staticmethod
    def _tool(name: str) -> str:
        # Debian's /usr/sbin wrappers switch to the rabbitmq user and drop our environment.
        direct = Path("/usr/lib/rabbitmq/bin") / name
        found = str(direct) if direct.exists() else shutil.which(name)
        if not found:
            raise AssertionError(f"{name} not found: the fault tests need RabbitMQ installed")
        return found

    @property
    def uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "env.conf"),
        }

    def start(self, timeout: float = 90.0) -> None:
        subprocess.run(
            [self._tool("rabbitmq-server"), "-detached"],
            env=self._env(),
            cwd=self.base,
            check=True,
            capture_output=True,
        )

        def answers() -> bool:
            with kombu.Connection(self.uri, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True

        wait_for(answers, timeout, f"RabbitMQ node {self.node}", interval=0.5)

    def stop(self) -> None:
        done = subprocess.run(
            [self._tool("rabbitmqctl"), "-n", self.node, "shutdown"],
            env=self._env(),
            cwd=self.base,
            capture_output=True,
            timeout=90,
        )
        if done.returncode != 0:
            self.kill()

    def kill(self) -> None:
        pid_file = self.base / "pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary directory, its own port)."""

    base: Path
    port: int = field(default_factory=free_port)

    @staticmethod
    def _bin(name: str) -> str:
        found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
        if found:
            return found[-1]
        path = shutil.which(name)
        if not path:
            raise AssertionError(f"{name} not found: the fault tests need PostgreSQL installed")
        return path

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/xiaobao"

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.base / "data"),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.start()
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE xiaobao")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=300"
        )
        subprocess.run(
            _as_postgres(
                [
                    self._bin("pg_ctl"),
                    "-D",
                    str(self.base / "data"),
                    "-o",
                    options,
                    "-l",
                    str(self.base / "server.log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_postgres(
                [self._bin("pg_ctl"), "-D", str(self.base / "data"), "-m", mode, "-w", "stop"]
            ),
            capture_output=True,
            timeout=60,
        )

    def count(self, sql: str, *args) -> int:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, args).fetchone()[0]

    def rows(self, sql: str, *args) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, args).fetchall()


def platform_env(rabbit: PrivateRabbit, pg: PrivatePostgres, data_dir: Path) -> dict[str, str]:
    env = {
        "XIAOBAO_DATABASE_URL": pg.url,
        "XIAOBAO_AMQP_URI": rabbit.uri,
        "XIAOBAO_DATA_DIR": str(data_dir),
        "XIAOBAO_AUTH_SECRET": SECRET,
        "XIAOBAO_PII_KEY": SECRET,
        "XIAOBAO_OUTBOX_POLL_SECONDS": "0.1",
        "XIAOBAO_READINESS_SECONDS": "0.5",
        "XIAOBAO_ROUTING_SWEEP_SECONDS": "2",
    }
    env.update(free_ports_env())
    return env


def staff() -> tuple[tuple[str, str], ...]:
    return auth.bearer(auth.issue_token("faults-desk", "operator", secret=SECRET, ttl_seconds=7200))


def institution() -> tuple[tuple[str, str], ...]:
    return auth.bearer(
        auth.issue_token("faults-office", "institution", NODE, secret=SECRET, ttl_seconds=7200)
    )


def respawn(plat: Platform, process: Process) -> Process:
    """Starts a process again exactly as it was started (same command, ports and log)."""
    plat.processes.remove(process)
    with process.log_path.open("ab") as out:
        popen = subprocess.Popen(
            process.popen.args,
            cwd=ROOT,
            env=plat.child_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    again = Process(process.service, process.role, popen, process.log_path)
    plat.processes.append(again)
    return again


def kill9(process: Process) -> None:
    os.killpg(process.popen.pid, signal.SIGKILL)
    process.popen.wait(10)


class HealthWatch:
    """Polls every api's readiness (gRPC health, as Kubernetes does) and every worker's ready
    gauge, and remembers which went not-ready and whether each came back."""

    def __init__(self, plat: Platform, env: dict[str, str]) -> None:
        self.targets: list[tuple[str, str]] = []
        for service in SERVICES:
            self.targets.append((f"{service}-api", env[f"XIAOBAO_{service.upper()}_ADDR"]))
        self.workers = {
            f"{s}-worker": f"http://127.0.0.1:{env[f'XIAOBAO_{s.upper()}_WORKER_METRICS_PORT']}/ready"
            for s in SERVICES
        }
        self.not_ready: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _api_ready(self, address: str) -> bool:
        try:
            with grpc.insecure_channel(address) as channel:
                answer = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
            return answer.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False

    @staticmethod
    def _worker_ready(url: str) -> bool:
        """GET /ready on the worker's metrics port, as Kubernetes' readiness probe asks it."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - our own endpoint
                return resp.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def ready(self) -> dict[str, bool]:
        state = {name: self._api_ready(address) for name, address in self.targets}
        state.update({name: self._worker_ready(url) for name, url in self.workers.items()})
        return state

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for name, ok in self.ready().items():
                if not ok:
                    self.not_ready.add(name)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


class Stream:
    """A steady stream of complaints at `rate` per second, each retried with its request_id
    until intake takes it, and an institution that acknowledges and answers what it is given."""

    def __init__(self, env: dict[str, str], rate: float = 4.0, tag: str = "") -> None:
        self.intake_addr = env["XIAOBAO_INTAKE_ADDR"]
        self.routing_addr = env["XIAOBAO_ROUTING_ADDR"]
        self.rate = rate
        self.tag = tag or uuid.uuid4().hex[:6]
        self.request_ids: list[str] = []
        self.case_nos: dict[str, str] = {}
        self.errors: Counter[str] = Counter()
        self.retries = 0
        self.answered: set[str] = set()
        self._submitting = threading.Event()
        self._answering = threading.Event()
        self._threads: list[threading.Thread] = []

    def _complaint(self, n: int) -> ipb.SubmitCaseRequest:
        serial = int(uuid.uuid4().int % 10**7)
        return ipb.SubmitCaseRequest(
            kind=ipb.CASE_KIND_COMPLAINT,
            channel=ipb.CHANNEL_HOTLINE,
            complainant=ipb.Complainant(
                name=f"测试{n}", phone=f"137{serial:07d}{n % 10}", region_code="120104"
            ),
            institution_text="天津平安人寿",
            product="life",
            summary="销售时夸大收益，要求退保",
            amount_in_dispute_fen=1_580_000,
            request_id=f"faults-{self.tag}-{n:05d}",
        )

    def _call(self, fn, request, metadata, stop: threading.Event, give_up: float = 120.0):
        """A client that retries what it may retry; other refusals are counted as errors."""
        end = time.monotonic() + give_up
        while True:
            try:
                return fn(request, metadata=metadata, timeout=5)
            except grpc.RpcError as exc:
                if exc.code() in RETRYABLE and time.monotonic() < end:
                    self.retries += 1
                    time.sleep(0.3)
                    continue
                raise

    def _submit(self) -> None:
        intake = stub("intake", self.intake_addr)
        n = 0
        next_at = time.monotonic()
        while self._submitting.is_set():
            request = self._complaint(n)
            self.request_ids.append(request.request_id)
            try:
                case = self._call(intake.SubmitCase, request, staff(), self._submitting).case
                self.case_nos[request.request_id] = case.case_no
            except grpc.RpcError as exc:
                self.errors[f"SubmitCase {exc.code().name}"] += 1
            n += 1
            next_at += 1 / self.rate
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _answer(self) -> None:
        portal = stub("portal", self.routing_addr)
        who = institution()
        while self._answering.is_set():
            try:
                page = portal.ListAssignedCases(
                    rpb.ListAssignedCasesRequest(
                        status=rpb.ASSIGNMENT_STATUS_ASSIGNED, page_size=200
                    ),
                    metadata=who,
                    timeout=5,
                )
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE:
                    self.errors[f"ListAssignedCases {exc.code().name}"] += 1
                time.sleep(0.5)
                continue
            for assignment in page.assignments:
                if assignment.case_no in self.answered:
                    continue
                try:
                    self._call(
                        portal.AcknowledgeCase,
                        rpb.CaseRequest(case_no=assignment.case_no),
                        who,
                        self._answering,
                    )
                    self._call(portal.AnswerCase, answer(assignment.case_no), who, self._answering)
                    self.answered.add(assignment.case_no)
                except grpc.RpcError as exc:
                    self.errors[f"answer {exc.code().name}"] += 1
            time.sleep(0.3)

    def start(self) -> Stream:
        self._submitting.set()
        self._answering.set()
        self._threads = [
            threading.Thread(target=self._submit, daemon=True),
            threading.Thread(target=self._answer, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop_submitting(self) -> None:
        self._submitting.clear()
        self._threads[0].join(180)

    def stop(self) -> None:
        self._submitting.clear()
        self._answering.clear()
        for thread in self._threads:
            thread.join(180)


def answer(case_no: str) -> rpb.AnswerCaseRequest:
    contact = rpb.ContactRecord(method=rpb.CONTACT_METHOD_PHONE, staff_name="客服专员")
    contact.contacted_at.GetCurrentTime()
    return rpb.AnswerCaseRequest(
        case_no=case_no,
        outcome=rpb.ANSWER_OUTCOME_CLOSED_WITH_EXPLANATION,
        answer="经核实，已电话告知处理结果。",
        contact=contact,
    )


@dataclass
class Faulty:
    """The fault tests' broker, database and platform."""

    rabbit: PrivateRabbit
    pg: PrivatePostgres
    plat: Platform
    env: dict[str, str]


@dataclass
class Reckoning:
    fault: str
    submitted: int
    lost: int
    duplicates: int
    not_final: int
    # Timeline entries applied twice, or missing, for the four steps of a case.
    double_effects: int
    missing_effects: int
    # Cases another service never recorded (routing, blacklist, education).
    unseen: dict[str, int]
    outbox_pending: int
    recovered_seconds: float
    not_ready_seen: list[str]
    client_errors: dict[str, int]

    def row(self) -> tuple[str, ...]:
        return (
            self.fault,
            str(self.submitted),
            str(self.lost),
            str(self.duplicates),
            f"{self.recovered_seconds:.1f} s",
            ", ".join(self.not_ready_seen) or "-",
        )


# What each fault test found, for the table at the end of the run (conftest prints it).
RESULTS: list[Reckoning] = []

FINAL_EVENTS = (
    "intake.case_received",
    "routing.case_assigned",
    "routing.case_answered",
    "intake.case_closed",
)
# Each service's record of a case: one row per case, however often its event was delivered.
PER_CASE = {
    "routing": "SELECT count(*) FROM routing.assignment WHERE case_no = ANY(%s)",
    "blacklist": "SELECT count(*) FROM blacklist.screened_case WHERE case_no = ANY(%s)",
    "education": "SELECT count(*) FROM education.case_seen WHERE case_no = ANY(%s)",
}


def closed_count(pg: PrivatePostgres, request_ids: list[str]) -> int:
    return pg.count(
        "SELECT count(*) FROM intake.\"case\" WHERE request_id = ANY(%s) AND status = 'closed'",
        request_ids,
    )


def outbox_pending(pg: PrivatePostgres) -> int:
    return sum(
        pg.count(f"SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL")  # noqa: S608
        for s in SERVICES
    )


def dead(plat: Platform) -> list[str]:
    """The processes that exited, each with the end of its log."""
    return [
        f"{p.service}-{p.role} exited {p.popen.returncode}: "
        + p.log_path.read_text(errors="replace")[-1500:]
        for p in plat.processes
        if p.popen.poll() is not None
    ]


class ProcessDied(Exception):
    pass


def recovery(
    pg: PrivatePostgres,
    request_ids: list[str],
    watch: HealthWatch,
    healed_at: float,
    plat: Platform,
) -> float:
    """Seconds from the end of the fault until every process is ready again and every case
    submitted until then is closed."""

    def caught_up() -> bool:
        if died := dead(plat):
            raise ProcessDied("\n".join(died))
        return closed_count(pg, request_ids) == len(request_ids) and all(watch.ready().values())

    try:
        wait_for(caught_up, 240, "recovery after the fault", interval=0.5)
    except AssertionError as exc:
        statuses = pg.rows(
            'SELECT status, count(*) FROM intake."case" WHERE request_id = ANY(%s) GROUP BY 1',
            request_ids,
        )
        not_ready = sorted(name for name, ok in watch.ready().items() if not ok)
        raise AssertionError(
            f"{exc}; {len(request_ids)} submitted, by status {dict(statuses)}, "
            f"outboxes pending {outbox_pending(pg)}, not ready {not_ready}"
        ) from None
    return time.monotonic() - healed_at


def reckon(
    pg: PrivatePostgres,
    stream: Stream,
    fault: str,
    recovered_seconds: float,
    watch: HealthWatch,
    settle: float = 180.0,
) -> Reckoning:
    """Waits until every submitted case is closed and every outbox empty (or `settle` runs
    out), then counts what was lost, duplicated, applied twice or never applied."""
    ids = list(stream.request_ids)
    with contextlib.suppress(AssertionError):  # what is missing is counted below
        wait_for(
            lambda: closed_count(pg, ids) == len(ids) and outbox_pending(pg) == 0,
            settle,
            f"{fault}: every case closed",
            interval=1.0,
        )
    rows = pg.rows(
        'SELECT request_id, case_no, status FROM intake."case" WHERE request_id = ANY(%s)', ids
    )
    stored = Counter(r[0] for r in rows)
    case_nos = [r[1] for r in rows]
    steps = pg.rows(
        'SELECT c.case_no, e.type, count(*) FROM intake.case_event e JOIN intake."case" c '
        "ON c.id = e.case_id WHERE c.request_id = ANY(%s) AND e.type = ANY(%s) "
        "GROUP BY c.case_no, e.type",
        ids,
        list(FINAL_EVENTS),
    )
    return Reckoning(
        fault=fault,
        submitted=len(ids),
        lost=sum(1 for rid in ids if stored[rid] == 0),
        duplicates=sum(n - 1 for n in stored.values() if n > 1),
        not_final=sum(1 for r in rows if r[2] != "closed"),
        double_effects=sum(n - 1 for _, _, n in steps if n > 1),
        missing_effects=len(case_nos) * len(FINAL_EVENTS) - len(steps),
        unseen={s: len(case_nos) - pg.count(sql, case_nos) for s, sql in PER_CASE.items()},
        outbox_pending=outbox_pending(pg),
        recovered_seconds=recovered_seconds,
        not_ready_seen=sorted(watch.not_ready),
        client_errors=dict(stream.errors),
    )
