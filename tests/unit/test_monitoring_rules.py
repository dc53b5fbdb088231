"""Monitoring: the generated rules are up to date and complete, and the SLIs they read are right
for every clock of the policy (one count with several replicas, buckets at the legal limits)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import sessionmaker

from deploy import monitoring_gen as gen
from services.common import db, metrics
from services.common.calendar import WorkingCalendar
from services.common.clock import DEFAULT_POLICY_FILE, load_policy
from services.intake import cases, domain
from services.intake.metrics import OpenClocksCollector
from services.intake.models import Base

POLICY = load_policy(DEFAULT_POLICY_FILE)
DECL = gen.load_declaration(POLICY)
CLOCK_ALERTS = (
    "XiaobaoClockOverdue",
    "XiaobaoClockWithinLimitBelowObjective",
    "XiaobaoClockErrorBudgetBurn",
    "XiaobaoClockSLIMissing",
)


def _committed_rules() -> list[dict]:
    rules = []
    for rel in (gen.CLOCKS_FILE, gen.PLATFORM_FILE):
        doc = yaml.safe_load((gen.OUT_DIR / rel).read_text(encoding="utf-8"))
        rules += [r for g in doc["groups"] for r in g["rules"]]
    return rules


def _alerts() -> list[dict]:
    return [r for r in _committed_rules() if "alert" in r]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


# --- the committed files ---------------------------------------------------------------------


def test_the_committed_rules_dashboard_and_kustomization_match_the_policy(tmp_path: Path):
    files = gen.render()
    gen.write(tmp_path, files)
    stale = [
        rel
        for rel in files
        if not (gen.OUT_DIR / rel).exists()
        or (gen.OUT_DIR / rel).read_text(encoding="utf-8")
        != (tmp_path / rel).read_text(encoding="utf-8")
    ]
    diffs = "".join(gen.stale(gen.OUT_DIR, files))
    assert not stale, f"{stale} differ from the clock policy: run make monitoring\n{diffs}"


def test_the_drift_check_names_the_fix_when_a_file_was_edited_by_hand(tmp_path: Path, capsys):
    gen.write(tmp_path, gen.render())
    path = tmp_path / gen.CLOCKS_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("> 0", "> 5", 1), encoding="utf-8")
    assert gen.main(["--check", "--out", str(tmp_path)]) == 1
    assert "run make monitoring" in capsys.readouterr().out
    assert gen.main(["--check", "--out", str(gen.OUT_DIR)]) == 0


def test_every_alert_has_a_severity_summary_description_and_a_runbook_section():
    anchors = _anchors((gen.ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8"))
    alerts = _alerts()
    assert alerts
    for rule in alerts:
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("page", "ticket", "warning"), name
        notes = rule["annotations"]
        assert notes["summary"].strip() and notes["description"].strip(), name
        page, _, anchor = notes["runbook_url"].partition("#")
        assert page == DECL.runbook_url, name
        assert anchor == name.lower(), name
        assert anchor in anchors, f"docs/runbooks.md has no section for {name}"


def test_the_runbooks_have_no_section_for_an_alert_that_no_longer_exists():
    names = {r["alert"].lower() for r in _alerts()}
    sections = {
        a for a in _anchors(gen.RUNBOOKS.read_text(encoding="utf-8")) if a.startswith("xiaobao")
    }
    assert sections == names


def test_every_duty_clock_of_the_policy_has_its_alerts_and_a_window_none():
    by_clock: dict[str, set[str]] = {}
    for rule in _alerts():
        clock = rule["labels"].get("clock")
        if clock:
            by_clock.setdefault(clock, set()).add(rule["alert"])
    for name in POLICY.clocks:
        expected = set() if name in DECL.windows else set(CLOCK_ALERTS)
        assert by_clock.get(name, set()) == expected, name
    # The complainant's own windows are never SLIs in intake either.
    assert set(DECL.windows) >= domain.COMPLAINANT_WINDOWS


def test_an_overdue_case_pages_quickly_and_a_trend_raises_a_ticket():
    for rule in _alerts():
        if rule["alert"] == "XiaobaoClockOverdue":
            assert rule["labels"]["severity"] == "page"
            assert rule["for"] in ("0s", "1m")
        if rule["alert"] in (
            "XiaobaoClockWithinLimitBelowObjective",
            "XiaobaoClockErrorBudgetBurn",
        ):
            assert rule["labels"]["severity"] == "ticket"


def test_open_cases_are_deduplicated_with_max_and_closures_summed():
    rules = {r["record"]: r["expr"] for r in _committed_rules() if "record" in r}
    assert rules[gen.OPEN] == "max by (clock, state) (xiaobao_clock_open_cases)"
    assert rules[gen.PENDING].startswith("max by (service)")
    for window in gen.RATIO_WINDOWS:
        assert (
            "sum by (clock) (increase(xiaobao_clock_closed_total" in rules[gen.ratio_within(window)]
        )
    header = (gen.OUT_DIR / gen.CLOCKS_FILE).read_text(encoding="utf-8")
    assert "max by (clock, state), never sum" in header


def test_the_prometheus_rule_carries_exactly_the_plain_rule_files():
    rule = yaml.safe_load((gen.OUT_DIR / gen.PROMETHEUS_RULE_FILE).read_text(encoding="utf-8"))
    assert rule["kind"] == "PrometheusRule"
    plain = []
    for rel in (gen.CLOCKS_FILE, gen.PLATFORM_FILE):
        plain += yaml.safe_load((gen.OUT_DIR / rel).read_text(encoding="utf-8"))["groups"]
    assert rule["spec"]["groups"] == plain


def test_the_kustomization_ships_the_rule_and_the_dashboard_for_the_grafana_sidecar():
    kust = yaml.safe_load((gen.OUT_DIR / gen.KUSTOMIZATION_FILE).read_text(encoding="utf-8"))
    for resource in kust["resources"]:
        assert (gen.OUT_DIR / resource).exists()
    (cm,) = kust["configMapGenerator"]
    assert cm["options"]["labels"] == {"grafana_dashboard": "1"}
    for item in cm["files"]:
        assert (gen.OUT_DIR / item.split("=")[-1]).exists()


def test_the_dashboard_shows_every_clock_and_reads_only_recorded_or_exported_series():
    board = json.loads((gen.OUT_DIR / gen.DASHBOARD_FILE).read_text(encoding="utf-8"))
    (clock_var,) = [v for v in board["templating"]["list"] if v["name"] == "clock"]
    assert clock_var["query"].split(",") == list(POLICY.clocks)
    recorded = {r["record"] for r in _committed_rules() if "record" in r}
    titles = " ".join(p["title"] for p in board["panels"])
    for words in ("within limit", "overdue", "at risk", "duration", "Escalations"):
        assert words in titles
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            names = set(re.findall(r"[a-z_]+:[a-z_]+:[a-z_0-9]+", target["expr"]))
            assert names and names <= recorded, (panel["title"], names - recorded)


def test_a_declaration_naming_a_clock_the_policy_lacks_is_refused(tmp_path: Path):
    path = tmp_path / "objectives.yaml"
    path.write_text("objective: 0.99\nclocks:\n  institution_decisions: {objective: 0.9}\n")
    with pytest.raises(ValueError, match="institution_decisions"):
        gen.load_declaration(POLICY, path)
    path.write_text("objective: 1.5\n")
    with pytest.raises(ValueError, match="objective"):
        gen.load_declaration(POLICY, path)


def test_the_integration_profile_only_drops_the_waiting_times():
    production = gen.rule_groups(POLICY, DECL, "production")
    integration = gen.rule_groups(POLICY, DECL, "integration")
    for rel, groups in integration.items():
        rules = [r for g in groups for r in g["rules"]]
        assert not any("for" in r for r in rules)
        original = [r for g in production[rel] for r in g["rules"]]
        assert [{k: v for k, v in r.items() if k != "for"} for r in original] == rules


# --- the SLIs the rules read -----------------------------------------------------------------


def test_duration_buckets_sit_at_every_limit_and_extension_step_of_the_policy():
    buckets = metrics.legal_limit_buckets(POLICY)
    assert buckets == metrics.LEGAL_LIMIT_BUCKETS_DAYS
    for spec in POLICY.clocks.values():
        for step in (spec.limit, *(e.to for e in spec.extensions)):
            assert max(step, 1) in buckets, (spec.name, step)
            if spec.unit == "working_days":
                assert metrics.working_days_span(step) in buckets, (spec.name, step)
    assert metrics.working_days_span(7) == 11  # received on a Friday: two weekends


def test_the_holiday_table_gauge_is_the_last_year_the_table_covers():
    registry = CollectorRegistry()
    registry.register(metrics._CalendarInForce())
    last = registry.get_sample_value("xiaobao_holiday_table_last_year")
    assert last == WorkingCalendar.load().last_year == max(WorkingCalendar.load().years)
    assert registry.get_sample_value("xiaobao_clock_policy_info", {"version": POLICY.version}) == 1


def test_every_clock_outcome_is_exported_at_zero_before_the_first_closure():
    metrics.init_clock_series(POLICY)
    for name in POLICY.clocks:
        for within in ("true", "false"):
            labels = {"clock": name, "within_limit": within}
            assert (
                metrics.REGISTRY.get_sample_value("xiaobao_clock_closed_total", labels) is not None
            )


@pytest.fixture()
def factory(tmp_path):
    engine = db.make_engine("intake", f"sqlite:///{tmp_path}/intake.db")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


INTAKE_CLOCKS = [
    spec
    for spec in POLICY.clocks.values()
    if metrics.clock_owner(spec) == "intake" and spec.name not in domain.COMPLAINANT_WINDOWS
]


def _run_clock(factory, spec, received_at: datetime, stop_at: datetime | None, serial: int):
    """A case of a kind the clock applies to, its clock started as the policy says and, if
    `stop_at`, stopped by the policy's stop event."""
    new = domain.NewCase(
        kind=spec.applies_to[0],
        channel="letter",
        name="赵桂英",
        phone=f"138{serial:08d}",
        id_number="",
        region_code="120104",
        institution_text=f"天津某银行{serial}",
        product="",
        summary="不当收费",
        amount_in_dispute_fen=0,
        received_at=received_at,
    )
    with db.session_scope(factory) as session:
        case, _ = cases.submit(session, new, f"m-{spec.name}-{serial}", datetime.now(UTC))
        case_no = case.case_no
    if spec.start_event != "intake.case_received":
        with db.session_scope(factory) as session:
            case = cases.get_case(session, case_no)
            cases.record(session, case, spec.start_event, received_at + timedelta(minutes=1), "t")
    if stop_at is not None:
        with db.session_scope(factory) as session:
            case = cases.get_case(session, case_no)
            cases.record(session, case, spec.stop_event, stop_at, "t")


