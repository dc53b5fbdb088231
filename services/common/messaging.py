"""The event envelope, the transactional outbox and its relay, and idempotent consumption.

Events travel in nameko's own format: a JSON body on the durable topic exchange
`<service>.events` with the routing key = the event's short type, so a nameko
`@event_handler("intake", "case_received")` receives what an api process wrote to its outbox.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kombu
from sqlalchemy import JSON, Integer, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from services.common import metrics, notify
from services.common import settings as settings_mod
from services.common.db import UTCDateTime, is_unavailable, session_scope
from services.common.errors import Unavailable
from services.common.logs import mask_text

log = logging.getLogger(__name__)

ENVELOPE_VERSION = 1

# Who consumes what: (source service, short event type) -> [(consumer service, handler method)].
# The relay declares these queues before publishing, exactly as nameko declares them, so an
# event published before its consumer has ever started waits in its queue instead of vanishing.
# tests/unit/test_topology.py checks this against the workers' @event_handler methods.
SUBSCRIPTIONS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("intake", "case_received"): [
        ("routing", "on_case_received"),
        ("mediation", "on_case_received"),
        ("education", "on_case_received"),
        ("blacklist", "on_case_received"),
    ],
    ("intake", "case_closed"): [
        ("routing", "on_case_closed"),
        ("education", "on_case_closed"),
        ("mediation", "on_case_closed"),
    ],
    ("intake", "mediation_requested"): [("mediation", "on_mediation_requested")],
    ("routing", "case_assigned"): [("intake", "on_case_assigned")],
    ("routing", "case_needs_routing"): [("intake", "on_case_needs_routing")],
    ("routing", "case_acknowledged"): [("intake", "on_case_acknowledged")],
    ("routing", "case_answered"): [("intake", "on_case_answered")],
    ("routing", "case_extended"): [("intake", "on_case_extended")],
    ("routing", "clock_paused"): [("intake", "on_clock_paused")],
    ("routing", "clock_resumed"): [("intake", "on_clock_resumed")],
    ("routing", "case_returned"): [("intake", "on_case_returned")],
    ("routing", "deadline_approaching"): [("intake", "on_deadline_approaching")],
    ("routing", "deadline_breached"): [("intake", "on_deadline_breached")],
    # Art 23: mediation time is not counted; both keepers of the complaint's clock follow it.
    ("mediation", "started"): [
        ("intake", "on_mediation_started"),
        ("routing", "on_mediation_started"),
    ],
    ("mediation", "session_scheduled"): [("intake", "on_mediation_session_scheduled")],
    ("mediation", "closed"): [
        ("intake", "on_mediation_closed"),
        ("routing", "on_mediation_closed"),
    ],
    ("blacklist", "clue_raised"): [("intake", "on_clue_raised")],
    ("blacklist", "clue_dismissed"): [("intake", "on_clue_dismissed")],
}

DEAD_LETTER_EXCHANGE = "xiaobao.dead-letters"
DEAD_LETTER_QUEUE = "xiaobao.dead-letters"


def event_exchange(source: str) -> kombu.Exchange:
    # Must match nameko's declaration (topic, durable) or RabbitMQ refuses with 406.
    return kombu.Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)


def queue_name(source: str, event_type: str, consumer: str, method: str) -> str:
    """nameko's SERVICE_POOL queue name for an @event_handler."""
    return f"evt-{source}-{event_type}--{consumer}.{method}"


def queue_arguments(queue_type: str | None = None) -> dict[str, str]:
    """The arguments of every queue that carries cases (XIAOBAO_QUEUE_TYPE when not given).

    Classic queues are declared without arguments, as they always were, so a development broker
    keeps its queues; quorum queues are replicated over the cluster's nodes.
    """
    queue_type = queue_type or settings_mod.get().queue_type
    if queue_type not in settings_mod.QUEUE_TYPES:
        raise ValueError(f"unknown queue type {queue_type!r}")
    return {"x-queue-type": "quorum"} if queue_type == "quorum" else {}


