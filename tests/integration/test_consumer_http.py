"""The consumers' HTTP API on the running platform: held to its OpenAPI file by generated requests
(schemathesis), and the centre's promises to consumers tested one by one.

Every test calls from a loopback address of its own (127.0.0.x; Linux routes all of 127/8 to lo),
so the per-address limit on wrong guesses one test provokes never refuses another test.
"""

from __future__ import annotations

import http.client
import json
import uuid
from itertools import count
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from requests.adapters import HTTPAdapter
from schemathesis.checks import positive_data_acceptance

from services.common.clients import stub
from services.intake import public
from services.intake.http import SECURITY_HEADERS
from services.intake.policy import load as load_intake_policy
from tests.integration.conftest import eventually
from xiaobao.intake.v1 import intake_pb2 as ipb

pytestmark = pytest.mark.integration

SCHEMA = schemathesis.openapi.from_path(public.OPENAPI_FILE)
_sources = count(10)


def source_address() -> str:
    """A loopback address no other test in this module calls from."""
    return f"127.0.0.{next(_sources)}"


class Consumer:
    """A consumer's client: plain HTTP from one loopback address."""

    def __init__(self, base: str, address: str | None = None) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.address = address or source_address()

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict, http.client.HTTPMessage]:
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=15, source_address=(self.address, 0)
        )
        try:
            data = raw if raw is not None else None
            if body is not None:
                data = json.dumps(body, ensure_ascii=False).encode()
            sent = {"Content-Type": content_type, **(headers or {})} if data is not None else {}
            conn.request(method, path, body=data, headers=sent or (headers or {}))
            response = conn.getresponse()
            text = response.read()
            try:
                payload = json.loads(text) if text else {}
            except ValueError:
                payload = {"text": text.decode(errors="replace")}
            return response.status, payload, response.headers
        finally:
            conn.close()

    def submit(self, **changes) -> tuple[int, dict, http.client.HTTPMessage]:
        return self.call("POST", "/api/v1/complaints", complaint(**changes))

    def lookup(self, case_no: str, phone: str) -> tuple[int, dict, http.client.HTTPMessage]:
        return self.call("POST", "/api/v1/cases/lookup", {"case_no": case_no, "phone": phone})


