"""Events between services: the envelope, the outbox, and applying each event exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import services.common.messaging as messaging
from services.common.db import make_engine
from services.common.errors import Unavailable
from services.common.messaging import Envelope, consume, emit, queue_name
from services.routing.models import Base, Node, OutboxMessage, ProcessedEvent

HANDLER = "routing.on_case_received"
AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def case_received(case_no: str = "XB20261121000042") -> Envelope:
    return Envelope(
        type="intake.case_received",
        payload={"case_no": case_no, "kind": "complaint", "institution_text": "工行河西支行"},
        event_id="0123456789abcdef0123456789abcdef",
        occurred_at=datetime(2026, 11, 20, 17, 30, tzinfo=UTC),
    )


# --- the envelope -------------------------------------------------------------------------------


def test_an_envelope_survives_the_trip_through_a_message_body() -> None:
    envelope = case_received()
    body = envelope.to_body()
    assert body["occurred_at"] == "2026-11-20T17:30:00+00:00"
    assert Envelope.from_body(body) == envelope


def test_a_new_envelope_gets_an_id_and_an_aware_time() -> None:
    envelope = Envelope(type="routing.case_assigned", payload={"case_no": "XB20261121000042"})
    assert len(envelope.event_id) == 32
    assert envelope.occurred_at.tzinfo is not None
    assert (envelope.source, envelope.short_type) == ("routing", "case_assigned")


@pytest.mark.parametrize("body", [["not", "a", "dict"], "a string", None, 42])
def test_a_body_that_is_not_an_object_is_refused(body: object) -> None:
    with pytest.raises(ValueError, match="object"):
        Envelope.from_body(body)


@pytest.mark.parametrize("key", ["event_id", "type", "occurred_at", "version", "payload"])
def test_a_body_missing_a_key_is_refused_naming_it(key: str) -> None:
    body = case_received().to_body()
    del body[key]
    with pytest.raises(ValueError, match=key):
        Envelope.from_body(body)


def test_a_body_with_a_naive_time_is_refused() -> None:
    body = case_received().to_body()
    body["occurred_at"] = "2026-11-21T01:30:00"
    with pytest.raises(ValueError, match="UTC offset"):
        Envelope.from_body(body)


def test_a_body_with_an_unqualified_type_is_refused() -> None:
    body = case_received().to_body()
    body["type"] = "case_received"
    with pytest.raises(ValueError, match="malformed"):
        Envelope.from_body(body)


def test_queue_names_follow_nameko_service_pool_naming() -> None:
    assert (
        queue_name("intake", "case_received", "routing", "on_case_received")
        == "evt-intake-case_received--routing.on_case_received"
    )


# --- consume and emit against a real SQLite database --------------------------------------------


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine("routing", f"sqlite:///{tmp_path}/r.db")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine)
    engine.dispose()


def count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


class RecordingHandler:
    """Writes one directory node per case it handles and counts its calls."""

    def __init__(self, fail_with: Exception | None = None, tag: str = "seen") -> None:
        self.calls = 0
        self.tag = tag
        self.fail_with = fail_with

    def __call__(self, session: Session, envelope: Envelope) -> None:
        self.calls += 1
        session.add(
            Node(
                id=f"{self.tag}-{envelope.payload['case_no'].lower()}-{self.calls}",
                name=envelope.payload["institution_text"],
                kind="bank",
                region_code="120103",
            )
        )
        session.flush()
        if self.fail_with is not None:
            raise self.fail_with


def test_the_first_delivery_is_handled_once(factory: sessionmaker[Session]) -> None:
    handler = RecordingHandler()
    outcome = consume(
        "routing", factory, ProcessedEvent, HANDLER, case_received().to_body(), handler, AMQP
    )
    assert outcome == "handled"
    assert handler.calls == 1
    assert count(factory, Node) == 1
    with factory() as session:
        marker = session.get(ProcessedEvent, (case_received().event_id, HANDLER))
        assert marker is not None
        assert marker.event_type == "intake.case_received"


def test_a_redelivered_event_is_a_duplicate_and_changes_nothing(
    factory: sessionmaker[Session],
) -> None:
    handler = RecordingHandler()
    body = case_received().to_body()
    assert consume("routing", factory, ProcessedEvent, HANDLER, body, handler, AMQP) == "handled"
    before = (count(factory, Node), count(factory, ProcessedEvent), count(factory, OutboxMessage))

    assert consume("routing", factory, ProcessedEvent, HANDLER, body, handler, AMQP) == "duplicate"

    assert handler.calls == 1
    after = (count(factory, Node), count(factory, ProcessedEvent), count(factory, OutboxMessage))
    assert after == before


def test_the_same_event_is_handled_once_by_each_handler(factory: sessionmaker[Session]) -> None:
    body = case_received().to_body()
    first, second = RecordingHandler(tag="first"), RecordingHandler(tag="second")
    consume("routing", factory, ProcessedEvent, HANDLER, body, first, AMQP)
    outcome = consume("routing", factory, ProcessedEvent, "routing.other", body, second, AMQP)
    assert outcome == "handled"
    assert second.calls == 1
    assert count(factory, ProcessedEvent) == 2


def test_an_event_that_keeps_failing_is_dead_lettered_and_its_writes_rolled_back(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    parked: list[tuple] = []
    monkeypatch.setattr(messaging, "publish_dead_letter", lambda *args: parked.append(args))
    monkeypatch.setattr(messaging.time, "sleep", lambda _seconds: None)
    handler = RecordingHandler(fail_with=RuntimeError("directory unavailable"))
    body = case_received().to_body()

    outcome = consume("routing", factory, ProcessedEvent, HANDLER, body, handler, AMQP, attempts=3)

    assert outcome == "dead_lettered"
    assert handler.calls == 3
    assert count(factory, Node) == 0
    assert count(factory, ProcessedEvent) == 0
    assert len(parked) == 1
    uri, queue, parked_body, error = parked[0]
    assert (uri, queue, parked_body) == (AMQP, HANDLER, body)
    assert "RuntimeError: directory unavailable" in error


class FlakyDatabase(RecordingHandler):
    """A handler whose database connection drops for the first `outages` calls."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = outages

    def __call__(self, session: Session, envelope: Envelope) -> None:
        if self.calls < self.outages:
            self.calls += 1
            raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
        super().__call__(session, envelope)


