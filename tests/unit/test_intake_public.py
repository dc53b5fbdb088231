"""What a consumer sends and sees: the contract's checks, the plain-language timeline, and the
HTTP app on SQLite (rate limits with a clock the test moves)."""

from __future__ import annotations

import re
import socket
import urllib.request
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from werkzeug.test import Client

from services.common import db, pii, settings
from services.common.clock import in_force
from services.common.errors import InvalidArgument
from services.intake import domain, public
from services.intake import http as consumer_http
from services.intake.http import SECURITY_HEADERS, ConsumerApp
from services.intake.models import Base, Case, CaseEvent, ClockRecord, LookupAttempt
from services.intake.policy import IntakePolicy
from services.platform import PortsInUse, check_ports

RECEIVED = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)  # 09:30 in Tianjin
PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"


def complaint(**changes) -> dict:
    body = {
        "name": "张三丰",
        "phone": PHONE,
        "institution": "工商银行天津河西支行",
        "summary": "信用卡被收取了未告知的年费，要求退还。",
    }
    body.update(changes)
    return body


def event(type_: str, days: float, actor: str = "routing", detail: str = "") -> CaseEvent:
    return CaseEvent(at=RECEIVED + timedelta(days=days), type=type_, actor=actor, detail=detail)


def a_case(status: str = "assigned", **fields) -> Case:
    case = Case(
        case_no="XB20261102000042",
        kind="complaint",
        channel="web",
        status=status,
        complainant_name="张三丰",
        complainant_phone=PHONE,
        complainant_id_number=ID_NUMBER,
        complainant_region="120103",
        phone_hash=pii.keyed_hash(PHONE),
        institution_text="工行河西支行",
        summary="信用卡年费 13912345678 要求退还",
        received_at=RECEIVED,
        assigned_node_name="中国工商银行天津河西支行",
        resolution="经核实退还年费，客服专员王小明已电话告知",
        repeat_of="",
        new_facts=False,
        **fields,
    )
    case.events = [
        event("intake.case_received", 0, "web"),
        event("intake.case_classified", 0.01, "desk-wang", "bank/credit_cards/fees → …: 王小明改"),
        event("intake.first_contact_recorded", 0.1, "desk-wang", "王小明致电 13912345678"),
        event(
            "routing.case_assigned",
            0.2,
            detail="assigned to 中国工商银行天津河西支行 (confidence 0.93); elderly complainant",
        ),
        event("routing.case_acknowledged", 1, "icbc-tj-hexi", "institution acknowledged receipt"),
        event("routing.deadline_approaching", 9, detail="60% of the institution_decision time"),
        event(
            "routing.deadline_breached",
            16,
            detail="icbc-tj-hexi missed the deadline; escalated to icbc-tj",
        ),
    ]
    case.clocks = [
        ClockRecord(
            name="institution_decision",
            started_at=RECEIVED + timedelta(days=0.2),
            stopped_at=None,
            limit=15,
            unit="calendar_days",
            last_day=date(2026, 11, 17),
        ),
        ClockRecord(
            name="first_contact",
            started_at=RECEIVED,
            stopped_at=RECEIVED + timedelta(days=0.1),
            limit=1,
            unit="working_days",
            last_day=date(2026, 11, 3),
        ),
    ]
    return case


# --- the case as its complainant sees it ----------------------------------------------------------


def test_the_timeline_tells_what_happened_in_plain_chinese_and_names_the_office():
    view = public.case_view(a_case())
    assert view["status_text"] == "被投诉机构正在处理"
    assert view["institution"] == "中国工商银行天津河西支行"
    assert view["next_deadline"] == "2026-11-17"
    assert view["received_on"] == "2026-11-02"
    assert [(e["date"], e["text"]) for e in view["timeline"]] == [
        ("2026-11-02", "中心收到您的投诉，已登记受理"),
        ("2026-11-02", "中心工作人员已与您联系"),
        ("2026-11-02", "您的投诉已转交中国工商银行天津河西支行处理"),
        ("2026-11-03", "被投诉机构已确认收到您的投诉"),
        ("2026-11-18", "中心已督促机构加快处理"),
    ]


