"""The institution portal through the real routing api and workers, RabbitMQ and PostgreSQL.

Isolation between institutions, the 15 → 30 → 60 day extensions, pausing for appraisal, returning
a misrouted case until a person routes it, the resumable stream, and a breach escalated exactly
once while two routing workers sweep.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest

from services.common.clients import stub
from tests.integration.conftest import (
    _free_port,
    answer_request,
    eventually,
    institution,
    scrape,
    wait_assigned,
    xiaobao,
)
from tests.integration.test_case_flow import complaint
from xiaobao.intake.v1 import intake_pb2 as ipb
from xiaobao.routing.v1 import routing_pb2 as rpb

pytestmark = pytest.mark.integration


def submit(staff, text: str, region: str = "120104") -> str:
    return stub("intake").SubmitCase(complaint(text, region), metadata=staff).case.case_no


def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code(), err.value.details()


def timeline(staff, case_no: str) -> list[str]:
    case = stub("intake").GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff)
    return [e.type for e in case.timeline]


def intake_clock(staff, case_no: str, name: str = "institution_decision"):
    case = stub("intake").GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff)
    return next(c for c in case.clocks if c.name == name)


# --- isolation -------------------------------------------------------------------------------


def test_an_institution_cannot_read_acknowledge_or_answer_another_institutions_case(
    platform, staff
):
    case_no = submit(staff, "工行河西支行", "120103")
    wait_assigned("icbc-tj-hexi", case_no)
    portal = stub("portal")
    ccb = institution("ccb-tj")
    never = "XB20260101999999"  # no such case

    calls = {
        "get": lambda n: portal.GetAssignedCase(rpb.CaseRequest(case_no=n), metadata=ccb),
        "acknowledge": lambda n: portal.AcknowledgeCase(rpb.CaseRequest(case_no=n), metadata=ccb),
        "extend": lambda n: portal.RequestExtension(
            rpb.RequestExtensionRequest(case_no=n, to_days=30, reason="复杂"), metadata=ccb
        ),
        "pause": lambda n: portal.PauseClock(
            rpb.PauseClockRequest(case_no=n, reason=rpb.PAUSE_REASON_APPRAISAL, note="鉴定"),
            metadata=ccb,
        ),
        "resume": lambda n: portal.ResumeClock(rpb.ResumeClockRequest(case_no=n), metadata=ccb),
        "answer": lambda n: portal.AnswerCase(answer_request(n), metadata=ccb),
        "return": lambda n: portal.ReturnCase(
            rpb.ReturnCaseRequest(case_no=n, reason="非我行客户"), metadata=ccb
        ),
    }
    for name, call in calls.items():
        theirs = code_of(lambda call=call: call(case_no))
        missing = code_of(lambda call=call: call(never))
        assert theirs[0] == grpc.StatusCode.NOT_FOUND, name
        # The refusal for another's case reads exactly like the one for a case that does not
        # exist: B cannot learn that A's case exists.
        assert theirs[1].replace(case_no, "N") == missing[1].replace(never, "N"), name

    listed = portal.ListAssignedCases(rpb.ListAssignedCasesRequest(page_size=500), metadata=ccb)
    assert case_no not in {a.case_no for a in listed.assignments}
    streamed = portal.StreamAssignedCases(rpb.StreamAssignedCasesRequest(), metadata=ccb)
    assert case_no not in {u.assignment.case_no for u in streamed}
    # Nor may it list another office of its own choosing.
    code, details = code_of(
        lambda: portal.ListAssignedCases(
            rpb.ListAssignedCasesRequest(node_id="icbc-tj-hexi"), metadata=ccb
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "node_id" in details

    # The sub-branch and its parent branch do see it; listings mask the complainant.
    mine = portal.GetAssignedCase(
        rpb.CaseRequest(case_no=case_no), metadata=institution("icbc-tj-hexi")
    )
    assert mine.complainant_phone.startswith("139") and "*" not in mine.complainant_phone
    listed = portal.ListAssignedCases(
        rpb.ListAssignedCasesRequest(page_size=500), metadata=institution("icbc-tj")
    )
    row = next(a for a in listed.assignments if a.case_no == case_no)
    assert row.complainant_phone == "139****5678"
    assert row.complainant_name == "李**"


def test_staff_and_forged_tokens_cannot_use_the_portal(platform, staff):
    from services.common import auth

    portal = stub("portal")
    code, _ = code_of(
        lambda: portal.ListAssignedCases(rpb.ListAssignedCasesRequest(), metadata=staff)
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    forged = auth.bearer(
        auth.issue_token(
            "x", "institution", "icbc-tj", secret="not-the-secret-of-this-platform-0123456789"
        )
    )
    code, _ = code_of(
        lambda: portal.ListAssignedCases(rpb.ListAssignedCasesRequest(), metadata=forged)
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    expired = auth.bearer(
        auth.issue_token("x", "institution", "icbc-tj", ttl_seconds=-60, secret=_secret())
    )
    code, details = code_of(
        lambda: portal.ListAssignedCases(rpb.ListAssignedCasesRequest(), metadata=expired)
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED and "expired" in details


def _secret() -> str:
    from tests.integration.conftest import TEST_SECRET

    return TEST_SECRET


# --- extensions and pauses -------------------------------------------------------------------


def test_extensions_go_15_then_30_then_60_with_an_approver_and_no_further(platform, staff):
    case_no = submit(staff, "中国银行天津分行", "120101")
    wait_assigned("boc-tj", case_no)
    portal, boc = stub("portal"), institution("boc-tj")

    acked = portal.AcknowledgeCase(rpb.CaseRequest(case_no=case_no), metadata=boc)
    assert acked.clock.limit_days == 15 and acked.clock.state == rpb.CLOCK_STATE_OK

    def extend(days: int, reason: str = "涉及多笔交易，需调取记录", approver: str = ""):
        return portal.RequestExtension(
            rpb.RequestExtensionRequest(
                case_no=case_no, to_days=days, reason=reason, approver=approver
            ),
            metadata=boc,
        )

    code, details = code_of(lambda: extend(30, reason=""))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("reason")
    code, _ = code_of(lambda: extend(60, approver="天津分行 王行长"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION  # 30 comes first

    thirty = extend(30)
    assert thirty.clock.limit_days == 30
    assert [e.to_days for e in thirty.clock.extensions] == [30]
    code, details = code_of(lambda: extend(60))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "approver" in details

    sixty = extend(60, approver="中国银行天津市分行 消保部负责人")
    assert sixty.clock.limit_days == 60
    assert sixty.last_day > thirty.last_day > acked.last_day
    for beyond in (61, 90):
        code, details = code_of(lambda beyond=beyond: extend(beyond, approver="总行"))
        assert code == grpc.StatusCode.FAILED_PRECONDITION, beyond
        assert "60" in details

    # Intake's copy of the clock follows: the case timeline shows 60 days and the same last day.
    clock = eventually(
        lambda: (c := intake_clock(staff, case_no)) and c.limit == 60 and c,
    )
    assert clock.last_day == sixty.last_day
    assert timeline(staff, case_no).count("routing.case_extended") == 2


def test_a_paused_clock_does_not_run_and_resumes(platform, staff):
    case_no = submit(staff, "招商银行天津分行", "120101")
    wait_assigned("cmb-tj", case_no)
    portal, cmb = stub("portal"), institution("cmb-tj")

    code, details = code_of(
        lambda: portal.PauseClock(rpb.PauseClockRequest(case_no=case_no, note="x"), metadata=cmb)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("reason")
    paused = portal.PauseClock(
        rpb.PauseClockRequest(
            case_no=case_no, reason=rpb.PAUSE_REASON_APPRAISAL, note="委托司法鉴定所笔迹鉴定"
        ),
        metadata=cmb,
    )
    assert paused.clock.paused and paused.clock.pause_reason == rpb.PAUSE_REASON_APPRAISAL
    code, details = code_of(
        lambda: portal.PauseClock(
            rpb.PauseClockRequest(case_no=case_no, reason=rpb.PAUSE_REASON_TESTING, note="x"),
            metadata=cmb,
        )
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "paused" in details
    resumed = portal.ResumeClock(
        rpb.ResumeClockRequest(case_no=case_no, note="鉴定意见已出"), metadata=cmb
    )
    assert not resumed.clock.paused
    code, _ = code_of(
        lambda: portal.ResumeClock(rpb.ResumeClockRequest(case_no=case_no), metadata=cmb)
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    eventually(
        lambda: {"routing.clock_paused", "routing.clock_resumed"} <= set(timeline(staff, case_no))
    )

    answered = portal.AnswerCase(
        answer_request(case_no, "NON_MONETARY_RELIEF", "已为客户恢复信用卡额度并致歉。"),
        metadata=cmb,
    )
    assert answered.status == rpb.ASSIGNMENT_STATUS_ANSWERED
    assert answered.answer_outcome == rpb.ANSWER_OUTCOME_NON_MONETARY_RELIEF
    assert answered.contact.method == rpb.CONTACT_METHOD_PHONE
    assert answered.clock.state == rpb.CLOCK_STATE_STOPPED
    code, _ = code_of(
        lambda: portal.PauseClock(
            rpb.PauseClockRequest(case_no=case_no, reason=rpb.PAUSE_REASON_TESTING, note="x"),
            metadata=cmb,
        )
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION


def test_an_answer_must_say_how_the_complainant_was_told_and_fit_its_outcome(platform, staff):
    case_no = submit(staff, "交通银行天津市分行", "120101")
    wait_assigned("bocom-tj", case_no)
    portal, bocom = stub("portal"), institution("bocom-tj")
    no_contact = answer_request(case_no)
    no_contact.ClearField("contact")
    bad = {
        "contact": no_contact,
        "relief_amount_fen": answer_request(case_no, "MONETARY_RELIEF", relief_fen=0),
        "outcome": answer_request(case_no, "UNSPECIFIED"),
        "answer": answer_request(case_no, text=" "),
    }
    bad["answer"].answer = " "
    for field, request in bad.items():
        code, details = code_of(lambda request=request: portal.AnswerCase(request, metadata=bocom))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, field
        assert details.startswith(field), (field, details)
    # Nothing was stored by the refused answers.
    still = portal.GetAssignedCase(rpb.CaseRequest(case_no=case_no), metadata=bocom)
    assert still.status == rpb.ASSIGNMENT_STATUS_ASSIGNED and not still.answer


# --- misrouting ------------------------------------------------------------------------------


def test_a_misrouted_case_is_rerouted_and_after_the_bounce_limit_a_person_routes_it(
    platform, platform_env, staff
):
    portal, desk = stub("portal"), stub("desk")
    case_no = submit(staff, "工行河西支行", "120103")
    wait_assigned("icbc-tj-hexi", case_no)

    portal.ReturnCase(
        rpb.ReturnCaseRequest(
            case_no=case_no, reason="客户系建设银行客户，非我行", hint="建设银行南开支行"
        ),
        metadata=institution("icbc-tj-hexi"),
    )
    moved = wait_assigned("ccb-tj-nankai", case_no)
    assert moved.returns == 1
    code, _ = code_of(
        lambda: portal.GetAssignedCase(
            rpb.CaseRequest(case_no=case_no), metadata=institution("icbc-tj-hexi")
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND  # the returning office no longer sees it

    portal.ReturnCase(
        rpb.ReturnCaseRequest(case_no=case_no, reason="非我行业务", hint="农业银行天津分行"),
        metadata=institution("ccb-tj-nankai"),
    )
    wait_assigned("abc-tj", case_no)
    portal.ReturnCase(
        rpb.ReturnCaseRequest(case_no=case_no, reason="查无此客户"), metadata=institution("abc-tj")
    )

    def queued():
        page = desk.ListRoutingQueue(rpb.ListRoutingQueueRequest(page_size=500), metadata=staff)
        return next(c for c in page.cases if c.case_no == case_no)

    waiting = eventually(queued)
    assert waiting.returns == 3
    assert list(waiting.returned_by) == ["icbc-tj-hexi", "ccb-tj-nankai", "abc-tj"]
    assert "returned 3 times" in waiting.why
    assert eventually(lambda: intake_case(staff, case_no).status == ipb.CASE_STATUS_NEEDS_ROUTING)

    # The desk works from the command line: the queue, then routing by hand.
    queue = xiaobao(platform_env, "routing", "queue")
    assert queue.returncode == 0, queue.stderr
    assert case_no in queue.stdout
    # Bad input: exit 2, as with every command.
    unknown = xiaobao(platform_env, "routing", "route", case_no, "no-such-office")
    assert unknown.returncode == 2 and "INVALID_ARGUMENT" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    routed = xiaobao(
        platform_env, "routing", "route", case_no, "bocom-tj", "--note", "客户确认为交通银行信用卡"
    )
    assert routed.returncode == 0, routed.stderr
    assert "bocom-tj" in routed.stdout
    moved = portal.GetAssignedCase(
        rpb.CaseRequest(case_no=case_no), metadata=institution("bocom-tj")
    )
    assert moved.clock.limit_days == 15 and "routed by the desk" in moved.tier_reason
    eventually(lambda: intake_case(staff, case_no).assigned_node_id == "bocom-tj")
    assert timeline(staff, case_no).count("routing.case_returned") == 3


def intake_case(staff, case_no: str):
    return stub("intake").GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff)


# --- the stream ------------------------------------------------------------------------------


def test_the_stream_resumes_from_a_cursor_and_follows_new_cases(platform, staff):
    portal, pc = stub("portal"), institution("picc-pc-tj")
    first = submit(staff, "人保财险天津市分公司", "120101")
    wait_assigned("picc-pc-tj", first)

    updates = list(portal.StreamAssignedCases(rpb.StreamAssignedCasesRequest(), metadata=pc))
    assert first in {u.assignment.case_no for u in updates}
    cursor = updates[-1].cursor
    assert (
        list(portal.StreamAssignedCases(rpb.StreamAssignedCasesRequest(cursor=cursor), metadata=pc))
        == []
    )  # nothing new since the cursor

    # A change to a case already seen comes again, after the cursor, in its new state.
    portal.AcknowledgeCase(rpb.CaseRequest(case_no=first), metadata=pc)
    again = list(
        portal.StreamAssignedCases(rpb.StreamAssignedCasesRequest(cursor=cursor), metadata=pc)
    )
    assert [u.assignment.case_no for u in again] == [first]
    assert again[0].assignment.status == rpb.ASSIGNMENT_STATUS_ACKNOWLEDGED
    assert again[0].assignment.complainant_phone == "139****5678"

    # Following: a new case arrives on the open stream.
    received: list[str] = []
    call = portal.StreamAssignedCases(
        rpb.StreamAssignedCasesRequest(cursor=again[-1].cursor, follow=True),
        metadata=pc,
        timeout=60,
    )

    def read() -> None:
        try:
            for update in call:
                received.append(update.assignment.case_no)
        except grpc.RpcError:
            pass  # cancelled below

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    second = submit(staff, "中国人民财产保险股份有限公司天津市分公司", "120101")
    eventually(lambda: second in received)
    call.cancel()
    reader.join(5)
    assert first not in received

    code, details = code_of(
        lambda: list(
            portal.StreamAssignedCases(
                rpb.StreamAssignedCasesRequest(cursor="not-a-cursor"), metadata=pc
            )
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("cursor")


# --- the sweep: notices and a breach escalated once --------------------------------------------


def _backdate(database_url: str, case_no: str, days: float) -> None:
    """Moves the institution's clock start `days` into the past and asks the sweep to look.

    The only way to see a 15-day deadline pass inside a test run is to move the start back;
    everything after that (sweep, events, intake's timeline) is the real platform.
    """
    started = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE routing.assignment SET clock_events = %s, assigned_at = %s, "
            "next_check_at = now() WHERE case_no = %s",
            (json.dumps([{"kind": "start", "at": started}]), started, case_no),
        )


def _rows(database_url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, args).fetchall()


def test_a_breach_escalates_once_to_the_parent_with_two_workers_sweeping(
    platform, platform_env, staff
):
    metrics_port = _free_port()
    second = platform.add_worker(
        "routing", 2, {"XIAOBAO_ROUTING_WORKER_METRICS_PORT": str(metrics_port)}
    )
    try:
        # The replica is up (its metrics answer) and has swept at least once before the clocks
        # are backdated, so both workers race for the same due rows.
        eventually(lambda: _replica_ready(metrics_port), timeout=60)
        _breach_escalates_once(platform_env["XIAOBAO_DATABASE_URL"], staff)
    finally:
        # Later tests read one routing worker's metrics: the replica must not take their events.
        platform.stop_process(second)


def _replica_ready(metrics_port: int) -> bool:
    try:
        samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    except OSError:
        return False  # not listening yet
    return samples.get('xiaobao_ready{process="worker",service="routing"}') == 1.0


def _breach_escalates_once(db_url: str, staff) -> None:
    overdue = [submit(staff, "建行西青支行", "120111") for _ in range(6)]
    at_60 = submit(staff, "建行西青支行", "120111")
    at_80 = submit(staff, "建行西青支行", "120111")
    for case_no in [*overdue, at_60, at_80]:
        wait_assigned("ccb-tj-xiqing", case_no)

    # Backdate them together so both workers find them due in the same sweep.
    _backdate(db_url, at_60, 9.8)  # 15-day clock: 60% has passed, 80% not yet
    _backdate(db_url, at_80, 12.8)
    for case_no in overdue:
        _backdate(db_url, case_no, 20)

    def notices() -> dict[str, list[str]]:
        rows = _rows(db_url, "SELECT case_no, stage, escalated_to FROM routing.clock_notice")
        out: dict[str, list[str]] = {}
        for case_no, stage, escalated_to in rows:
            out.setdefault(case_no, []).append(f"{stage}>{escalated_to}")
        return out

    eventually(lambda: all(c in notices() for c in [*overdue, at_60, at_80]), timeout=30)
    # Let several more sweeps of both workers pass: nothing may be sent twice.
    import time

    time.sleep(3)
    sent = notices()
    for case_no in overdue:
        assert sent[case_no] == ["breach>ccb-tj"], case_no
    assert sent[at_60] == ["60%>"]
    assert sent[at_80] == ["80%>"]  # a late sweep sends only the furthest notice

    events = _rows(
        db_url,
        "SELECT event_type, body FROM routing.outbox WHERE event_type IN "
        "('routing.deadline_breached', 'routing.deadline_approaching')",
    )
    per_case: dict[str, int] = {}
    for _type, body in events:
        per_case[body["payload"]["case_no"]] = per_case.get(body["payload"]["case_no"], 0) + 1
    assert all(per_case.get(c) == 1 for c in [*overdue, at_60, at_80]), per_case

    portal = stub("portal")
    escalated = portal.GetAssignedCase(
        rpb.CaseRequest(case_no=overdue[0]), metadata=institution("ccb-tj")
    )
    assert escalated.escalated_to_node_id == "ccb-tj"
    assert escalated.clock.state == rpb.CLOCK_STATE_OVERDUE
    # Intake's timeline records the breach once.
    for case_no in overdue:
        eventually(lambda case_no=case_no: "routing.deadline_breached" in timeline(staff, case_no))
        assert timeline(staff, case_no).count("routing.deadline_breached") == 1
    # An extension cannot rescue a deadline already missed.
    code, _ = code_of(
        lambda: portal.RequestExtension(
            rpb.RequestExtensionRequest(case_no=overdue[0], to_days=30, reason="复杂"),
            metadata=institution("ccb-tj-xiqing"),
        )
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