def test_a_database_outage_is_waited_out_not_dead_lettered(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    parked: list[tuple] = []
    monkeypatch.setattr(messaging, "publish_dead_letter", lambda *args: parked.append(args))
    monkeypatch.setattr(messaging.time, "sleep", lambda _seconds: None)
    handler = FlakyDatabase(outages=7)  # more failures than attempts: they are not counted

    outcome = consume(
        "routing", factory, ProcessedEvent, HANDLER, case_received().to_body(), handler, AMQP
    )

    assert outcome == "handled"
    assert parked == []
    assert count(factory, Node) == 1
    assert count(factory, ProcessedEvent) == 1


def test_a_long_database_outage_hands_the_event_back_to_its_queue(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    parked: list[tuple] = []
    monkeypatch.setattr(messaging, "publish_dead_letter", lambda *args: parked.append(args))
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(messaging.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(messaging.time, "sleep", lambda _seconds: None)

    with pytest.raises(Unavailable):
        consume(
            "routing",
            factory,
            ProcessedEvent,
            HANDLER,
            case_received().to_body(),
            FlakyDatabase(outages=1_000),
            AMQP,
            unavailable_patience=60,
        )
    assert parked == []  # not the event's fault: nameko requeues it
    assert count(factory, ProcessedEvent) == 0


def test_a_malformed_body_is_dead_lettered_without_calling_the_handler(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    parked: list[tuple] = []
    monkeypatch.setattr(messaging, "publish_dead_letter", lambda *args: parked.append(args))
    handler = RecordingHandler()
    outcome = consume("routing", factory, ProcessedEvent, HANDLER, {"type": "x"}, handler, AMQP)
    assert outcome == "dead_lettered"
    assert handler.calls == 0
    assert "malformed envelope" in parked[0][3]


def test_an_emitted_event_waits_in_the_outbox_with_its_envelope(
    factory: sessionmaker[Session],
) -> None:
    with factory() as session:
        envelope = emit(
            session, OutboxMessage, "routing.case_assigned", {"case_no": "XB20261121000042"}
        )
        session.commit()
    with factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.event_id == envelope.event_id
    assert row.event_type == "routing.case_assigned"
    assert row.body == envelope.to_body()
    assert Envelope.from_body(row.body) == envelope
    assert row.sent_at is None
    assert row.attempts == 0
    assert row.created_at == envelope.occurred_at


def test_an_emitted_event_is_lost_with_its_rolled_back_transaction(
    factory: sessionmaker[Session],
) -> None:
    with factory() as session:
        emit(session, OutboxMessage, "routing.case_assigned", {"case_no": "XB20261121000042"})
        session.rollback()
    assert count(factory, OutboxMessage) == 0
