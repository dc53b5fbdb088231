"""Fixtures for integration tests: a real broker, a real PostgreSQL, the ten real processes.

Prefer `platform` (session-wide, started once) and the `staff`/`institution` metadata helpers.
Each session gets its own PostgreSQL database and its own RabbitMQ vhost, so a running demo
or a previous run cannot leak events into the tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from services.common import auth
from services.platform import Platform, check_broker, free_port, free_ports_env

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("XIAOBAO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
AMQP_HOST = os.environ.get("XIAOBAO_TEST_AMQP_HOST", "127.0.0.1:5672")
TEST_SECRET = "integration-test-secret-0123456789abcdef"


# Kept under this name for the tests that take one port for a process of their own.
_free_port = free_port


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"xiaobao_it_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}", pytrace=False)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def amqp_uri() -> Iterator[str]:
    """A vhost of our own when rabbitmqctl is at hand; the default vhost otherwise."""
    vhost = f"xiaobao-it-{uuid.uuid4().hex[:8]}"
    ctl = shutil.which("rabbitmqctl")
    created = False
    if ctl:
        created = subprocess.run([ctl, "add_vhost", vhost], capture_output=True).returncode == 0
        if created:
            subprocess.run(
                [ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                capture_output=True,
                check=True,
            )
    uri = f"amqp://guest:guest@{AMQP_HOST}/{vhost if created else ''}"
    try:
        check_broker(uri)
    except Exception as exc:
        pytest.fail(str(exc), pytrace=False)
    yield uri
    if created:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True)


@contextlib.contextmanager
def own_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of a test's own, dropped afterwards: for tests whose writes the
    session's platform (which shares the session database) must not see or relay."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def own_vhost(prefix: str) -> Iterator[str]:
    """A RabbitMQ vhost of a test's own (its name), deleted afterwards."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("rabbitmqctl is needed to give a test a vhost of its own", pytrace=False)
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "add_vhost", name], capture_output=True, check=True)
    try:
        subprocess.run(
            [ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            capture_output=True,
            check=True,
        )
        yield name
    finally:
        subprocess.run([ctl, "delete_vhost", name], capture_output=True)


def vhost_uri(vhost: str) -> str:
    return f"amqp://guest:guest@{AMQP_HOST}/{vhost}"


@pytest.fixture(scope="session")
def platform_env(database_url: str, amqp_uri: str, tmp_path_factory) -> dict[str, str]:
    env = {
        "XIAOBAO_DATABASE_URL": database_url,
        "XIAOBAO_AMQP_URI": amqp_uri,
        "XIAOBAO_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "XIAOBAO_AUTH_SECRET": TEST_SECRET,
        "XIAOBAO_PII_KEY": TEST_SECRET,
        "XIAOBAO_OUTBOX_POLL_SECONDS": "0.1",
        # Routing's deadline sweep runs often, so a backdated clock is noticed within the test.
        "XIAOBAO_ROUTING_SWEEP_SECONDS": "0.5",
    }
    env.update(free_ports_env())
    return env


def xiaobao(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Runs the CLI as a user would, in a child process with the platform's settings."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def platform(platform_env: dict[str, str], tmp_path_factory) -> Iterator[Platform]:
    # DESIGN: grpcio and eventlet do not mix; this process makes gRPC calls and forks.
    assert "eventlet" not in sys.modules, "a test imported nameko/eventlet into the pytest process"
    migrated = xiaobao(platform_env, "db", "upgrade", "all")
    assert migrated.returncode == 0, migrated.stderr
    loaded = xiaobao(platform_env, "routing", "import-directory")
    assert loaded.returncode == 0, loaded.stderr
    plat = Platform(env=platform_env, log_dir=tmp_path_factory.mktemp("logs"))
    # The test process talks to the apis at the platform's addresses and signs its tokens with
    # the platform's secret.
    saved = {k: os.environ.get(k) for k in platform_env}
    os.environ.update(platform_env)
    from services.common import clients, settings

    settings.get.cache_clear()
    clients.channel.cache_clear()
    try:
        plat.start()
        yield plat
    finally:
        plat.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings.get.cache_clear()
        clients.channel.cache_clear()


@pytest.fixture(scope="session")
def http_base(platform: Platform) -> str:
    """Where the consumer's page and HTTP API answer (intake's api process), without the
    trailing slash: f"{http_base}/api/v1/complaints"."""
    return Platform.consumer_url(platform.settings()).rstrip("/")


@pytest.fixture()
def staff() -> tuple[tuple[str, str], ...]:
    return auth.bearer(auth.issue_token("it-desk", "operator", secret=TEST_SECRET))


def institution(node_id: str) -> tuple[tuple[str, str], ...]:
    return auth.bearer(
        auth.issue_token(f"it-{node_id}", "institution", node_id, secret=TEST_SECRET)
    )


def eventually(check, timeout: float = 20.0, interval: float = 0.2):
    """Polls until check() returns a truthy value; returns it, or fails with the last error."""
    end = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < end:
        try:
            value = check()
        except (AssertionError, LookupError, StopIteration) as exc:
            last = exc
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last error: {last!r}")


def wait_assigned(node_id: str, case_no: str):
    """The case as the institution at node_id sees it in its portal, once routing assigned it."""
    from services.common.clients import stub
    from xiaobao.routing.v1 import routing_pb2 as rpb

    def assigned():
        page = stub("portal").ListAssignedCases(
            rpb.ListAssignedCasesRequest(page_size=500), metadata=institution(node_id), timeout=5
        )
        return next(a for a in page.assignments if a.case_no == case_no)

    return eventually(assigned)


def answer_request(
    case_no: str, outcome: str = "CLOSED_WITH_EXPLANATION", text: str = "", relief_fen: int = 0
):
    """An answer as an institution sends it: outcome, text and how the complainant was told."""
    from xiaobao.routing.v1 import routing_pb2 as rpb

    contact = rpb.ContactRecord(method=rpb.CONTACT_METHOD_PHONE, staff_name="客服专员")
    contact.contacted_at.GetCurrentTime()
    return rpb.AnswerCaseRequest(
        case_no=case_no,
        outcome=rpb.AnswerOutcome.Value(f"ANSWER_OUTCOME_{outcome}"),
        answer=text or "经核实，已电话告知处理结果。",
        relief_amount_fen=relief_fen,
        contact=contact,
    )


def wait_closed(case_no: str, staff):
    """The case once intake has closed it."""
    from services.common.clients import stub
    from xiaobao.intake.v1 import intake_pb2 as ipb

    def closed():
        got = stub("intake").GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff)
        return got if got.status == ipb.CASE_STATUS_CLOSED else None

    return eventually(closed)


def scrape(url: str) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - our own endpoint
        out = {}
        for line in resp.read().decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out
