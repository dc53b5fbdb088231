"""XIAOBAO_QUEUE_TYPE=quorum: every queue that carries cases is a durable quorum queue, declared
identically by the outbox relay and by nameko, and events still flow through them.

Runs in a RabbitMQ vhost of its own (the local broker supports quorum queues), with a real
education worker and a real outbox relay; the queues are read back with rabbitmqctl.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import kombu
import psycopg
import pytest
from amqp.exceptions import PreconditionFailed

from services.common import messaging
from services.platform import Platform, free_ports_env
from tests.integration.conftest import (
    ROOT,
    TEST_SECRET,
    eventually,
    own_database,
    own_vhost,
    vhost_uri,
    xiaobao,
)

pytestmark = pytest.mark.integration

CONSUMER = "education"
SOURCE, EVENT = "intake", "case_closed"

# Emits one event into intake's outbox and runs one pass of the outbox relay, in a child (the
# relay is what every worker runs; the child keeps this process's settings cache untouched).
RELAY = textwrap.dedent(
    """
    import json, sys
    from services.common import db, messaging
    from services.common import settings as settings_mod
    from services.intake.models import OutboxMessage

    factory = db.session_factory("intake")
    with db.session_scope(factory) as session:
        envelope = messaging.emit(session, OutboxMessage, "intake.case_closed", json.loads(sys.argv[1]))
    relay = messaging.OutboxRelay("intake", factory, OutboxMessage, settings_mod.get().amqp_uri)
    sent = relay.relay_once()
    relay.close()
    print(json.dumps({"event_id": envelope.event_id, "sent": sent}))
    """
)


def _rabbitmqctl() -> str:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("rabbitmqctl is needed to make a vhost and read queue types", pytrace=False)
    return ctl


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    with own_vhost("xiaobao-quorum") as name:
        yield name


@pytest.fixture(scope="module")
def quorum_database() -> Iterator[str]:
    """A database of its own: the session's platform shares the session database, and its intake
    worker's relay would publish this test's outbox row (to the platform's vhost) first."""
    with own_database("xiaobao_quorum") as url:
        yield url


@pytest.fixture(scope="module")
def env(vhost: str, quorum_database: str, tmp_path_factory) -> dict[str, str]:
    env = {
        "XIAOBAO_DATABASE_URL": quorum_database,
        "XIAOBAO_AMQP_URI": vhost_uri(vhost),
        "XIAOBAO_QUEUE_TYPE": "quorum",
        "XIAOBAO_DATA_DIR": str(tmp_path_factory.mktemp("quorum-data")),
        "XIAOBAO_AUTH_SECRET": TEST_SECRET,
        "XIAOBAO_PII_KEY": TEST_SECRET,
        "XIAOBAO_OUTBOX_POLL_SECONDS": "0.1",
    }
    env.update(free_ports_env(("intake", CONSUMER)))
    for service in ("intake", CONSUMER):
        migrated = xiaobao(env, "db", "upgrade", service)
        assert migrated.returncode == 0, migrated.stderr
    return env


@pytest.fixture(scope="module")
def worker(env: dict[str, str], tmp_path_factory) -> Iterator[Platform]:
    plat = Platform(env=env, log_dir=tmp_path_factory.mktemp("quorum-logs"))
    plat.add_worker(CONSUMER, 1, {})
    try:
        plat.wait_workers((CONSUMER,), plat.settings(), timeout=90)
        yield plat
    finally:
        plat.stop()


def queues(vhost: str) -> dict[str, dict]:
    out = subprocess.run(
        [
            _rabbitmqctl(),
            "list_queues",
            "-p",
            vhost,
            "name",
            "type",
            "durable",
            "messages",
            "--formatter",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return {q["name"]: q for q in json.loads(out.stdout)}


def test_the_workers_queues_are_durable_quorum_queues(worker: Platform, vhost: str):
    found = queues(vhost)
    wanted = messaging.consumer_queue_names(CONSUMER)
    assert wanted
    for name in wanted:
        assert found[name]["type"] == "quorum", found[name]
        assert found[name]["durable"] is True


def test_a_classic_declaration_of_the_same_queue_is_refused(worker: Platform, env):
    # What the relay and nameko must never do to each other: declare the queue differently.
    name = messaging.queue_name(SOURCE, EVENT, CONSUMER, "on_case_closed")
    classic = messaging.durable_queue(
        name, messaging.event_exchange(SOURCE), EVENT, queue_type="classic"
    )
    with kombu.Connection(env["XIAOBAO_AMQP_URI"]) as conn, pytest.raises(PreconditionFailed):
        classic(conn.channel()).declare()


def test_an_event_relayed_from_the_outbox_is_consumed(worker: Platform, env, vhost: str):
    payload = {
        "case_no": f"QQ{uuid.uuid4().hex[:8]}",
        "closed_at": "2026-11-20T10:00:00+08:00",
        "status": "closed",
        "resolution": "quorum queue test",
        "kind": "consultation",
    }
    relayed = subprocess.run(
        [sys.executable, "-c", RELAY, json.dumps(payload)],
        cwd=ROOT,
        env={**Platform(env=env).child_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert relayed.returncode == 0, relayed.stderr[-2000:]
    result = json.loads(relayed.stdout.strip().splitlines()[-1])
    # 1: the relay's quorum pre-declaration matched nameko's (a mismatch fails the pass).
    assert result["sent"] == 1

    def processed():
        with psycopg.connect(env["XIAOBAO_DATABASE_URL"]) as conn:
            return conn.execute(
                "SELECT handler FROM education.processed_event WHERE event_id = %s",
                (result["event_id"],),
            ).fetchall()

    assert eventually(processed, timeout=60) == [(f"{CONSUMER}.on_case_closed",)]

    # Every subscriber's queue was pre-declared as a quorum queue by the relay; the ones with
    # no worker running here hold the message, published persistent.
    found = queues(vhost)
    waiting = messaging.queue_name(SOURCE, EVENT, "routing", "on_case_closed")
    assert found[waiting]["type"] == "quorum"
    with kombu.Connection(env["XIAOBAO_AMQP_URI"]) as conn:
        (queue,) = [
            q for q in messaging.subscription_queues(SOURCE, EVENT, "quorum") if q.name == waiting
        ]
        message = conn.SimpleQueue(queue).get(timeout=10)
        assert message.payload["event_id"] == result["event_id"]
        assert message.properties["delivery_mode"] == 2
        message.ack()


def test_the_dead_letter_queue_is_a_quorum_queue(worker: Platform, env, vhost: str):
    # A malformed body is parked by the worker, which declares the dead-letter queue.
    with kombu.Connection(env["XIAOBAO_AMQP_URI"]) as conn:
        conn.Producer().publish(
            "not an envelope",
            exchange=messaging.event_exchange(SOURCE),
            routing_key=EVENT,
            serializer="json",
            delivery_mode=2,
        )

    def parked():
        found = queues(vhost).get(messaging.DEAD_LETTER_QUEUE)
        return found if found and found["messages"] >= 1 else None

    dlq = eventually(parked, timeout=60)
    assert dlq["type"] == "quorum"
    assert dlq["durable"] is True


def test_classic_stays_the_default():
    from services.common import settings

    assert settings.load({}).queue_type == "classic"
    assert messaging.queue_arguments("classic") == {}
    assert messaging.queue_arguments("quorum") == {"x-queue-type": "quorum"}
