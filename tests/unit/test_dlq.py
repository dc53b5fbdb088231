"""The dead-letter queue as the operator reads it: what a parked message says, without its body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from typer.testing import CliRunner

from services.cli import app
from services.common.dlq import _describe
from services.common.messaging import SUBSCRIPTIONS, handler_queue, queue_name


@dataclass
class Parked:
    body: bytes
    headers: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)


def test_every_handler_maps_to_the_queue_it_consumes() -> None:
    for (source, event_type), subscribers in SUBSCRIPTIONS.items():
        for consumer, method in subscribers:
            assert handler_queue(f"{consumer}.{method}") == queue_name(
                source, event_type, consumer, method
            )
    assert handler_queue("intake.no_such_handler") == ""


def test_a_parked_event_is_described_by_its_headers_and_envelope_not_its_personal_data() -> None:
    body = {
        "type": "routing.case_assigned",
        "event_id": "e1",
        "payload": {"case_no": "XB20261121000001", "phone": "13912345678", "name": "李秀英"},
    }
    letter = _describe(
        Parked(
            json.dumps(body, ensure_ascii=False).encode(),
            {
                "x-original-queue": "evt-routing-case_assigned--intake.on_case_assigned",
                "x-handler": "intake.on_case_assigned",
                "x-error": "RuntimeError: boom",
                "x-dead-lettered-at": "2026-11-21T10:00:00+00:00",
            },
            {"message_id": "abc123"},
        )
    )
    assert letter.id == "abc123"
    assert letter.queue == "evt-routing-case_assigned--intake.on_case_assigned"
    assert (letter.event_type, letter.event_id, letter.case_no) == (
        "routing.case_assigned",
        "e1",
        "XB20261121000001",
    )
    shown = json.dumps(letter.to_dict(), ensure_ascii=False)
    assert "13912345678" not in shown and "李秀英" not in shown


def test_an_undecodable_message_and_an_older_header_are_still_described() -> None:
    letter = _describe(
        Parked(b"\x00\xff not json", {"x-original-queue": "intake.on_case_assigned"}, {})
    )
    # Parked before the queue was recorded: the header held the handler; the queue is derived.
    assert letter.queue == "evt-routing-case_assigned--intake.on_case_assigned"
    assert (letter.event_type, letter.case_no) == ("", "")


def test_replay_needs_ids_or_all_but_not_both() -> None:
    runner = CliRunner()
    neither = runner.invoke(app, ["ops", "dlq", "replay"])
    assert neither.exit_code == 2 and "--all" in neither.output
    both = runner.invoke(app, ["ops", "dlq", "replay", "abc", "--all"])
    assert both.exit_code == 2 and "not both" in both.output


def test_an_unreachable_broker_is_one_line_not_a_traceback(monkeypatch) -> None:
    monkeypatch.setenv("XIAOBAO_AMQP_URI", "amqp://guest:guest@127.0.0.1:1/")
    from services.common import settings

    settings.get.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ops", "dlq", "list"])
    finally:
        settings.get.cache_clear()
    assert result.exit_code == 1
    assert "broker unreachable" in result.output
    assert "Traceback" not in result.output