def test_nothing_personal_but_the_masked_name_and_nothing_internal_is_shown():
    view = public.case_view(a_case())
    shown = yaml.safe_dump(view, allow_unicode=True)
    assert view["name"] == "张**"
    for secret in (
        "张三丰",
        PHONE,
        "139****5678",
        ID_NUMBER,
        "王小明",  # staff
        "desk-wang",
        "icbc-tj",  # node ids and the escalation target
        "escalated",
        "elderly",  # tier reasons
        "confidence",
        "年费",  # the summary and the resolution
        "120103",
        "60%",
    ):
        assert secret not in shown, secret


def test_only_the_office_that_has_the_case_now_is_named():
    case = a_case()
    case.events[3:3] = [
        event(
            "routing.case_assigned", 0.15, detail="assigned to 中国银行天津分行 (confidence 0.8)"
        ),
        event("routing.case_returned", 0.18, "boc-tj", "returned as misrouted: 非本行客户 张三丰"),
    ]
    texts = [e["text"] for e in public.case_view(case)["timeline"]]
    assert "您的投诉已转交被投诉机构处理" in texts
    assert "原转交的机构反馈不属于其处理范围，中心正在重新转交" in texts
    assert not any("中国银行" in t or "非本行" in t for t in texts)
    assert texts.count("您的投诉已转交中国工商银行天津河西支行处理") == 1


def test_an_answered_case_has_no_deadline_and_a_closed_one_says_so():
    case = a_case(status="closed")
    case.events += [
        event("routing.case_answered", 17, "icbc-tj-hexi", "institution decided: monetary_relief"),
        event("intake.case_closed", 17, "icbc-tj-hexi", "退还年费 300 元"),
    ]
    case.clocks[0].stopped_at = RECEIVED + timedelta(days=17)
    view = public.case_view(case)
    assert view["status_text"] == "已办结"
    assert view["next_deadline"] is None
    assert view["institution"] == "中国工商银行天津河西支行"
    assert view["timeline"][-2:] == [
        {"date": "2026-11-19", "text": "机构已作出处理决定并告知您"},
        {"date": "2026-11-19", "text": "案件已办结"},
    ]


def test_a_case_still_being_routed_names_no_office_and_no_deadline():
    case = a_case(status="needs_routing")
    case.assigned_node_name = ""
    case.events = [case.events[0], event("routing.case_needs_routing", 0.1, detail="why: …")]
    case.clocks = []
    view = public.case_view(case)
    assert view["institution"] is None and view["next_deadline"] is None
    assert view["timeline"][-1]["text"] == "中心正在确认负责处理您投诉的机构"


def test_mediation_and_linked_repeats_are_told_plainly():
    case = a_case(status="referred_to_mediation")
    case.events.append(event("routing.case_answered", 17, detail="institution decided: referred"))
    assert public.case_view(case)["timeline"][-1]["text"] == "机构已作出处理决定，案件转入调解"
    linked = a_case(status="linked")
    linked.events = linked.events[:1]
    view = public.case_view(linked)
    assert view["status_text"] == "已并入您此前就同一事项的投诉一并处理"
    assert "并入原案件" in view["timeline"][0]["text"]


def test_an_event_type_nobody_worded_stays_hidden():
    case = a_case()
    case.events.append(event("routing.something_new", 2, detail="internal"))
    assert len(public.case_view(case)["timeline"]) == 5


def test_the_receipt_tells_the_limits_of_the_policy_in_force():
    case = a_case(status="received")
    message = public.receipt(case, False, in_force()[1])["message"]
    assert "XB20261102000042" in message
    assert "1个工作日内与您联系" in message
    assert "15日内作出处理决定" in message


# --- requests, checked against the contract -------------------------------------------------------


def test_every_request_example_in_the_contract_is_accepted():
    document = yaml.safe_load(public.OPENAPI_FILE.read_text(encoding="utf-8"))
    examples = [
        op["requestBody"]["content"]["application/json"]["example"]
        for path in document["paths"].values()
        for op in path.values()
        if "requestBody" in op
    ]
    assert len(examples) == 2
    for example in examples:
        name = "ComplaintRequest" if "summary" in example else "LookupRequest"
        public.contract().check(name, example)


