"""Every Prometheus metric of the platform, declared once; labels carry only bounded values."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from services.common.clock import ClockSpec, Policy, in_force, load_policy

log = logging.getLogger(__name__)

# The SLI states of a running clock (the clock engine's, minus not_started and stopped).
OPEN_STATES = ("ok", "at_risk", "overdue")
# Clocks started by a mediation event are measured by the mediation service (it holds their
# records); every other clock by intake, which keeps every case's timeline.
MEDIATION_EVENT_PREFIX = "mediation."


def clock_owner(spec: ClockSpec) -> str:
    """The one service that exports a clock's open-case gauge (no two services count one clock)."""
    return "mediation" if spec.start_event.startswith(MEDIATION_EVENT_PREFIX) else "intake"


def working_days_span(days: int) -> int:
    """The most calendar days `days` working days take in a week without holidays (received on
    a Friday: every fifth working day brings a weekend; Golden Week and Spring Festival take
    longer). 7 working days: 11 calendar days."""
    return days + 2 * max(1, math.ceil(days / 5))


def legal_limit_buckets(policy: Policy) -> tuple[float, ...]:
    """Histogram buckets (calendar days) at every limit and extension step of the policy.

    The duration histogram is in calendar days; a working-day limit adds both its number and the
    calendar span it takes in an ordinary week, so "within 7 working days" can be read off. A
    limit of 0 (the same day) is the 1-day bucket.
    """
    edges: set[float] = {1.0}
    for spec in policy.clocks.values():
        for step in (spec.limit, *(e.to for e in spec.extensions)):
            edges.add(float(max(step, 1)))
            if spec.unit == "working_days":
                edges.add(float(working_days_span(step)))
    return tuple(sorted(edges))


# Fallback when the policy cannot be read at import (a broken file is reported by the clock
# engine itself; metrics must still import).
DEFAULT_LEGAL_LIMIT_BUCKETS_DAYS = (1.0, 2.0, 3.0, 5.0, 7.0, 11.0, 15.0, 30.0, 60.0, 90.0)


def _buckets_in_force() -> tuple[float, ...]:
    try:
        return legal_limit_buckets(load_policy())
    except (OSError, ValueError) as exc:
        log.error("clock policy unreadable, default duration buckets: %s", exc)
        return DEFAULT_LEGAL_LIMIT_BUCKETS_DAYS


# Buckets at the legal limits (days), derived from the clock policy at start: a policy change
# that adds a limit takes effect on the next restart (deploy/monitoring_gen.py reads the same).
LEGAL_LIMIT_BUCKETS_DAYS = _buckets_in_force()

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
# scrape time by the owning service's OpenClocks collector (see clock_owner and
# services/intake/metrics.py). Every replica of that api reports the same numbers: the recording
# rules take max by (clock, state), never sum (deploy/k8s/monitoring, docs/runbooks.md).

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


class OpenClocks:
    """xiaobao_clock_open_cases{clock,state} and xiaobao_clock_open_provisional{clock} for the
    clocks one service owns, read from its database when scraped.

    `count()` returns ({(clock, state): n}, {clock: provisional n}); every owned clock of the
    policy in force is reported, zeros included, so a clock with nothing open is a 0 and not a
    missing series. A failing count drops both families for that scrape (an alert watches for
    the SLI going absent) instead of failing the whole /metrics page.
    """

    def __init__(
        self,
        service: str,
        count: Callable[[Policy], tuple[Mapping[tuple[str, str], int], Mapping[str, int]]],
    ) -> None:
        self.service = service
        self.count = count

    def collect(self):
        try:
            policy = in_force()[1]
            counts, provisional = self.count(policy)
        except Exception as exc:  # a scrape must not fail because the database blinked
            log.warning("open clock gauge of %s unavailable: %s", self.service, type(exc).__name__)
            return
        names = [n for n, spec in policy.clocks.items() if clock_owner(spec) == self.service]
        open_cases = GaugeMetricFamily(
            "xiaobao_clock_open_cases",
            "Cases whose clock is running, by clock and state (ok, at_risk, overdue).",
            labels=["clock", "state"],
        )
        prov = GaugeMetricFamily(
            "xiaobao_clock_open_provisional",
            "Running clocks whose deadline is provisional (a year missing from the holiday table).",
            labels=["clock"],
        )
        for name in names:
            for state in OPEN_STATES:
                open_cases.add_metric([name, state], counts.get((name, state), 0))
            prov.add_metric([name], provisional.get(name, 0))
        yield open_cases
        yield prov


class _CalendarInForce:
    """xiaobao_holiday_table_last_year and xiaobao_clock_policy_info{version}, read from the
    files in force at scrape time (an operator's edit shows without a restart)."""

    def collect(self):
        try:
            calendar, policy = in_force()
        except (OSError, ValueError):
            return  # no good copy at all: the process logs it; the gauge goes absent
        last = GaugeMetricFamily(
            "xiaobao_holiday_table_last_year",
            "The last year the holiday table in force covers (0 if it covers none).",
        )
        last.add_metric([], calendar.last_year)
        info = GaugeMetricFamily(
            "xiaobao_clock_policy_info",
            "The clock policy in force (value 1), by its version.",
            labels=["version"],
        )
        info.add_metric([policy.version], 1)
        yield last
        yield info


_outbox_registered: set[str] = set()
_started: set[int] = set()
_lock = threading.Lock()
_calendar_registered: list[bool] = []


def init_clock_series(policy: Policy) -> None:
    """Exports xiaobao_clock_closed_total and the duration histogram at 0 for every clock (and
    outcome) of the policy.

    Prometheus' increase() cannot see a series' first sample as an increase: a counter that
    appears at 1 on its first late closure would hide exactly the breach the SLO is about.
    """
    for name in policy.clocks:
        for within in ("true", "false"):
            CLOCK_CLOSED.labels(name, within)
        CLOCK_DURATION_DAYS.labels(name)


_READY: dict[tuple[str, str], bool] = {}


def set_ready(service: str, process: str, ok: bool) -> None:
    """Whether this process can serve: the xiaobao_ready gauge, and GET /ready on its metrics
    port (200 or 503), which Kubernetes probes for the workers."""
    PROCESS_READY.labels(service, process).set(1 if ok else 0)
    _READY[(service, process)] = ok


def ready() -> bool:
    return bool(_READY) and all(_READY.values())


def _with_readiness(metrics_app):
    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/ready":
            ok = ready()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=utf-8")],
            )
            return [b"ready\n" if ok else b"not ready\n"]
        return metrics_app(environ, start_response)

    return app


def serve(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from the pod network
    """Starts the /metrics (and /ready) endpoint once per port in this process."""
    with _lock:
        if not _calendar_registered:
            REGISTRY.register(_CalendarInForce())
            _calendar_registered.append(True)
            try:
                init_clock_series(in_force()[1])
            except (OSError, ValueError) as exc:
                log.error("clock policy unreadable, SLI counters start empty: %s", exc)
        if port in _started:
            return
        server, _thread = start_http_server(port, addr=host)
        server.set_app(_with_readiness(server.get_app()))
        _started.add(port)
