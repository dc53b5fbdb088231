"""promtool (Debian's prometheus package) checks the generated rules and runs their unit tests.

Not skipped when promtool is missing: CI installs it, and a skipped rule test is a rule nobody
tested. Install with `apt-get install -y prometheus`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy import monitoring_gen as gen
from services.common.clock import DEFAULT_POLICY_FILE, load_policy

TESTS_DIR = gen.OUT_DIR / "tests"
RULE_RELS = (gen.CLOCKS_FILE, gen.PLATFORM_FILE)
RULE_FILES = [gen.OUT_DIR / rel for rel in RULE_RELS]


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail(
            "promtool not found: install Debian's prometheus package "
            "(sudo apt-get install -y prometheus), which provides /usr/bin/promtool",
            pytrace=False,
        )
    return found


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def test_the_generated_rule_files_are_valid(promtool: str, tmp_path: Path):
    done = _run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr
    gen.write(tmp_path, gen.render(profile="integration"))
    done = _run(promtool, "check", "rules", *(str(tmp_path / rel) for rel in RULE_RELS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rule_unit_tests_pass(promtool: str):
    files = sorted(TESTS_DIR.glob("*.test.yml"))
    assert files, f"no promtool tests in {TESTS_DIR}"
    done = _run(promtool, "test", "rules", *map(str, files))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(files), done.stdout


def test_every_alert_has_a_promtool_test():
    tested = set()
    for path in TESTS_DIR.glob("*.test.yml"):
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    tested.add(case["alertname"])
    alerts = set()
    for rule_file in RULE_FILES:
        for group in yaml.safe_load(rule_file.read_text(encoding="utf-8"))["groups"]:
            alerts |= {r["alert"] for r in group["rules"] if "alert" in r}
    assert alerts - tested == set(), "alerts without a firing promtool test"


def test_an_overdue_case_of_any_duty_clock_pages_and_a_lapsed_window_never_does(
    promtool: str, tmp_path: Path
):
    """Swept over the whole policy: one overdue case of each clock, reported by two replicas."""
    policy = load_policy(DEFAULT_POLICY_FILE)
    decl = gen.load_declaration(policy)
    rules = {}
    for rule_file in RULE_FILES:
        for group in yaml.safe_load(rule_file.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == "XiaobaoClockOverdue":
                    rules[rule["labels"]["clock"]] = rule
    series = [
        {
            "series": (
                f'xiaobao_clock_open_cases{{instance="{replica}",clock="{name}",state="overdue"}}'
            ),
            "values": "1x5",
        }
        for name in policy.clocks
        for replica in ("api-a", "api-b")
    ]
    expected = [
        {
            "exp_labels": {"severity": "page", "clock": name, "state": "overdue"},
            "exp_annotations": {
                **rules[name]["annotations"],
                "summary": rules[name]["annotations"]["summary"].replace("{{ $value }}", "1"),
            },
        }
        for name in policy.clocks
        if name not in decl.windows
    ]
    test = {
        "rule_files": [str(p) for p in RULE_FILES],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "3m", "alertname": "XiaobaoClockOverdue", "exp_alerts": expected}
                ],
            }
        ],
    }
    path = tmp_path / "sweep.test.yml"
    path.write_text(yaml.safe_dump(test, allow_unicode=True, sort_keys=False), encoding="utf-8")
    done = _run(promtool, "test", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