def test_a_contract_keyword_the_server_does_not_check_is_refused_at_load():
    document = yaml.safe_load(public.OPENAPI_FILE.read_text(encoding="utf-8"))
    document["components"]["schemas"]["ComplaintRequest"]["properties"]["name"]["format"] = "x"
    public.Contract(document)  # format is an annotation only
    document["components"]["schemas"]["ComplaintRequest"]["properties"]["name"]["multipleOf"] = 2
    with pytest.raises(ValueError, match="does not check"):
        public.Contract(document)
    document = yaml.safe_load(public.OPENAPI_FILE.read_text(encoding="utf-8"))
    document["components"]["schemas"]["LookupRequest"]["minProperties"] = 1
    with pytest.raises(ValueError, match="does not check"):
        public.Contract(document)
    document = yaml.safe_load(public.OPENAPI_FILE.read_text(encoding="utf-8"))
    document["components"]["schemas"]["Phone"]["pattern"] = "1[3-9][0-9]{9}"
    with pytest.raises(ValueError, match="anchored"):
        public.Contract(document)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "张" * 51),
        ("name", "张\n三"),
        ("name", 42),
        ("phone", "1391234567"),
        ("phone", "139 1234 5678"),
        ("phone", "13912345678\n"),
        ("phone", "１３９１２３４５６７８"),  # full-width digits
        ("id_number", "1101051949123100"),
        ("region_code", "12010"),
        ("institution", ""),
        ("institution", "银" * 201),
        ("product", "x" * 41),
        ("summary", "  "),
        ("summary", "投诉\x00"),
        ("summary", "投诉\ud800"),  # a lone surrogate: cannot be stored
        ("amount_yuan", "1.234"),
        ("amount_yuan", "-1"),
        ("amount_yuan", -1),
        ("amount_yuan", True),
        ("amount_yuan", 1e12),
        ("amount_yuan", None),
        ("channel", "hotline"),
        ("request_id", "x" * 65),
        ("request_id", "含中文"),
    ],
)
def test_a_bad_field_is_refused_by_its_json_name(field, value):
    with pytest.raises(public.FieldError) as err:
        public.contract().check("ComplaintRequest", complaint(**{field: value}))
    assert err.value.field == field
    assert err.value.message


def test_a_blank_required_field_is_asked_for():
    for field, label in (("phone", "手机号码"), ("name", "姓名"), ("summary", "投诉内容")):
        with pytest.raises(public.FieldError) as err:
            public.contract().check("ComplaintRequest", complaint(**{field: " "}))
        assert (err.value.field, err.value.message) == (field, f"请填写{label}")


def test_a_missing_or_unknown_field_is_named():
    body = complaint()
    del body["summary"]
    with pytest.raises(public.FieldError) as err:
        public.contract().check("ComplaintRequest", body)
    assert (err.value.field, err.value.message) == ("summary", "请填写投诉内容")
    with pytest.raises(public.FieldError) as err:
        public.contract().check("ComplaintRequest", complaint(kind="petition"))
    assert (err.value.field, err.value.code) == ("kind", "unknown_field")
    with pytest.raises(public.BodyError):
        public.contract().check("ComplaintRequest", [complaint()])
    with pytest.raises(public.FieldError) as err:
        public.contract().check("ComplaintRequest", complaint(**{"": 1}))
    assert err.value.field == ""


@pytest.mark.parametrize(
    ("domain_field", "message", "field", "told"),
    [
        ("complainant.name", "is required", "name", "请填写姓名"),
        ("complainant.phone", "must be a mainland mobile", "phone", "请填写正确的手机号码"),
        ("complainant.id_number", "is not a valid resident ID number", "id_number", "校验不通过"),
        ("complainant.region_code", "must be a 6-digit GB/T 2260 code", "region_code", "6位"),
        ("institution_text", "is longer than 200 characters", "institution", "不能超过200个字"),
        ("summary", "is required", "summary", "请填写投诉内容"),
        ("product", "is longer than 40 characters", "product", "不能超过40个字"),
        ("amount_in_dispute_fen", "must be between 0 and 10^13 fen", "amount_yuan", "超出范围"),
    ],
)
def test_domain_refusals_are_told_against_the_json_names(domain_field, message, field, told):
    refused = public.domain_error(domain_field, message)
    assert refused.field == field
    assert told in refused.message


