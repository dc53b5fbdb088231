"""Mediation's scrape-time SLIs: open requests by clock and state, read from the database.

Mediation owns the clocks a mediation event starts (services/common/metrics.clock_owner:
`mediation`, `court_referred_mediation`). The fast track's shorter clock is the centre's
`mediation` clock with a smaller limit, so it is counted under that name: every series carries
a clock of the policy, which the generated recording rules and alerts know.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from services.common import db
from services.common.clock import Policy, running_state
from services.common.metrics import OPEN_STATES, OpenClocks
from services.mediation import domain
from services.mediation.models import MediationRequest

log = logging.getLogger(__name__)
SERVICE = "mediation"


def metric_clock(name: str) -> str:
    """The policy clock a request's clock is counted under (the fast track under mediation)."""
    return domain.CENTRE_CLOCK if name == domain.FAST_TRACK_CLOCK else name


def request_clock_state(req: MediationRequest, now: datetime, at_risk_fraction: float) -> str:
    """ok, at_risk or overdue for an open request whose clock runs; not_started otherwise."""
    if req.clock_started_at is None or req.deadline is None:
        return "not_started"
    return running_state(req.clock_started_at, req.deadline, now, at_risk_fraction)


class OpenRequestsCollector(OpenClocks):
    """xiaobao_clock_open_cases{clock,state} for the mediation clocks (as intake exports its own)
    and xiaobao_mediation_open_requests{state} (awaiting_consent, accepted)."""

    def __init__(self, factory=None) -> None:
        super().__init__(SERVICE, self._count)
        self.factory = factory

    def _factory(self):
        return self.factory or db.session_factory(SERVICE)

    def _count(self, policy: Policy):
        counts: dict[tuple[str, str], int] = {}
        now = datetime.now(UTC)
        with db.session_scope(self._factory()) as session:
            for req in session.scalars(
                select(MediationRequest).where(
                    MediationRequest.state.in_(domain.OPEN_REQUEST_STATES),
                    MediationRequest.clock_started_at.is_not(None),
                )
            ):
                state = request_clock_state(req, now, policy.at_risk_fraction)
                if state in OPEN_STATES:
                    key = (metric_clock(req.clock_name), state)
                    counts[key] = counts.get(key, 0) + 1
        return counts, {}  # a court's date or the centre's limit: never provisional here

    def collect(self):
        yield from super().collect()
        try:
            with db.session_scope(self._factory()) as session:
                rows = dict(
                    session.execute(
                        select(MediationRequest.state, func.count())
                        .where(MediationRequest.state.in_(domain.OPEN_REQUEST_STATES))
                        .group_by(MediationRequest.state)
                    ).all()
                )
        except Exception as exc:  # a scrape must not fail because the database blinked
            log.warning("open mediation requests gauge unavailable: %s", type(exc).__name__)
            return
        family = GaugeMetricFamily(
            "xiaobao_mediation_open_requests",
            "Mediation requests not yet closed, by state (awaiting_consent, accepted).",
            labels=["state"],
        )
        for state in domain.OPEN_REQUEST_STATES:
            family.add_metric([state], rows.get(state, 0))
        yield family


_registered = False


def register_collector() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(OpenRequestsCollector())
        _registered = True