def durable_queue(
    name: str,
    exchange: kombu.Exchange,
    routing_key: str,
    queue_type: str | None = None,
) -> kombu.Queue:
    """The one declaration of a queue that carries cases: the relay's pre-declaration, the
    workers' @handles consumers and the dead-letter queue all use it, because RabbitMQ refuses
    a second declaration with other properties (PRECONDITION_FAILED)."""
    return kombu.Queue(
        name,
        exchange=exchange,
        routing_key=routing_key,
        durable=True,
        auto_delete=False,
        exclusive=False,
        queue_arguments=queue_arguments(queue_type),
    )


def subscription_queues(
    source: str, event_type: str, queue_type: str | None = None
) -> list[kombu.Queue]:
    exchange = event_exchange(source)
    return [
        durable_queue(
            queue_name(source, event_type, consumer, method), exchange, event_type, queue_type
        )
        for consumer, method in SUBSCRIPTIONS.get((source, event_type), [])
    ]


def consumer_queue_names(consumer: str) -> list[str]:
    return [
        queue_name(source, etype, c, method)
        for (source, etype), subs in SUBSCRIPTIONS.items()
        for c, method in subs
        if c == consumer
    ]


@dataclass(frozen=True)
class Envelope:
    """One event: `type` is qualified (`intake.case_received`); payloads carry `case_no`."""

    type: str
    payload: dict[str, Any]
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: int = ENVELOPE_VERSION

    @property
    def source(self) -> str:
        return self.type.split(".", 1)[0]

    @property
    def short_type(self) -> str:
        return self.type.split(".", 1)[1]

    def to_body(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "version": self.version,
            "payload": self.payload,
        }

    @classmethod
    def from_body(cls, body: Any) -> Envelope:
        if not isinstance(body, dict):
            raise ValueError("event body must be an object")
        missing = [
            k for k in ("event_id", "type", "occurred_at", "version", "payload") if k not in body
        ]
        if missing:
            raise ValueError(f"event body lacks {', '.join(missing)}")
        if not isinstance(body["payload"], dict) or "." not in str(body["type"]):
            raise ValueError("event body has a malformed type or payload")
        occurred = datetime.fromisoformat(str(body["occurred_at"]))
        if occurred.tzinfo is None:
            raise ValueError("event occurred_at must carry a UTC offset")
        return cls(
            type=str(body["type"]),
            payload=body["payload"],
            event_id=str(body["event_id"]),
            occurred_at=occurred,
            version=int(body["version"]),
        )


class OutboxMixin:
    """The outbox table each service has: state change and event in one transaction."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    event_type: Mapped[str] = mapped_column(String(80))
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedEventMixin:
    """Events a service's handlers have applied: a redelivery finds its id here and does nothing."""

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    handler: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(80))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())


def emit(
    session: Session, outbox_model: type, event_type: str, payload: dict[str, Any]
) -> Envelope:
    """Adds an event to the outbox inside the caller's transaction."""
    envelope = Envelope(type=event_type, payload=payload)
    notify.announce(session, notify.outbox_channel(envelope.source))  # the relay wakes at commit
    session.add(
        outbox_model(
            event_id=envelope.event_id,
            event_type=event_type,
            body=envelope.to_body(),
            created_at=envelope.occurred_at,
            sent_at=None,
            attempts=0,
        )
    )
    return envelope


