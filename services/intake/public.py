"""What a consumer sends and sees: requests checked against the OpenAPI contract, and their own
case told in plain Chinese (no staff names, no other party's data, no internal reasons).

Pure: no framework and no database; services/intake/http.py serves it.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from services.common import pii
from services.common.clock import SHANGHAI, Policy
from services.common.logs import mask_name
from services.intake import domain

OPENAPI_FILE = Path(__file__).parent / "openapi.yaml"

# The request fields as the consumer knows them (the form's labels).
LABELS = {
    "channel": "渠道",
    "name": "姓名",
    "phone": "手机号码",
    "id_number": "身份证号码",
    "region_code": "所在地区",
    "institution": "被投诉机构",
    "product": "产品或业务",
    "summary": "投诉内容",
    "amount_yuan": "争议金额",
    "request_id": "请求编号",
    "case_no": "案件号",
}

# What to say when a field does not have the shape its pattern asks for.
PATTERN_MESSAGES = {
    "phone": "请填写正确的手机号码（11位）或带区号的固定电话",
    "id_number": "身份证号码应为18位（最后一位可以是X）",
    "region_code": "地区代码应为6位数字",
    "case_no": "案件号格式不正确：以XB开头，后面是数字",
    "amount_yuan": "争议金额请填写数字（元），最多两位小数",
    "request_id": "请求编号只能包含字母、数字和 . _ : -，最长64位",
}

# domain.validate's field names → the JSON names of the consumer API.
DOMAIN_FIELDS = {
    "complainant.name": "name",
    "complainant.phone": "phone",
    "complainant.id_number": "id_number",
    "complainant.region_code": "region_code",
    "institution_text": "institution",
    "amount_in_dispute_fen": "amount_yuan",
}

NOT_FOUND_MESSAGE = "没有找到与该手机号匹配的案件"


class FieldError(ValueError):
    """A request field the consumer must correct; `field` is its JSON name."""

    def __init__(self, field: str, message: str, code: str = "invalid_field") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


class BodyError(ValueError):
    """The body as a whole is not what the API takes (not a JSON object)."""


def _label(field: str) -> str:
    return LABELS.get(field, field)


# --- requests, checked against the OpenAPI document ---------------------------------------------


class Contract:
    """The request schemas of openapi.yaml, enforced as written.

    Only the keywords the document uses are understood (type, enum, minLength, maxLength,
    pattern, minimum, maximum, required, additionalProperties: false, $ref to a schema); loading
    refuses any other, so the document cannot promise a check the server does not make.
    """

    KEYWORDS = frozenset(
        {
            "type",
            "enum",
            "minLength",
            "maxLength",
            "pattern",
            "minimum",
            "maximum",
            "default",
            "description",
            "examples",
            "format",
            "$ref",
        }
    )

    OBJECT_KEYWORDS = frozenset(
        {"type", "additionalProperties", "required", "properties", "description"}
    )

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.schemas: dict[str, Any] = dict(document["components"]["schemas"])
        self.requests: dict[str, dict[str, Any]] = {}
        for path in document["paths"].values():
            for operation in path.values():
                body = (operation.get("requestBody") or {}).get("content") or {}
                if "application/json" in body:
                    ref = body["application/json"]["schema"]["$ref"]
                    name = ref.rsplit("/", 1)[1]
                    self.requests[name] = self._object(name)
        self._patterns = {
            p: re.compile(p[1:-1])
            for schema in self.requests.values()
            for prop in schema["properties"].values()
            if (p := prop.get("pattern"))
        }

    @classmethod
    def load(cls, path: Path = OPENAPI_FILE) -> Contract:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def _resolve(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return dict(self.schemas[schema["$ref"].rsplit("/", 1)[1]])
        return dict(schema)

    def _object(self, name: str) -> dict[str, Any]:
        schema = self.schemas[name]
        if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
            raise ValueError(f"{name}: a request must be an object without additional properties")
        unknown = set(schema) - self.OBJECT_KEYWORDS
        if unknown:
            raise ValueError(f"{name}: keywords the server does not check: {unknown}")
        properties = {k: self._resolve(v) for k, v in schema["properties"].items()}
        for key, prop in properties.items():
            unknown = set(prop) - self.KEYWORDS
            if unknown:
                raise ValueError(f"{name}.{key}: keywords the server does not check: {unknown}")
            pattern = prop.get("pattern", "^$")
            if not (pattern.startswith("^") and pattern.endswith("$")):
                raise ValueError(f"{name}.{key}: patterns must be anchored with ^ and $")
        return {"properties": properties, "required": list(schema.get("required", []))}

    def check(self, name: str, body: object) -> dict[str, Any]:
        """The body with defaults filled in, or FieldError naming the first bad field (in the
        document's order), or BodyError when it is not a JSON object."""
        if not isinstance(body, dict):
            raise BodyError("请求内容应为 JSON 对象")
        schema = self.requests[name]
        properties = schema["properties"]
        for key in body:
            if key not in properties:
                # Echoed back: cut short, and anything that is not text replaced.
                shown = key[:100].encode("utf-8", "replace").decode("utf-8")
                raise FieldError(shown, f"不认识的字段：{shown}", code="unknown_field")
        out: dict[str, Any] = {}
        for key, prop in properties.items():
            if key not in body:
                if key in schema["required"]:
                    raise FieldError(key, f"请填写{_label(key)}")
                if "default" in prop:
                    out[key] = prop["default"]
                continue
            out[key] = self._value(key, prop, body[key], key in schema["required"])
        return out

    def _value(self, key: str, prop: Mapping[str, Any], value: object, required: bool) -> object:
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        label = _label(key)
        if isinstance(value, str) and "string" in types:
            if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
                raise FieldError(key, f"{label}含有无法识别的字符")
            if "enum" in prop and value not in prop["enum"]:
                raise FieldError(key, f"{label}只能是：{'、'.join(prop['enum'])}")
            # Blank is "missing" to a person, whatever else the field would have to match.
            if len(value) < prop.get("minLength", 0) or (required and not value.strip()):
                raise FieldError(key, f"请填写{label}")
            if "maxLength" in prop and len(value) > prop["maxLength"]:
                raise FieldError(key, f"{label}不能超过{prop['maxLength']}个字")
            pattern = prop.get("pattern")
            if pattern and not self._patterns[pattern].fullmatch(value):
                raise FieldError(key, PATTERN_MESSAGES.get(key, f"{label}含有不能使用的字符"))
            return value
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and ("number" in types or ("integer" in types and isinstance(value, int))):
            if not math.isfinite(value):
                raise FieldError(key, f"{label}超出范围")
            if ("minimum" in prop and value < prop["minimum"]) or (
                "maximum" in prop and value > prop["maximum"]
            ):
                raise FieldError(key, f"{label}超出范围")
            return value
        raise FieldError(key, f"{label}格式不正确")


@cache
def contract() -> Contract:
    return Contract.load()


def amount_fen(value: str | float | None) -> int:
    """Yuan (a decimal string or a JSON number) as fen; at most two decimal places."""
    if value is None or value == "":
        return 0
    try:
        # repr of a float is the shortest text that reads back the same: 0.07, not 0.0700…01.
        amount = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise FieldError("amount_yuan", PATTERN_MESSAGES["amount_yuan"]) from None
    if not amount.is_finite() or amount < 0:
        raise FieldError("amount_yuan", "争议金额超出范围")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise FieldError("amount_yuan", PATTERN_MESSAGES["amount_yuan"])
    return int(fen)


def new_case(body: Mapping[str, Any]) -> domain.NewCase:
    """A checked complaint request as the domain's NewCase (domain.validate comes next)."""
    return domain.NewCase(
        kind="complaint",
        channel=body.get("channel", "web"),
        name=body["name"],
        phone=body["phone"],
        id_number=body.get("id_number", ""),
        region_code=body.get("region_code", ""),
        institution_text=body["institution"],
        product=body.get("product", ""),
        summary=body["summary"],
        amount_in_dispute_fen=amount_fen(body.get("amount_yuan")),
        received_at=None,
    )


def domain_error(field: str, message: str) -> FieldError:
    """domain.validate's InvalidArgument, told to the consumer against the JSON field."""
    key = DOMAIN_FIELDS.get(field, field)
    label = _label(key)
    if message == "is required" or message.startswith("is required "):
        return FieldError(key, f"请填写{label}")
    longer = re.match(r"is longer than (\d+) characters", message)
    if longer:
        return FieldError(key, f"{label}不能超过{longer.group(1)}个字")
    if key == "id_number":
        return FieldError(key, "身份证号码校验不通过，请核对后重新填写")
    if key == "amount_yuan":
        return FieldError(key, "争议金额超出范围")
    if key in PATTERN_MESSAGES:
        return FieldError(key, PATTERN_MESSAGES[key])
    return FieldError(key, f"{label}填写不正确")


def stored_request_id(request_id: str | None, phone: str) -> str:
    """The request_id stored with the case: a keyed hash of the consumer's id and normalised
    phone, so one consumer's id can never return another consumer's case, and no consumer's id
    can meet one chosen by staff."""
    if not request_id:
        return ""
    digest = pii.keyed_hash(f"consumer-request:{domain.normalise_phone(phone)}:{request_id}")
    return f"web-{digest[:60]}"


# --- lookups -------------------------------------------------------------------------------------


def attempt_key(kind: str, value: str) -> str:
    """The LookupAttempt key of a case number or caller address: a keyed hash, never the value."""
    return pii.keyed_hash(f"consumer-lookup:{kind}:{value}")


def phone_matches(phone_hash: str | None, phone: str) -> bool:
    """Whether `phone` is the case's phone, by keyed hash, in constant time; with no case
    (phone_hash None) the same work is done, so timing does not tell which part was wrong."""
    given = pii.keyed_hash(domain.normalise_phone(phone))
    expected = phone_hash if phone_hash else "0" * len(given)
    same = hmac.compare_digest(given.encode(), expected.encode())
    return same and phone_hash is not None


# --- the case as its complainant sees it ---------------------------------------------------------

STATUS_TEXT = {
    "received": "已受理，正在转交被投诉机构",
    "needs_routing": "已受理，中心正在确认负责处理的机构",
    "assigned": "被投诉机构正在处理",
    "answered": "机构已作出处理决定",
    "referred_to_mediation": "已转入调解",
    "closed": "已办结",
    "linked": "已并入您此前就同一事项的投诉一并处理",
    "withdrawn": "已撤回",
}

# The institution's answer clocks: their last day is the consumer's "answer by" date.
INSTITUTION_CLOCKS = ("institution_decision", "petition_handling")
# Statuses in which an office has the case (before them routing is still deciding).
WITH_AN_OFFICE = ("assigned", "answered", "referred_to_mediation", "closed")

# Events a consumer sees, in plain words. Anything not listed (classification, 60%/80% notices,
# events added later) stays internal: a new event type is hidden until someone words it here.
EVENT_TEXT = {
    "intake.regulator_received": "监管部门收到您的投诉，转交本中心办理",
    "intake.first_contact_recorded": "中心工作人员已与您联系",
    "intake.repeat_received": "收到您就同一事项的再次投诉，已并入本案件一并处理",
    "intake.case_withdrawn": "您已撤回投诉，案件终止办理",
    "intake.case_closed": "案件已办结",
    "routing.case_needs_routing": "中心正在确认负责处理您投诉的机构",
    "routing.case_acknowledged": "被投诉机构已确认收到您的投诉",
    "routing.case_extended": "因案情复杂，机构依规延长了处理期限",
    "routing.clock_paused": "因鉴定、评估或调解等，处理期限依规暂停计算",
    "routing.clock_resumed": "处理期限恢复计算",
    "routing.case_returned": "原转交的机构反馈不属于其处理范围，中心正在重新转交",
    "routing.deadline_breached": "中心已督促机构加快处理",
    "routing.case_answered": "机构已作出处理决定并告知您",
}


def status_text(status: str) -> str:
    return STATUS_TEXT.get(status, "处理中")


@dataclass(frozen=True)
class TimelineEntry:
    date: date
    text: str


def local_date(value: datetime) -> date:
    return value.astimezone(SHANGHAI).date()


def _received_text(case) -> str:
    if case.status == "linked":
        return "收到您的投诉。您此前已就同一事项投诉，本次投诉并入原案件一并处理"
    if case.repeat_of and case.new_facts:
        return "收到您的投诉。您就此前投诉的事项提供了新的事实和理由，本中心作为新案件办理"
    return "中心收到您的投诉，已登记受理"


def timeline(case) -> list[TimelineEntry]:
    """The consumer's timeline of a case: what happened, in order, in plain Chinese."""
    events = sorted(case.events, key=lambda e: (e.at, e.id or 0))
    assignments = [e for e in events if e.type == "routing.case_assigned"]
    answers = [e for e in events if e.type == "routing.case_answered"]
    out = []
    for event in events:
        if event.type == "intake.case_received":
            text = _received_text(case)
        elif event.type == "routing.case_assigned":
            # Only the office that has the case now is named; earlier ones sent it back.
            current = event is assignments[-1] and case.assigned_node_name
            text = (
                f"您的投诉已转交{case.assigned_node_name}处理"
                if current
                else "您的投诉已转交被投诉机构处理"
            )
        elif event.type == "routing.case_answered" and case.status == "referred_to_mediation":
            text = (
                "机构已作出处理决定，案件转入调解"
                if event is answers[-1]
                else EVENT_TEXT[event.type]
            )
        elif event.type in EVENT_TEXT:
            text = EVENT_TEXT[event.type]
        else:
            continue
        out.append(TimelineEntry(local_date(event.at), text))
    return out


def next_deadline(case) -> date | None:
    """The last day the office has to answer, while its answer clock runs."""
    if case.status != "assigned":
        return None
    days = [
        c.last_day
        for c in case.clocks
        if c.name in INSTITUTION_CLOCKS
        and c.started_at is not None
        and c.stopped_at is None
        and c.last_day is not None
    ]
    return min(days) if days else None


def case_view(case) -> dict[str, Any]:
    """The lookup answer: only what the complainant may see of their own case."""
    deadline = next_deadline(case)
    office = case.assigned_node_name if case.status in WITH_AN_OFFICE else ""
    return {
        "case_no": case.case_no,
        "name": mask_name(case.complainant_name),
        "received_on": local_date(case.received_at).isoformat(),
        "status": case.status,
        "status_text": status_text(case.status),
        "institution": office or None,
        "next_deadline": deadline.isoformat() if deadline else None,
        "timeline": [{"date": e.date.isoformat(), "text": e.text} for e in timeline(case)],
    }


def _days(policy: Policy, clock: str, default: str) -> str:
    spec = policy.clocks.get(clock)
    if spec is None:
        return default
    return f"{spec.limit}个工作日" if spec.unit == "working_days" else f"{spec.limit}日"


def receipt_message(case, policy: Policy) -> str:
    """What the consumer is told on submitting: the case number and what happens next, with the
    limits the policy in force sets."""
    if case.status == "linked":
        return (
            f"您的投诉已收到，案件号 {case.case_no}。您此前已就同一事项投诉，本次投诉将并入原案件"
            "一并处理，不再另行计算处理期限。如有新的事实和理由，请在投诉内容中写明。"
        )
    contact = _days(policy, "first_contact", "1个工作日")
    decide = _days(policy, "institution_decision", "15日")
    return (
        f"您的投诉已受理，案件号 {case.case_no}。中心工作人员将在{contact}内与您联系，"
        f"并将投诉转交被投诉机构；机构应在收到后{decide}内作出处理决定并告知您。"
        "请保存案件号，凭案件号和手机号码可随时查询办理进度。"
    )


def receipt(case, duplicate: bool, policy: Policy) -> dict[str, Any]:
    return {
        "case_no": case.case_no,
        "received_at": case.received_at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
        "status": case.status,
        "status_text": status_text(case.status),
        "message": receipt_message(case, policy),
        "duplicate": duplicate,
    }
