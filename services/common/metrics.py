"""Every Prometheus metric of the platform, declared once; labels carry only bounded values."""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

# Buckets at the legal limits (days): same day, 1 working day, the 6-day closure target,
# 7 working days to forward, 15/30/60 for the institution's decision, 90 for petitions.
LEGAL_LIMIT_BUCKETS_DAYS = (1.0, 3.0, 6.0, 7.0, 10.0, 15.0, 30.0, 60.0, 90.0)

CLOCK_CLOSED = Counter(
    "xiaobao_clock_closed_total",
    "Clocks stopped, by clock and whether they stopped before their deadline.",
    ["clock", "within_limit"],
)
CLOCK_DURATION_DAYS = Histogram(
    "xiaobao_clock_duration_days",
    "Calendar days from a clock's start to its stop.",
    ["clock"],
    buckets=LEGAL_LIMIT_BUCKETS_DAYS,
)
CLOCK_PROVISIONAL_COMPUTED = Counter(
    "xiaobao_clock_provisional_deadlines_total",
    "Deadlines computed over a year missing from the holiday table (weekends only).",
    ["clock"],
)
ROUTING_NOTICES = Counter(
    "xiaobao_routing_clock_notices_total",
    "Institution clock notices sent by routing's sweep: 60%/80% of the time, and breaches "
    "(each breach escalates the case to the parent office).",
    ["clock", "stage"],
)
CONSUMER_LOOKUPS = Counter(
    "xiaobao_intake_consumer_lookups_total",
    "Consumers' case lookups on the public page: found, not_found (a wrong number or phone) or "
    "refused (too many wrong guesses). A rise in not_found and refused is someone guessing.",
    ["outcome"],
)
# Open-case gauges (xiaobao_clock_open_cases{clock,state}) are computed from the database at
# scrape time by each service's collector; see services/intake/metrics.py.

EVENTS_PUBLISHED = Counter(
    "xiaobao_events_published_total",
    "Events published from the outbox with a broker confirm.",
    ["service", "event_type"],
)
EVENTS_HANDLED = Counter(
    "xiaobao_events_handled_total",
    "Events consumed, by outcome: handled, duplicate (a redelivery, no-op) or dead_lettered.",
    ["service", "event_type", "outcome"],
)
OUTBOX_RELAY_ERRORS = Counter(
    "xiaobao_outbox_relay_errors_total",
    "Relay passes that failed (broker or database unavailable); rows stay pending.",
    ["service"],
)
GRPC_HANDLED = Counter(
    "xiaobao_grpc_server_handled_total",
    "gRPC calls completed, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SECONDS = Histogram(
    "xiaobao_grpc_server_handling_seconds",
    "gRPC call latency.",
    ["grpc_service", "grpc_method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PROCESS_READY = Gauge(
    "xiaobao_ready",
    "1 when the process can serve (database and, for workers, broker reachable).",
    ["service", "process"],
)


class _OutboxPending:
    """xiaobao_outbox_pending{service}: events written but not yet confirmed by the broker."""

    def __init__(self, service: str, count: Callable[[], int]) -> None:
        self.service = service
        self.count = count

    def collect(self):
        family = GaugeMetricFamily(
            "xiaobao_outbox_pending",
            "Outbox events not yet confirmed by the broker.",
            labels=["service"],
        )
        try:
            family.add_metric([self.service], self.count())
        except Exception:  # a scrape must not fail because the database blinked
            return
        yield family


def register_outbox_gauge(service: str, count: Callable[[], int]) -> None:
    with _lock:
        if service not in _outbox_registered:
            REGISTRY.register(_OutboxPending(service, count))
            _outbox_registered.add(service)


_outbox_registered: set[str] = set()
_started: set[int] = set()
_lock = threading.Lock()


def serve(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from the pod network
    """Starts the /metrics endpoint once per port in this process."""
    with _lock:
        if port in _started:
            return
        start_http_server(port, addr=host)
        _started.add(port)