class OutboxRelay:
    """Publishes pending outbox rows with publisher confirms and marks them sent.

    At-least-once: a crash between the confirm and the commit republishes the row, which the
    idempotent consumers absorb.
    """

    def __init__(
        self,
        service: str,
        factory: sessionmaker[Session],
        outbox_model: type,
        amqp_uri: str,
        batch_size: int = 200,
    ) -> None:
        self.service = service
        self.factory = factory
        self.model = outbox_model
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        self._connection: kombu.Connection | None = None
        self._producer: kombu.Producer | None = None
        self._declared: set[str] = set()
        self.failures = 0  # consecutive failed passes, for the caller's back-off

    def _producer_ready(self) -> kombu.Producer:
        if self._producer is None:
            self._connection = kombu.Connection(
                self.amqp_uri, transport_options={"confirm_publish": True}, connect_timeout=5
            )
            self._connection.ensure_connection(max_retries=1)
            self._producer = kombu.Producer(self._connection.channel())
            self._declared.clear()
        return self._producer

    def _declare(self, producer: kombu.Producer, source: str, event_type: str) -> None:
        key = f"{source}.{event_type}"
        if key in self._declared:
            return
        event_exchange(source)(producer.channel).declare()
        for queue in subscription_queues(source, event_type):
            queue(producer.channel).declare()
        self._declared.add(key)

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # closing a dead connection
                self._connection.release()
        self._connection = None
        self._producer = None

    def relay_once(self) -> int:
        """One pass: publishes up to batch_size rows; returns how many were confirmed.

        Rows confirmed before a failure are marked sent in the same pass, so an outage mid-batch
        republishes only what the broker did not confirm.
        """
        sent = 0
        error: Exception | None = None
        try:
            with session_scope(self.factory) as session:
                query = (
                    select(self.model)
                    .where(self.model.sent_at.is_(None))
                    .order_by(self.model.id)
                    .limit(self.batch_size)
                )
                if session.get_bind().dialect.name == "postgresql":
                    # Several relays (replicas) never publish the same row at once.
                    query = query.with_for_update(skip_locked=True)
                rows = session.scalars(query).all()
                confirmed = []
                try:
                    producer = self._producer_ready() if rows else None
                    for row in rows:
                        source, short = row.event_type.split(".", 1)
                        self._declare(producer, source, short)
                        row.attempts += 1
                        producer.publish(
                            row.body,
                            exchange=event_exchange(source),
                            routing_key=short,
                            serializer="json",
                            delivery_mode=2,
                            message_id=row.event_id,
                            headers={"xiaobao.event_type": row.event_type},
                        )
                        # publish() returned: the broker confirmed the message.
                        row.sent_at = datetime.now(UTC)
                        confirmed.append(row.event_type)
                except Exception as exc:  # broker gone mid-batch: keep what was confirmed
                    error = exc
            sent = len(confirmed)
            for event_type in confirmed:
                metrics.EVENTS_PUBLISHED.labels(self.service, event_type).inc()
        except Exception as exc:  # the database itself failed
            error = exc
        if error is not None:
            metrics.OUTBOX_RELAY_ERRORS.labels(self.service).inc()
            if self.failures == 0:  # once per outage, not once per retry
                log.warning(
                    "outbox relay pass failed (%s); rows stay pending", type(error).__name__
                )
            self.failures += 1
            self.close()
            return sent
        if self.failures:
            log.info("outbox relay recovered after %d failed passes", self.failures)
        self.failures = 0
        return sent

    def pending(self) -> int:
        with session_scope(self.factory) as session:
            return (
                session.scalar(
                    select(func.count()).select_from(self.model).where(self.model.sent_at.is_(None))
                )
                or 0
            )


def handler_queue(handler: str) -> str:
    """The queue a handler ("intake.on_case_assigned") consumes, from the subscriptions."""
    consumer, _, method = handler.partition(".")
    for (source, event_type), subscribers in SUBSCRIPTIONS.items():
        if (consumer, method) in subscribers:
            return queue_name(source, event_type, consumer, method)
    return ""


