"""The outbox relay on a real SQLite outbox, with the broker replaced by a recording producer."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.common import db
from services.common.messaging import OutboxRelay, emit
from services.routing.models import Base, OutboxMessage


class Producer:
    """Confirms every publish until `fail_at` (1-based), where the broker goes away."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.published: list[dict] = []

    def publish(self, body, **kwargs) -> None:
        if self.fail_at is not None and len(self.published) + 1 == self.fail_at:
            raise ConnectionResetError("broker went away")
        self.published.append({"body": body, **kwargs})


@pytest.fixture()
def relay(tmp_path, monkeypatch):
    engine = db.make_engine("routing", f"sqlite:///{tmp_path}/routing.db")
    Base.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with db.session_scope(factory) as session:
        for i in range(5):
            emit(
                session, OutboxMessage, "routing.case_assigned", {"case_no": f"XB2026112100000{i}"}
            )
    relay = OutboxRelay("routing", factory, OutboxMessage, "amqp://unused//")
    monkeypatch.setattr(relay, "_declare", lambda *args: None)
    yield relay
    engine.dispose()


def sent_flags(relay: OutboxRelay) -> list[bool]:
    with db.session_scope(relay.factory) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [row.sent_at is not None for row in rows]


def test_an_outage_mid_batch_keeps_what_the_broker_confirmed(relay, monkeypatch):
    broken = Producer(fail_at=3)
    monkeypatch.setattr(relay, "_producer_ready", lambda: broken)
    assert relay.relay_once() == 2
    assert sent_flags(relay) == [True, True, False, False, False]
    assert relay.failures == 1
    assert relay.pending() == 3

    healthy = Producer()
    monkeypatch.setattr(relay, "_producer_ready", lambda: healthy)
    assert relay.relay_once() == 3
    assert relay.failures == 0
    assert sent_flags(relay) == [True] * 5
    # In nameko's format: the short type as routing key on the source's exchange, in order.
    assert [p["routing_key"] for p in healthy.published] == ["case_assigned"] * 3
    assert healthy.published[0]["exchange"].name == "routing.events"
    assert [p["body"]["payload"]["case_no"][-1] for p in healthy.published] == ["2", "3", "4"]


def test_an_empty_outbox_does_not_touch_the_broker(relay, monkeypatch):
    healthy = Producer()
    monkeypatch.setattr(relay, "_producer_ready", lambda: healthy)
    assert relay.relay_once() == 5
    monkeypatch.setattr(relay, "_producer_ready", lambda: pytest.fail("connected for nothing"))
    assert relay.relay_once() == 0