def test_an_id_number_with_a_wrong_check_character_passes_the_contract_not_the_domain():
    body = public.contract().check("ComplaintRequest", complaint(id_number="110105194912310021"))
    with pytest.raises(InvalidArgument) as err:
        domain.validate(public.new_case(body), datetime.now(UTC))
    assert public.domain_error(err.value.field, "x").field == "id_number"


def test_amounts_are_yuan_with_at_most_two_decimals():
    assert public.amount_fen("1580.50") == 158050
    assert public.amount_fen(0.07) == 7
    assert public.amount_fen(12) == 1200
    assert public.amount_fen(None) == 0
    with pytest.raises(public.FieldError):
        public.amount_fen(0.001)


def test_phones_match_by_keyed_hash_of_the_normalised_number():
    digest = pii.keyed_hash(PHONE)
    assert public.phone_matches(digest, PHONE)
    assert public.phone_matches(digest, "+8613912345678")
    assert not public.phone_matches(digest, "13912345679")
    assert not public.phone_matches(None, PHONE)


def test_a_consumer_request_id_is_bound_to_the_phone():
    mine = public.stored_request_id("abc", PHONE)
    assert mine.startswith("web-") and len(mine) == 64
    assert mine == public.stored_request_id("abc", "+86" + PHONE)
    assert mine != public.stored_request_id("abc", "13912345679")
    assert public.stored_request_id("", PHONE) == ""


# --- the app on SQLite ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


RULES = IntakePolicy(
    version="test",
    repeat_window_days=180,
    institution_similarity=85,
    lookup_window_minutes=15,
    lookup_failures_per_case=3,
    lookup_failures_per_address=5,
)


@pytest.fixture()
def factory(tmp_path):
    engine = db.make_engine("intake", f"sqlite:///{tmp_path}/intake.db")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def client(factory, clock) -> Client:
    return Client(ConsumerApp(factory, rules=lambda: RULES, clock=clock))


def lookup(client: Client, case_no: str, phone: str, address: str = "10.0.0.1"):
    return client.post(
        "/api/v1/cases/lookup",
        json={"case_no": case_no, "phone": phone},
        environ_overrides={"REMOTE_ADDR": address},
    )