def publish_dead_letter(amqp_uri: str, handler: str, body: Any, error: str) -> None:
    """Parks a message that kept failing where an operator can inspect and replay it
    (`xiaobao ops dlq`): its own id, the queue it came from, the handler and the masked error."""
    with kombu.Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        exchange = kombu.Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
        dlq = durable_queue(DEAD_LETTER_QUEUE, exchange, "dead")
        producer = conn.Producer()
        # A body that never decoded is parked as the bytes it was.
        raw = isinstance(body, bytes)
        producer.publish(
            body,
            exchange=exchange,
            routing_key="dead",
            serializer=None if raw else "json",
            content_type="application/octet-stream" if raw else None,
            content_encoding="binary" if raw else None,
            delivery_mode=2,
            declare=[dlq],
            message_id=uuid.uuid4().hex[:12],
            headers={
                "x-original-queue": handler_queue(handler),
                "x-handler": handler,
                "x-error": mask_text(error),
                "x-dead-lettered-at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            retry=True,
        )


Handler = Callable[[Session, Envelope], None]


def consume(
    service: str,
    factory: sessionmaker[Session],
    processed_model: type,
    handler_name: str,
    body: Any,
    handle: Handler,
    amqp_uri: str,
    attempts: int = 3,
    unavailable_patience: float = 60.0,
) -> str:
    """Applies an event exactly once in effect; returns handled, duplicate or dead_lettered.

    The handler's writes and the processed-event marker commit in one transaction, so a
    redelivered event (same event_id) finds the marker and changes nothing. A handler that keeps
    failing is dead-lettered after `attempts`; a database that is down is not the event's fault:
    the handler waits for it, and after `unavailable_patience` seconds raises Unavailable so the
    worker puts the event back on its queue.
    """
    try:
        envelope = Envelope.from_body(body)
    except (ValueError, TypeError) as exc:
        publish_dead_letter(amqp_uri, handler_name, body, f"malformed envelope: {exc}")
        metrics.EVENTS_HANDLED.labels(service, "malformed", "dead_lettered").inc()
        log.error("malformed event dead-lettered for %s: %s", handler_name, exc)
        return "dead_lettered"
    last_error = ""
    attempt = 0
    outage_since: float | None = None
    while attempt < attempts:
        attempt += 1
        try:
            with session_scope(factory) as session:
                # The marker first: its key stops a second delivery at once (IntegrityError,
                # below), without a SELECT for every first one, and a concurrent delivery of the
                # same event waits on it instead of doing the handler's work to roll it back.
                session.add(
                    processed_model(
                        event_id=envelope.event_id,
                        handler=handler_name,
                        event_type=envelope.type,
                        processed_at=datetime.now(UTC),
                    )
                )
                session.flush()
                handle(session, envelope)
            metrics.EVENTS_HANDLED.labels(service, envelope.type, "handled").inc()
            return "handled"
        except IntegrityError:
            # Already applied (a redelivery, or a concurrent delivery that committed first); or
            # the handler's own write broke a constraint, which counts as a failed attempt.
            with session_scope(factory) as session:
                if session.get(processed_model, (envelope.event_id, handler_name)) is not None:
                    metrics.EVENTS_HANDLED.labels(service, envelope.type, "duplicate").inc()
                    return "duplicate"
            last_error = "IntegrityError"
        except Exception as exc:
            if is_unavailable(exc):
                attempt -= 1
                now = time.monotonic()
                if outage_since is None:
                    outage_since = now
                    log.warning("database unavailable; %s waits for it", handler_name)
                if now - outage_since > unavailable_patience:
                    raise Unavailable(f"database unavailable for {handler_name}") from None
                time.sleep(min(5.0, 0.25 * 2 ** min(int(now - outage_since), 4)))
                continue
            last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "handler %s failed on %s (attempt %d/%d): %s",
                handler_name,
                envelope.event_id,
                attempt,
                attempts,
                type(exc).__name__,
            )
        time.sleep(0.2 * attempt)
    publish_dead_letter(amqp_uri, handler_name, body, last_error[:500])
    metrics.EVENTS_HANDLED.labels(service, envelope.type, "dead_lettered").inc()
    log.error(
        "event %s dead-lettered after %d attempts in %s", envelope.event_id, attempts, handler_name
    )
    return "dead_lettered"