def complaint(**changes) -> dict:
    body = {
        "channel": "web",
        "name": "李秀英",
        "phone": "13912345678",
        "region_code": "120104",
        "institution": "天津平安人寿",
        "product": "life",
        "summary": "销售时夸大收益，要求退保。",
        "amount_yuan": "15800.00",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def a_phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


@pytest.fixture(scope="module")
def intake_db(database_url: str, platform):
    """A query against intake's own schema: (sql, params) -> the first column of the first row."""

    def query(sql: str, *params):
        with psycopg.connect(database_url) as conn:
            return conn.execute(sql, params).fetchone()[0]

    return query


@pytest.fixture(scope="module")
def stored(intake_db):
    """How many cases and lookup attempts intake has stored."""
    return lambda: (
        intake_db('SELECT count(*) FROM intake."case"'),
        intake_db("SELECT count(*) FROM intake.lookup_attempt"),
    )


# --- the contract, by generated requests ------------------------------------------------------------


class _FromAddress(HTTPAdapter):
    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


@pytest.fixture(scope="module")
def fuzz_session():
    session = requests.Session()
    session.mount("http://", _FromAddress("127.0.0.250"))
    yield session
    session.close()


@SCHEMA.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_contract(case, http_base, fuzz_session):
    """Positive and negative generated requests: never a 5xx, every status, header, content type
    and body as documented, and every request the schema forbids refused with a 4xx.

    Positive data need not be accepted: the schema cannot say that an ID number's check
    character is wrong, and lookups of generated case numbers find nothing (404) or, after
    enough of them, are refused (429)."""
    case.call_and_validate(
        base_url=http_base,
        session=fuzz_session,
        excluded_checks=[positive_data_acceptance],
        timeout=15,
    )


def test_the_served_contract_is_the_committed_file(http_base):
    status, payload, headers = Consumer(http_base).call("GET", "/api/v1/openapi.yaml")
    assert status == 200
    assert headers["Content-Type"].startswith("application/yaml")
    assert payload["text"].encode() == public.OPENAPI_FILE.read_bytes()


# --- the promises, one by one -------------------------------------------------------------------------


def test_a_submission_is_a_case_for_staff_and_its_complainant_can_follow_it(http_base, staff):
    consumer = Consumer(http_base)
    phone = a_phone()
    status, receipt, headers = consumer.submit(
        phone=phone, id_number="11010519491231002X", institution="工行河西支行"
    )
    assert status == 201, receipt
    assert receipt["status"] == "received" and not receipt["duplicate"]
    assert "1个工作日内与您联系" in receipt["message"]
    assert headers["Cache-Control"] == "no-store"

    case = stub("intake").GetCase(ipb.GetCaseRequest(case_no=receipt["case_no"]), metadata=staff)
    assert case.channel == ipb.CHANNEL_WEB
    assert case.kind == ipb.CASE_KIND_COMPLAINT
    assert case.complainant.phone == f"{phone[:3]}****{phone[-4:]}"
    assert case.complainant.name == "李**"
    assert case.amount_in_dispute_fen == 1_580_000
    assert case.institution_text == "工行河西支行"

    def assigned():
        status, view, _ = consumer.lookup(receipt["case_no"], phone)
        assert status == 200, view
        return view if view["status"] == "assigned" else None

    view = eventually(assigned)
    office = stub("intake").GetCase(ipb.GetCaseRequest(case_no=case.case_no), metadata=staff)
    assert view["name"] == "李**"
    assert view["institution"] == office.assigned_node_name
    assert office.assigned_node_name.startswith("中国工商银行")
    assert view["next_deadline"]
    assert view["timeline"][0]["text"] == "中心收到您的投诉，已登记受理"
    assert any(office.assigned_node_name in e["text"] for e in view["timeline"])
    shown = json.dumps(view, ensure_ascii=False)
    for private in (phone, "李秀英", "11010519491231002X", "夸大收益", "confidence", "routing"):
        assert private not in shown


BAD_FIELDS = [
    ("channel", "hotline"),
    ("name", ""),
    ("name", "李" * 51),
    ("phone", "12345"),
    ("phone", 13912345678),
    ("id_number", "110105194912310021"),  # wrong check character: the domain's refusal
    ("region_code", "1201"),
    ("institution", ""),
    ("institution", "行" * 201),
    ("product", "p" * 41),
    ("summary", "   "),
    ("summary", "字" * 4001),
    ("amount_yuan", "12.345"),
    ("amount_yuan", -5),
    ("request_id", "含空格 的id"),
    ("kind", "petition"),  # not a field of this API
]


@pytest.mark.parametrize(
    ("field", "value"), BAD_FIELDS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_FIELDS)]
)
def test_bad_input_on_every_field_is_refused_naming_it_and_stores_nothing(
    http_base, stored, field, value
):
    before = stored()
    status, answer, _ = Consumer(http_base).submit(**{"request_id": uuid.uuid4().hex, field: value})
    assert status == 422, answer
    assert answer["error"]["field"] == field
    assert answer["error"]["message"]
    assert "Traceback" not in json.dumps(answer)
    assert stored() == before


@pytest.mark.parametrize("missing", ["name", "phone", "institution", "summary"])
def test_a_missing_required_field_is_named(http_base, stored, missing):
    before = stored()
    status, answer, _ = Consumer(http_base).submit(**{missing: None})
    assert (status, answer["error"]["field"]) == (422, missing)
    assert stored() == before


def test_bodies_that_are_not_json_objects_are_refused_and_store_nothing(http_base, stored):
    consumer = Consumer(http_base)
    before = stored()
    for raw, content_type, expected in (
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b"{}", "text/plain", 415),
        (b"{}", "application/json; charset=gbk", 415),
        (b"{not json", "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"amount_yuan": NaN}', "application/json", 400),
        (json.dumps(complaint(summary="字" * 20000)).encode(), "application/json", 413),
    ):
        status, answer, _ = consumer.call(
            "POST", "/api/v1/complaints", raw=raw, content_type=content_type
        )
        assert status == expected, (raw[:40], answer)
        assert answer["error"]["message"]
    assert stored() == before


def test_a_wrong_phone_is_indistinguishable_from_an_unknown_case(http_base):
    consumer = Consumer(http_base)
    phone = a_phone()
    _, receipt, _ = consumer.submit(phone=phone)
    wrong_phone = consumer.lookup(receipt["case_no"], a_phone())
    unknown_case = consumer.lookup("XB20200101999999", phone)
    assert wrong_phone[0] == unknown_case[0] == 404
    assert (
        wrong_phone[1]
        == unknown_case[1]
        == {
            "error": {
                "code": "not_found",
                "field": "case_no",
                "message": "没有找到与该手机号匹配的案件",
            }
        }
    )