def count(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_submitted_complaint_can_be_followed_with_its_phone(client, factory):
    receipt = client.post("/api/v1/complaints", json=complaint(amount_yuan="300.5"))
    assert receipt.status_code == 201, receipt.json
    case_no = receipt.json["case_no"]
    with factory() as session:
        case = session.scalar(select(Case))
        assert (case.channel, case.amount_in_dispute_fen) == ("web", 30050)
    found = lookup(client, case_no, "+86" + PHONE)
    assert found.status_code == 200
    assert found.json["case_no"] == case_no
    assert found.headers["Cache-Control"] == "no-store"


def test_a_refused_submission_stores_nothing(client, factory):
    for body in (complaint(phone="12345"), complaint(id_number="110105194912310021"), {}):
        answer = client.post("/api/v1/complaints", json=body)
        assert answer.status_code == 422
        assert answer.json["error"]["field"]
    assert (
        client.post("/api/v1/complaints", data="{}", content_type="text/plain").status_code == 415
    )
    big = complaint(summary="投" * 12000)
    assert client.post("/api/v1/complaints", json=big).status_code == 413
    assert (
        client.post("/api/v1/complaints", data="[", content_type="application/json").status_code
        == 400
    )
    assert count(factory, Case) == 0


def test_a_wrong_phone_and_an_unknown_case_get_the_same_answer(client):
    case_no = client.post("/api/v1/complaints", json=complaint()).json["case_no"]
    wrong_phone = lookup(client, case_no, "13912345679")
    unknown = lookup(client, "XB20261102999999", PHONE)
    assert wrong_phone.status_code == unknown.status_code == 404
    assert wrong_phone.data == unknown.data
    assert wrong_phone.json["error"] == {
        "code": "not_found",
        "field": "case_no",
        "message": "没有找到与该手机号匹配的案件",
    }


def test_wrong_guesses_for_a_case_are_limited_and_the_window_frees_them(client, clock, factory):
    mine = client.post("/api/v1/complaints", json=complaint()).json["case_no"]
    other = client.post("/api/v1/complaints", json=complaint(phone="13800000000")).json["case_no"]
    for _ in range(RULES.lookup_failures_per_case):
        assert lookup(client, mine, "13000000000", "10.0.0.2").status_code == 404
    clock.now += timedelta(minutes=5)
    refused = lookup(client, mine, PHONE, "10.0.0.3")  # even the right phone, from elsewhere
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(10 * 60)
    assert refused.json["error"]["field"] == "case_no"
    assert lookup(client, other, "13800000000", "10.0.0.2").status_code == 200
    clock.now += timedelta(minutes=10, seconds=1)
    assert lookup(client, mine, PHONE, "10.0.0.3").status_code == 200
    # Only wrong guesses were stored, under keyed hashes: never a case number or an address.
    with factory() as session:
        keys = set(session.scalars(select(LookupAttempt.key)))
    assert mine not in keys and "10.0.0.2" not in keys
    assert public.attempt_key("case", mine) in keys


def test_wrong_guesses_from_one_address_are_limited_across_cases(client):
    case_no = client.post("/api/v1/complaints", json=complaint()).json["case_no"]
    for serial in range(RULES.lookup_failures_per_address):
        guess = f"XB20261102{serial:06d}"
        assert lookup(client, guess, PHONE, "10.0.0.9").status_code == 404
    refused = lookup(client, case_no, PHONE, "10.0.0.9")
    assert refused.status_code == 429
    assert "field" not in refused.json["error"]
    assert lookup(client, case_no, PHONE, "10.0.0.10").status_code == 200


def test_right_answers_never_count(client):
    case_no = client.post("/api/v1/complaints", json=complaint()).json["case_no"]
    for _ in range(RULES.lookup_failures_per_address + 2):
        assert lookup(client, case_no, PHONE).status_code == 200


def test_a_retried_request_id_files_once_and_only_for_the_same_phone(client, factory):
    first = client.post("/api/v1/complaints", json=complaint(request_id="r-1"))
    again = client.post("/api/v1/complaints", json=complaint(request_id="r-1"))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json["case_no"] == first.json["case_no"] and again.json["duplicate"]
    someone_else = client.post(
        "/api/v1/complaints", json=complaint(request_id="r-1", phone="13800000000")
    )
    assert someone_else.json["case_no"] != first.json["case_no"]
    assert not someone_else.json["duplicate"]
    assert count(factory, Case) == 2


def test_every_answer_carries_the_security_headers_and_no_cors(client):
    for answer in (
        client.get("/"),
        client.get("/static/app.js"),
        client.get("/nowhere"),
        client.post("/api/v1/complaints", json={}),
        client.options("/api/v1/complaints", headers={"Origin": "https://evil.example"}),
    ):
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value
        assert "Access-Control-Allow-Origin" not in answer.headers
    assert "'unsafe-inline'" not in SECURITY_HEADERS["Content-Security-Policy"]


def test_the_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere(client):
    page = client.get("/").get_data(as_text=True)
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/app.js" defer>']
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers
    assert all(url.startswith("/") for url in re.findall(r'(?:src|href)="([^"#]*)"', page))
    assert "http" not in page
    assert client.get("/static/../http.py").status_code == 404
    assert client.get("/static/index.html").status_code == 404


# --- where it is served ------------------------------------------------------------------------------


def busy_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def test_a_taken_page_port_is_named_before_the_platform_starts():
    sock, port = busy_port()
    with sock:
        cfg = settings.load({"XIAOBAO_INTAKE_HTTP_PORT": str(port)})
        with pytest.raises(PortsInUse) as err:
            check_ports(cfg, ("intake",))
    assert f"{port} (XIAOBAO_INTAKE_HTTP_PORT)" in str(err.value)


def test_a_taken_page_port_stops_the_api_with_one_line(factory):
    sock, port = busy_port()
    with sock:
        cfg = settings.load({"XIAOBAO_INTAKE_HTTP_PORT": str(port)})
        with pytest.raises(SystemExit) as err:
            consumer_http.start(cfg, factory)
    message = str(err.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message and "XIAOBAO_INTAKE_HTTP_PORT" in message


def test_the_page_is_served_on_its_port_until_closed(factory):
    sock, port = busy_port()
    sock.close()
    server = consumer_http.start(settings.load({"XIAOBAO_INTAKE_HTTP_PORT": str(port)}), factory)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.status == 200
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        server.close()
    assert not server.thread.is_alive()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
