"""The mediation desk's command line and api messages without a server: a bad roster file is
refused in one line naming its line, and listings mask the complainant's personal data."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from services.cli import app
from services.mediation.api import request_message
from services.mediation.models import MediationRequest


def test_a_bad_roster_file_is_refused_in_one_line_naming_the_line(tmp_path) -> None:
    bad = tmp_path / "roster.yaml"
    bad.write_text(
        "mediators:\n  - id: m1\n    name: 王建国\n    specialities: [banking]\n"
        "    max_per_day: zero\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["mediation", "import-roster", str(bad)])
    assert result.exit_code == 2
    assert "line 2: mediators[0].max_per_day" in result.output
    assert "Traceback" not in result.output


def test_a_missing_roster_file_is_refused(tmp_path) -> None:
    result = CliRunner().invoke(app, ["mediation", "import-roster", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_listings_mask_the_complainant_and_the_case_view_does_not() -> None:
    at = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    req = MediationRequest(
        id=7,
        case_no="TJ1",
        source="consumer",
        state="awaiting_consent",
        outcome="",
        outcome_reason="",
        reason="",
        preferred_form="any",
        fast_track=False,
        institution_node_id="ccb-tj",
        institution_name="建设银行",
        product="credit_cards",
        amount_in_dispute_fen=100,
        complainant_name="张三丰",
        complainant_phone="13800138000",
        complainant_age=70,
        court_name="",
        court_reference="",
        requested_at=at,
        clock_events=[],
        agreement_amount_fen=0,
        agreement_terms="",
        judicial_confirmation=False,
        judicial_court="",
        judicial_reference="",
        language="",
    )
    masked = request_message(req, full=False)
    assert masked.complainant_phone != "13800138000" and "138" in masked.complainant_phone
    assert masked.complainant_name != "张三丰"
    assert masked.clock.name == "mediation" and masked.clock.state == "not_started"
    full = request_message(req, full=True)
    assert (full.complainant_name, full.complainant_phone) == ("张三丰", "13800138000")
