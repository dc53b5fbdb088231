"""Intake's scrape-time SLIs: open clocks by state, read from the database when scraped."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import select

from services.common import db
from services.common.clock import in_force, running_state
from services.intake.models import ClockRecord

log = logging.getLogger(__name__)
STATES = ("ok", "at_risk", "overdue")


def clock_state(clock: ClockRecord, now: datetime, at_risk_fraction: float) -> str:
    """The state of a stored clock at `now`, as the clock engine defines it."""
    if clock.stopped_at is not None:
        return "stopped"
    if clock.started_at is None or clock.deadline is None:
        return "not_started"
    return running_state(clock.started_at, clock.deadline, now, at_risk_fraction)


class OpenClocksCollector:
    """xiaobao_clock_open_cases{clock,state} and xiaobao_clock_open_provisional{clock}."""

    def __init__(self, factory=None) -> None:
        self.factory = factory

    def collect(self):
        open_cases = GaugeMetricFamily(
            "xiaobao_clock_open_cases",
            "Cases whose clock is running, by clock and state (ok, at_risk, overdue).",
            labels=["clock", "state"],
        )
        provisional = GaugeMetricFamily(
            "xiaobao_clock_open_provisional",
            "Running clocks whose deadline is provisional (a year missing from the holiday table).",
            labels=["clock"],
        )
        counts: dict[tuple[str, str], int] = {}
        prov: dict[str, int] = {}
        policy = in_force()[1]
        names = list(policy.clocks)
        try:
            now = datetime.now(UTC)
            with db.session_scope(self.factory or db.session_factory("intake")) as session:
                for clock in session.scalars(
                    select(ClockRecord).where(ClockRecord.stopped_at.is_(None))
                ):
                    state = clock_state(clock, now, policy.at_risk_fraction)
                    if state in STATES:
                        counts[(clock.name, state)] = counts.get((clock.name, state), 0) + 1
                    if clock.provisional:
                        prov[clock.name] = prov.get(clock.name, 0) + 1
        except Exception as exc:  # a scrape must not fail because the database blinked
            log.warning("open clock gauge unavailable: %s", type(exc).__name__)
            return
        for name in names:
            for state in STATES:
                open_cases.add_metric([name, state], counts.get((name, state), 0))
            provisional.add_metric([name], prov.get(name, 0))
        yield open_cases
        yield provisional


_registered = False


def register_collector() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(OpenClocksCollector())
        _registered = True
