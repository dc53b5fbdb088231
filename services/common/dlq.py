"""The dead-letter queue as an operator sees it: list what was parked and why, replay it to the
queue it came from once the cause is mended, or drop a message that can never be handled.

Every parked message carries its own id (the AMQP message_id), the queue it came from, the
handler, the error (masked) and when it was parked; the body is never printed, because a case
event carries the complainant's personal data.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import kombu

from services.common.messaging import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    durable_queue,
    handler_queue,
)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    queue: str
    handler: str
    error: str
    parked_at: str
    event_type: str
    event_id: str
    case_no: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _decode(message) -> Any:
    try:
        return json.loads(message.body) if isinstance(message.body, bytes | str) else message.body
    except (ValueError, UnicodeDecodeError):
        return None


def _describe(message) -> DeadLetter:
    headers = message.headers or {}
    body = _decode(message)
    body = body if isinstance(body, dict) else {}
    payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
    handler = str(headers.get("x-handler") or headers.get("x-original-queue") or "")
    queue = str(headers.get("x-original-queue") or "")
    if queue and not queue.startswith("evt-"):
        # Parked before the queue name was recorded: the header held the handler.
        queue = handler_queue(queue)
    return DeadLetter(
        id=str(message.properties.get("message_id") or ""),
        queue=queue,
        handler=handler,
        error=str(headers.get("x-error") or ""),
        parked_at=str(headers.get("x-dead-lettered-at") or ""),
        event_type=str(body.get("type") or ""),
        event_id=str(body.get("event_id") or ""),
        case_no=str(payload.get("case_no") or ""),
    )


class DeadLetters:
    """One connection to the broker's dead-letter queue."""

    def __init__(self, amqp_uri: str) -> None:
        self.amqp_uri = amqp_uri

    def _walk(
        self,
        visit: Callable[[kombu.Connection, Any, DeadLetter], bool],
        done: Callable[[], bool] = lambda: False,
    ) -> None:
        """Takes every parked message once (until done()), unacknowledged; those visit() keeps
        (True) are acknowledged, the rest go back in their place when the channel closes."""
        options = {"confirm_publish": True}
        with kombu.Connection(self.amqp_uri, connect_timeout=5, transport_options=options) as conn:
            exchange = kombu.Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
            channel = conn.channel()
            try:
                queue = durable_queue(DEAD_LETTER_QUEUE, exchange, "dead")(channel)
                queue.declare()
                while not done() and (message := queue.get(no_ack=False, accept=None)):
                    if visit(conn, message, _describe(message)):
                        message.ack()
            finally:
                channel.close()

    def list(self, limit: int = 0) -> list[DeadLetter]:
        found: list[DeadLetter] = []

        def keep(_conn, _message, letter: DeadLetter) -> bool:
            found.append(letter)
            return False

        self._walk(keep, lambda: bool(limit) and len(found) >= limit)
        return found

    def replay(self, ids: Iterable[str] = (), everything: bool = False) -> list[DeadLetter]:
        """Publishes the chosen messages, as they were, to the queue each came from (only that
        consumer sees it again), with publisher confirms, then removes them from this queue."""
        wanted = set(ids)
        replayed: list[DeadLetter] = []

        def send(conn: kombu.Connection, message, letter: DeadLetter) -> bool:
            if not (everything or letter.id in wanted) or not letter.queue:
                return False
            producer = kombu.Producer(conn.channel())
            try:
                # Passive: a queue that is gone (its consumer retired) keeps the message here.
                producer.channel.queue_declare(queue=letter.queue, passive=True)
                producer.publish(
                    message.body,
                    exchange="",
                    routing_key=letter.queue,
                    content_type=message.content_type or "application/json",
                    content_encoding=message.content_encoding or "utf-8",
                    delivery_mode=2,
                    headers={"x-replayed-from": letter.id},
                    mandatory=True,
                )
            except conn.channel_errors:
                return False
            finally:
                with contextlib.suppress(*conn.connection_errors, *conn.channel_errors):
                    producer.channel.close()
            replayed.append(letter)
            return True

        self._walk(send)
        return replayed

    def drop(self, ids: Iterable[str]) -> list[DeadLetter]:
        wanted = set(ids)
        dropped: list[DeadLetter] = []

        def remove(_conn, _message, letter: DeadLetter) -> bool:
            if letter.id in wanted:
                dropped.append(letter)
                return True
            return False

        self._walk(remove)
        return dropped
