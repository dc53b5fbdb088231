"""What every nameko worker shares: database, outbox relay, /metrics, idempotent handlers.

Workers run under eventlet (`nameko run`); nothing here imports grpcio.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

import eventlet
import psycopg.waiting
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer

from services.common import db, logs, metrics, notify
from services.common import settings as settings_mod
from services.common.messaging import OutboxRelay, consume, durable_queue, publish_dead_letter

# psycopg's default (C) wait for the server blocks the whole eventlet hub: every query of a
# handler would stall the worker's other green threads, the outbox relay included. Its
# selector-based wait goes through the monkey-patched selectors and yields instead.
psycopg.waiting.wait = psycopg.waiting.wait_selector

log = logging.getLogger(__name__)


class ServiceDatabase:
    """What a worker method gets as `self.db`."""

    def __init__(self, service: str, processed_model: type) -> None:
        self.service = service
        self.factory = db.session_factory(service)
        self.processed_model = processed_model

    def session(self):
        return db.session_scope(self.factory)


class Database(DependencyProvider):
    def __init__(self, service: str, processed_model: type) -> None:
        self.service = service
        self.processed_model = processed_model

    def setup(self) -> None:
        cfg = settings_mod.get()
        logs.setup(self.service, "worker", cfg.log_level, cfg.log_format)
        self.database = ServiceDatabase(self.service, self.processed_model)

    def get_dependency(self, worker_ctx) -> ServiceDatabase:
        return self.database


class Relay(DependencyProvider):
    """Runs the service's outbox relay as a managed green thread of the worker.

    On PostgreSQL every transaction that writes the outbox (in this worker or in the service's
    api) notifies the relay at commit (services.common.notify), so an event leaves within
    milliseconds; the relay still looks every `outbox_poll_seconds` while it is not listening,
    and every NOTIFIED_POLL_SECONDS while it is, in case a notification was missed.
    """

    NOTIFIED_POLL_SECONDS = 2.0

    def __init__(self, service: str, outbox_model: type) -> None:
        self.service = service
        self.outbox_model = outbox_model
        self._running = False
        self.listener: notify.Listener | None = None

    def setup(self) -> None:
        cfg = settings_mod.get()
        self.interval = cfg.outbox_poll_seconds
        self.relay = OutboxRelay(
            self.service, db.session_factory(self.service), self.outbox_model, cfg.amqp_uri
        )
        self.wakeup = notify.Signal()
        url = notify.listen_url(self.service)
        if url is not None:
            self.listener = notify.Listener(
                url,
                [notify.outbox_channel(self.service)],
                self.wakeup.wake,
                name=f"{self.service} outbox listener",
            )
        metrics.register_outbox_gauge(self.service, self.relay.pending)

    def start(self) -> None:
        self._running = True
        if self.listener is not None:
            self.listener.start()
        self.container.spawn_managed_thread(self._loop)

    def _loop(self) -> None:
        while self._running:
            seen = self.wakeup.generation  # a notification from here on ends the wait below
            sent = self.relay.relay_once()
            # Not ready while the relay cannot reach the database or the broker.
            metrics.set_ready(self.service, "worker", not self.relay.failures)
            if self.relay.failures:
                # Broker or database down: back off up to 5 s instead of hammering it.
                eventlet.sleep(min(5.0, self.interval * 2**self.relay.failures))
            elif sent == 0:
                listening = self.listener is not None and self.listener.connected
                self.wakeup.wait(
                    seen,
                    max(self.interval, self.NOTIFIED_POLL_SECONDS) if listening else self.interval,
                )
            else:
                eventlet.sleep(0)

    def stop(self) -> None:
        self._running = False
        if self.listener is not None:
            self.listener.stop()
        self.wakeup.wake()
        self.relay.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx) -> OutboxRelay:
        return self.relay


class Metrics(DependencyProvider):
    """Serves /metrics for the worker and marks it ready once the container has started."""

    def __init__(self, service: str) -> None:
        self.service = service

    def setup(self) -> None:
        cfg = settings_mod.get()
        metrics.serve(cfg.service(self.service).worker_metrics_port, cfg.bind_host)

    def start(self) -> None:
        metrics.set_ready(self.service, "worker", True)

    def stop(self) -> None:
        metrics.set_ready(self.service, "worker", False)

    def get_dependency(self, worker_ctx) -> None:
        return None


class DeadLetteringQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a message it cannot even decode (not JSON, or a
    content type it does not accept) is parked in the dead-letter queue and acknowledged
    (kombu's default drops it, and logs its body: personal data); that it reconnects to a
    restarted broker within seconds; and that a lost connection does not kill the worker."""

    @contextlib.contextmanager
    def establish_connection(self):
        # kombu's back-off grows to 30 s between attempts: after a broker restart the cases
        # would wait that long. Every 1-3 s is cheap, and what a restart wants.
        with self.create_connection() as conn:
            conn.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                interval_start=1,
                interval_step=1,
                interval_max=3,
            )
            yield conn

    # A handler that finishes after the broker connection dropped acks on a dead socket. nameko
    # swallows only amqp's ConnectionError there; the socket's own error killed the worker. The
    # broker has reclaimed the message and delivers it again; the handler is idempotent.
    def ack_message(self, message) -> None:
        with contextlib.suppress(OSError):
            super().ack_message(message)

    def requeue_message(self, message) -> None:
        with contextlib.suppress(OSError):
            super().requeue_message(message)

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = functools.partial(self._park, provider)
        return consumers

    def _park(self, provider, message, exc: Exception) -> None:
        service = provider.container.service_name
        publish_dead_letter(
            settings_mod.get().amqp_uri,
            f"{service}.{provider.method_name}",
            message.body,
            f"undecodable message ({message.content_type or 'no content type'}): "
            f"{type(exc).__name__}",
        )
        metrics.EVENTS_HANDLED.labels(service, "malformed", "dead_lettered").inc()
        log.error("undecodable message dead-lettered for %s.%s", service, provider.method_name)
        message.ack()


class CaseEventHandler(EventHandler):
    """nameko's SERVICE_POOL event handler, its queue declared as the relay declares it.

    nameko builds a plain durable queue in setup(); this one swaps in messaging.durable_queue
    (same name, exchange and routing key) before the consumer starts, so with
    XIAOBAO_QUEUE_TYPE=quorum both declarations carry x-queue-type and RabbitMQ accepts both.
    """

    queue_consumer = DeadLetteringQueueConsumer()

    def setup(self) -> None:
        super().setup()  # builds self.queue and registers with the queue consumer
        built = self.queue
        self.queue = durable_queue(built.name, built.exchange, built.routing_key)


def handles(source: str, event_type: str) -> Callable:
    """`@event_handler` plus exactly-once effect: the method gets (session, envelope).

    The wrapped method must be a worker method named as in messaging.SUBSCRIPTIONS.
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(self, body: Any) -> str:
            database: ServiceDatabase = self.db
            return consume(
                database.service,
                database.factory,
                database.processed_model,
                f"{database.service}.{fn.__name__}",
                body,
                lambda session, envelope: fn(self, session, envelope),
                settings_mod.get().amqp_uri,
            )

        # requeue_on_error: only Unavailable escapes consume(); the event goes back to its queue.
        return CaseEventHandler.decorator(source, event_type, requeue_on_error=True)(wrapper)

    return decorate