def test_wrong_guesses_turn_to_429_and_a_right_answer_still_works_for_another_case(
    http_base, intake_db
):
    rules = load_intake_policy()
    guesser = Consumer(http_base)
    phone, other_phone = a_phone(), a_phone()
    _, target, _ = Consumer(http_base).submit(phone=phone)
    _, other, _ = Consumer(http_base).submit(phone=other_phone)
    for _ in range(rules.lookup_failures_per_case):
        assert guesser.lookup(target["case_no"], a_phone())[0] == 404
    status, refused, headers = guesser.lookup(target["case_no"], a_phone())
    assert status == 429
    assert refused["error"]["code"] == "too_many_attempts"
    assert 0 < int(headers["Retry-After"]) <= rules.lookup_window_minutes * 60
    # The case number is closed to guessing for everyone, its owner too, until the window ends...
    assert Consumer(http_base).lookup(target["case_no"], phone)[0] == 429
    # ...but the same caller's right answer for another case still works.
    assert guesser.lookup(other["case_no"], other_phone)[0] == 200

    # Stored under keyed hashes, never the case number or the address; refused lookups are
    # not stored (they do not prolong the wait).
    def attempts(key: str, ok: bool) -> int:
        return intake_db(
            "SELECT count(*) FROM intake.lookup_attempt WHERE key = %s AND ok = %s", key, ok
        )

    by_case = public.attempt_key("case", target["case_no"])
    by_address = public.attempt_key("address", guesser.address)
    assert attempts(by_case, False) == rules.lookup_failures_per_case
    assert attempts(by_address, False) == rules.lookup_failures_per_case
    assert attempts(by_address, True) == 1
    clear = (target["case_no"], guesser.address)
    assert (
        intake_db("SELECT count(*) FROM intake.lookup_attempt WHERE key = ANY(%s)", list(clear))
        == 0
    )


def test_wrong_guesses_from_one_address_are_limited_across_case_numbers(http_base):
    rules = load_intake_policy()
    guesser = Consumer(http_base)
    phone = a_phone()
    _, mine, _ = Consumer(http_base).submit(phone=phone)
    for serial in range(rules.lookup_failures_per_address):
        assert guesser.lookup(f"XB20200101{serial:06d}", phone)[0] == 404
    status, refused, headers = guesser.lookup(mine["case_no"], phone)
    assert status == 429 and "Retry-After" in headers
    assert "field" not in refused["error"]  # the address is refused, not the case number
    assert Consumer(http_base).lookup(mine["case_no"], phone)[0] == 200


def test_a_retried_request_id_files_one_case(http_base, stored):
    consumer = Consumer(http_base)
    request_id, phone = str(uuid.uuid4()), a_phone()
    before = stored()[0]
    first = consumer.submit(phone=phone, request_id=request_id)
    again = consumer.submit(phone=phone, request_id=request_id)
    assert first[0] == again[0] == 201
    assert again[1]["case_no"] == first[1]["case_no"]
    assert (first[1]["duplicate"], again[1]["duplicate"]) == (False, True)
    assert stored()[0] == before + 1


def test_another_consumers_case_is_unreachable(http_base):
    alice, mallory = Consumer(http_base), Consumer(http_base)
    alice_phone, mallory_phone = a_phone(), a_phone()
    request_id = str(uuid.uuid4())
    _, hers, _ = alice.submit(phone=alice_phone, request_id=request_id)
    # Her case number with another phone: nothing.
    assert mallory.lookup(hers["case_no"], mallory_phone)[0] == 404
    # Her request_id with another phone: a case of one's own, never hers.
    status, own, _ = mallory.submit(phone=mallory_phone, request_id=request_id)
    assert status == 201 and own["case_no"] != hers["case_no"] and not own["duplicate"]
    # Every other route is the page, its files, or the contract: no listing of cases exists.
    for method, path in (
        ("GET", f"/api/v1/cases/{hers['case_no']}"),
        ("GET", "/api/v1/cases"),
        ("GET", "/api/v1/complaints"),
        ("GET", "/static/../../services/intake/models.py"),
    ):
        status, answer, _ = mallory.call(method, path)
        assert status in (404, 405), (path, status)
        assert hers["case_no"] not in json.dumps(answer)


def test_answers_carry_security_headers_and_no_cors(http_base):
    consumer = Consumer(http_base)
    preflight = consumer.call(
        "OPTIONS",
        "/api/v1/cases/lookup",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    for status, _, headers in (
        consumer.call("GET", "/"),
        consumer.call("GET", "/static/app.js"),
        consumer.lookup("XB20200101000001", a_phone()),
        preflight,
    ):
        for name, value in SECURITY_HEADERS.items():
            assert headers[name] == value, (status, name)
        assert headers["Access-Control-Allow-Origin"] is None
    assert preflight[0] == 405


def test_liveness_and_readiness(http_base):
    consumer = Consumer(http_base)
    assert consumer.call("GET", "/healthz")[:2] == (200, {"status": "ok"})
    assert consumer.call("GET", "/readyz")[:2] == (200, {"status": "ok"})
