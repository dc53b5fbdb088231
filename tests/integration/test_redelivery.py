"""A redelivered event changes nothing: every consumer is idempotent on the event id."""

from __future__ import annotations

import kombu
import psycopg
import pytest

from services.common.clients import stub
from services.common.messaging import event_exchange
from tests.integration.conftest import (
    answer_request,
    eventually,
    institution,
    scrape,
    wait_assigned,
    wait_closed,
)
from tests.integration.test_case_flow import complaint
from xiaobao.intake.v1 import intake_pb2 as ipb

pytestmark = pytest.mark.integration


def outbox_body(database_url: str, schema: str, event_type: str, case_no: str) -> dict:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f'SELECT body FROM "{schema}".outbox WHERE event_type = %s AND sent_at IS NOT NULL',  # noqa: S608
            (event_type,),
        ).fetchall()
    matches = [body for (body,) in rows if body["payload"]["case_no"] == case_no]
    assert len(matches) == 1, f"expected one {event_type} for {case_no}, found {len(matches)}"
    return matches[0]


def republish(amqp_uri: str, body: dict) -> None:
    source, short = body["type"].split(".", 1)
    with kombu.Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(
            body,
            exchange=event_exchange(source),
            routing_key=short,
            serializer="json",
            delivery_mode=2,
        )


def count(database_url: str, sql: str, *args) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, args).fetchone()[0]


def test_redelivered_events_change_nothing(platform, platform_env, staff):
    db_url = platform_env["XIAOBAO_DATABASE_URL"]
    amqp = platform_env["XIAOBAO_AMQP_URI"]
    intake, portal = stub("intake"), stub("portal")
    case = intake.SubmitCase(complaint(), metadata=staff).case
    pingan = institution("pingan-life-tj")

    wait_assigned("pingan-life-tj", case.case_no)
    portal.AnswerCase(
        answer_request(case.case_no, text="不予退保，理由已书面告知。"), metadata=pingan
    )

    before = wait_closed(case.case_no, staff)
    received = outbox_body(db_url, "intake", "intake.case_received", case.case_no)
    answered = eventually(
        lambda: outbox_body(db_url, "routing", "routing.case_answered", case.case_no)
    )
    endpoints = {s: (api, worker) for s, _addr, api, worker in platform.endpoints()}
    dup_routing = 'xiaobao_events_handled_total{event_type="intake.case_received",outcome="duplicate",service="routing"}'
    dup_intake = 'xiaobao_events_handled_total{event_type="routing.case_answered",outcome="duplicate",service="intake"}'
    closed_key = 'xiaobao_clock_closed_total{clock="institution_decision",within_limit="true"}'
    routing_before = scrape(endpoints["routing"][1]).get(dup_routing, 0)
    intake_metrics_before = scrape(endpoints["intake"][1])

    republish(amqp, received)
    republish(amqp, answered)

    # Both consumers saw the copies and recognised them...
    eventually(lambda: scrape(endpoints["routing"][1]).get(dup_routing, 0) == routing_before + 1)
    eventually(
        lambda: (
            scrape(endpoints["intake"][1]).get(dup_intake, 0)
            == intake_metrics_before.get(dup_intake, 0) + 1
        )
    )
    # ...and nothing changed: one assignment, one case_assigned event, the same timeline, no
    # second SLI count, and the other services did not record the case twice.
    assert (
        count(db_url, "SELECT count(*) FROM routing.assignment WHERE case_no = %s", case.case_no)
        == 1
    )
    assert (
        count(
            db_url,
            "SELECT count(*) FROM routing.outbox WHERE event_type = 'routing.case_assigned' "
            "AND body->'payload'->>'case_no' = %s",
            case.case_no,
        )
        == 1
    )
    assert (
        count(
            db_url, "SELECT count(*) FROM mediation.received_case WHERE case_no = %s", case.case_no
        )
        == 1
    )
    assert (
        count(
            db_url, "SELECT count(*) FROM blacklist.screening_item WHERE case_no = %s", case.case_no
        )
        == 1
    )
    after = intake.GetCase(ipb.GetCaseRequest(case_no=case.case_no), metadata=staff)
    assert [e.type for e in after.timeline] == [e.type for e in before.timeline]
    assert scrape(endpoints["intake"][1]).get(closed_key) == intake_metrics_before.get(closed_key)