@pytest.mark.parametrize("spec", INTAKE_CLOCKS, ids=lambda s: s.name)
def test_each_clock_counts_closures_within_and_beyond_its_limit_and_its_open_cases(factory, spec):
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=200)  # beyond every limit and extension of the policy

    def closed(within: str) -> float:
        return metrics.CLOCK_CLOSED.labels(spec.name, within)._value.get()

    def observed() -> float:
        return (
            metrics.REGISTRY.get_sample_value(
                "xiaobao_clock_duration_days_count", {"clock": spec.name}
            )
            or 0.0
        )

    def open_cases(state: str) -> float | None:
        registry = CollectorRegistry()
        registry.register(OpenClocksCollector(factory))
        return registry.get_sample_value(
            "xiaobao_clock_open_cases", {"clock": spec.name, "state": state}
        )

    late, on_time, durations = closed("false"), closed("true"), observed()
    _run_clock(factory, spec, long_ago, None, 1)
    assert open_cases("overdue") == 1
    _run_clock(factory, spec, long_ago, now, 2)  # a second one, closed late
    assert closed("false") == late + 1
    assert open_cases("overdue") == 1
    _run_clock(factory, spec, now - timedelta(minutes=5), now, 3)
    assert closed("true") == on_time + 1
    assert observed() == durations + 2
    assert open_cases("ok") == 0 and open_cases("at_risk") == 0


def test_intake_exports_only_the_clocks_it_owns_and_mediation_the_others(factory):
    registry = CollectorRegistry()
    registry.register(OpenClocksCollector(factory))
    exported = {
        s.labels["clock"]
        for family in registry.collect()
        if family.name == "xiaobao_clock_open_cases"
        for s in family.samples
    }
    owners = {name: metrics.clock_owner(spec) for name, spec in POLICY.clocks.items()}
    assert exported == {n for n, owner in owners.items() if owner == "intake"}
    assert {n for n, owner in owners.items() if owner == "mediation"} == {
        "mediation",
        "court_referred_mediation",
    }
