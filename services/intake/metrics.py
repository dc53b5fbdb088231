"""Intake's scrape-time SLIs: open clocks by state, read from the database when scraped."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import REGISTRY
from sqlalchemy import select

from services.common import db
from services.common.clock import Policy, running_state
from services.common.metrics import OPEN_STATES, OpenClocks, clock_owner
from services.intake.models import ClockRecord

SERVICE = "intake"
STATES = OPEN_STATES


def clock_state(clock, now: datetime, at_risk_fraction: float) -> str:
    """The state of a stored clock (a ClockRecord, or a row of its columns) at `now`, as the
    clock engine defines it."""
    if clock.stopped_at is not None:
        return "stopped"
    if clock.started_at is None or clock.deadline is None:
        return "not_started"
    return running_state(clock.started_at, clock.deadline, now, at_risk_fraction)


class OpenClocksCollector(OpenClocks):
    """xiaobao_clock_open_cases{clock,state} and xiaobao_clock_open_provisional{clock} for the
    clocks intake owns (every clock not started by a mediation event).

    Only intake's api registers it; with several api replicas each reports the same numbers and
    the recording rules de-duplicate with max by (clock, state).
    """

    def __init__(self, factory=None) -> None:
        super().__init__(SERVICE, self._count)
        self.factory = factory

    def _count(self, policy: Policy):
        owned = {n for n, spec in policy.clocks.items() if clock_owner(spec) == SERVICE}
        counts: dict[tuple[str, str], int] = {}
        provisional: dict[str, int] = {}
        now = datetime.now(UTC)
        with db.session_scope(self.factory or db.session_factory(SERVICE)) as session:
            # Every scrape reads every running clock: the five columns the state needs, streamed,
            # not ORM objects (tens of thousands at a large centre, every 15 s).
            running = session.execute(
                select(
                    ClockRecord.name,
                    ClockRecord.started_at,
                    ClockRecord.deadline,
                    ClockRecord.stopped_at,
                    ClockRecord.provisional,
                )
                .where(ClockRecord.stopped_at.is_(None), ClockRecord.name.in_(sorted(owned)))
                .execution_options(yield_per=5000)
            )
            for clock in running:
                state = clock_state(clock, now, policy.at_risk_fraction)
                if state in STATES:
                    counts[(clock.name, state)] = counts.get((clock.name, state), 0) + 1
                if clock.provisional:
                    provisional[clock.name] = provisional.get(clock.name, 0) + 1
        return counts, provisional


_registered = False


def register_collector() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(OpenClocksCollector())
        _registered = True
