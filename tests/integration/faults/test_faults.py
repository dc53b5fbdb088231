"""Faults while complaints flow: the broker stops, processes are killed, the database restarts,
answers arrive before their assignments, events arrive again twice, and poison lands
on every queue. After each, every case
exists once, is closed, every step happened once, no outbox holds anything back, and the health
checks went not-ready and came back. The table is printed at the end of the run."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable

import kombu
import pytest

from services.common.messaging import SUBSCRIPTIONS, event_exchange, queue_name
from services.common.settings import SERVICES
from tests.integration.conftest import xiaobao
from tests.integration.faults.harness import (
    RESULTS,
    Faulty,
    HealthWatch,
    Reckoning,
    Stream,
    kill9,
    reckon,
    recovery,
    respawn,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

EVERY_API = {f"{s}-api" for s in SERVICES}
ALL_QUEUES = [
    queue_name(source, event_type, consumer, method)
    for (source, event_type), subscribers in SUBSCRIPTIONS.items()
    for consumer, method in subscribers
]


def dead_letters(faulty: Faulty) -> list[dict]:
    listed = xiaobao(faulty.env, "ops", "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]


def run_fault(
    faulty: Faulty,
    fault: str,
    inject: Callable[[], None],
    expect_not_ready: set[str],
    steady: float = 6.0,
) -> Reckoning:
    """A steady stream; the fault (inject returns once it is healed); the stream goes on; then
    the reckoning, which must find nothing lost, doubled, stuck or unapplied."""
    stream = Stream(faulty.env).start()
    try:
        with HealthWatch(faulty.plat, faulty.env) as watch:
            time.sleep(steady)
            assert stream.case_nos, f"no case went through before the fault: {stream.errors}"
            inject()
            healed_at = time.monotonic()
            recovered = recovery(faulty.pg, list(stream.request_ids), watch, healed_at, faulty.plat)
            time.sleep(4)  # complaints keep coming after the recovery
            stream.stop_submitting()
            result = reckon(faulty.pg, stream, fault, recovered, watch)
    finally:
        stream.stop()
    RESULTS.append(result)
    assert result.client_errors == {}, result
    assert (result.lost, result.duplicates, result.not_final) == (0, 0, 0), result
    assert (result.double_effects, result.missing_effects) == (0, 0), result
    assert result.unseen == {"routing": 0, "blacklist": 0, "education": 0}, result
    assert result.outbox_pending == 0, result
    missing = expect_not_ready - set(result.not_ready_seen)
    assert not missing, f"{fault}: these health checks never went not-ready: {missing}"
    if not expect_not_ready:
        assert result.not_ready_seen == [], f"{fault} should not disturb health: {result}"
    assert all(p.popen.poll() is None for p in faulty.plat.processes), "a process died"
    return result


def test_rabbitmq_stopped_for_20_seconds(faulty: Faulty) -> None:
    def outage() -> None:
        faulty.rabbit.stop()
        time.sleep(20)
        faulty.rabbit.start()

    # Every api reports the broker's absence; the intake worker's relay has events to send.
    run_fault(faulty, "RabbitMQ stopped 20 s", outage, EVERY_API | {"intake-worker"})
    assert dead_letters(faulty) == []


def test_routing_worker_and_intake_api_killed_mid_stream(faulty: Faulty) -> None:
    def kill_and_restart() -> None:
        plat = faulty.plat
        worker = next(p for p in plat.processes if (p.service, p.role) == ("routing", "worker"))
        api = next(p for p in plat.processes if (p.service, p.role) == ("intake", "api"))
        kill9(worker)
        kill9(api)
        time.sleep(3)
        respawn(plat, worker)
        respawn(plat, api)

    run_fault(
        faulty,
        "kill -9 routing worker + intake api",
        kill_and_restart,
        {"intake-api", "routing-worker"},
    )
    assert dead_letters(faulty) == []


def test_postgresql_restarted(faulty: Faulty) -> None:
    def restart() -> None:
        faulty.pg.stop("immediate")  # as a crash: recovery from the WAL at start
        time.sleep(5)
        faulty.pg.start()

    run_fault(faulty, "PostgreSQL restarted (5 s down)", restart, EVERY_API | {"intake-worker"})
    assert dead_letters(faulty) == []


def test_assignments_held_back_so_answers_arrive_first(faulty: Faulty) -> None:
    assigned_queue = queue_name("routing", "case_assigned", "intake", "on_case_assigned")
    held: list = []

    def hold_back_assignments() -> None:
        # A second consumer on intake's case_assigned queue takes its share of the assignments
        # for 10 s and holds them while institutions answer those cases and intake applies the
        # answers; 5 s later it delivers them again: each of those answers before its assignment.
        with kombu.Connection(
            faulty.rabbit.uri, transport_options={"confirm_publish": True}
        ) as conn:
            channel = conn.channel()
            queue = kombu.Queue(assigned_queue, no_declare=True)
            with kombu.Consumer(
                channel, [queue], callbacks=[lambda _b, m: held.append(m)], accept=None
            ):
                end = time.monotonic() + 10
                while time.monotonic() < end:
                    with contextlib.suppress(TimeoutError, socket.timeout):
                        conn.drain_events(timeout=0.5)
            time.sleep(5)
            producer = conn.Producer()
            for message in held:
                producer.publish(
                    message.body,
                    exchange="",
                    routing_key=assigned_queue,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    headers=message.headers,
                    delivery_mode=2,
                )
                message.ack()

    run_fault(faulty, "assignments held back 5-15 s, answers first", hold_back_assignments, set())
    assert dead_letters(faulty) == []
    # The fault did what it says: intake recorded answers before their assignments.
    reversed_cases = faulty.pg.count(
        "SELECT count(*) FROM intake.case_event a JOIN intake.case_event b "
        "ON a.case_id = b.case_id WHERE a.type = 'routing.case_answered' "
        "AND b.type = 'routing.case_assigned' AND a.id < b.id"
    )
    assert len(held) > 5 and reversed_cases > 5, (len(held), reversed_cases)


def test_events_delivered_twice_and_out_of_order(faulty: Faulty) -> None:
    sent: list[dict] = []

    def replay_history() -> None:
        # Every event already sent for the cases so far, published twice, newest first: a
        # closing before its receipt, an answer before its assignment.
        for service in SERVICES:
            sent.extend(
                body
                for (body,) in faulty.pg.rows(
                    f"SELECT body FROM {service}.outbox WHERE sent_at IS NOT NULL ORDER BY id DESC"  # noqa: S608
                )
            )
        with kombu.Connection(
            faulty.rabbit.uri, transport_options={"confirm_publish": True}
        ) as conn:
            producer = conn.Producer()
            for _ in range(2):
                for body in sent:
                    source, short = body["type"].split(".", 1)
                    producer.publish(
                        body,
                        exchange=event_exchange(source),
                        routing_key=short,
                        serializer="json",
                        delivery_mode=2,
                    )

    run_fault(faulty, "every event again, twice, newest first", replay_history, set())
    assert len(sent) > 50, "too little history was replayed to prove anything"
    assert dead_letters(faulty) == []


def test_poison_on_every_queue_is_dead_lettered_and_can_be_replayed(faulty: Faulty) -> None:
    poisons = {
        "not JSON": (b"\x00\xff{{ not json", "application/json"),
        "not an envelope": (json.dumps(["no", "envelope"]).encode(), "application/json"),
    }

    def poison() -> None:
        with kombu.Connection(
            faulty.rabbit.uri, transport_options={"confirm_publish": True}
        ) as conn:
            producer = conn.Producer()
            for queue in ALL_QUEUES:
                for body, content_type in poisons.values():
                    producer.publish(
                        body,
                        exchange="",
                        routing_key=queue,
                        content_type=content_type,
                        content_encoding="utf-8",
                        delivery_mode=2,
                    )

    expected = len(ALL_QUEUES) * len(poisons)
    run_fault(faulty, f"poison x{expected} on {len(ALL_QUEUES)} queues", poison, set())

    parked = wait_for(
        lambda: (found := dead_letters(faulty)) and len(found) >= expected and found,
        60,
        "every poison message in the dead-letter queue",
    )
    assert len(parked) == expected
    # Each queue's two poisons are there, named by the queue they came from.
    assert sorted(p["queue"] for p in parked) == sorted(ALL_QUEUES * len(poisons))
    assert all(p["error"] for p in parked)

    # Replayed, a poison is still poison: it goes back to its queue and is parked again.
    first = parked[0]
    replayed = xiaobao(faulty.env, "ops", "dlq", "replay", first["id"])
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {first['id']} to {first['queue']}" in replayed.stdout

    def parked_again():
        now = dead_letters(faulty)
        ids = {p["id"] for p in now}
        return len(now) == expected and first["id"] not in ids and now

    again = wait_for(parked_again, 60, "the replayed poison parked again under a new id")
    assert sorted(p["queue"] for p in again) == sorted(ALL_QUEUES * len(poisons))

    unknown = xiaobao(faulty.env, "ops", "dlq", "replay", "no-such-id")
    assert unknown.returncode == 1 and "no-such-id" in unknown.stderr
    dropped = xiaobao(faulty.env, "ops", "dlq", "drop", *(p["id"] for p in again))
    assert dropped.returncode == 0, dropped.stderr
    assert dead_letters(faulty) == []
