"""`xiaobao routing …` on a temporary data directory: importing and exporting the institution
directory, resolving a name, and the quarterly scorecard."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from services.cli import app
from services.common import db, migrations
from services.common import settings as settings_mod
from services.routing import store
from services.routing.models import Assignment, DirectoryVersion
from services.routing.scorecard import CSV_COLUMNS

SH = ZoneInfo("Asia/Shanghai")

# 天津滨城银行, a made-up city bank: the head office and two sub-branches, as first filed.
FIRST = """\
version: "2026-09-01"
institutions:
  - id: bcb
    name: 天津滨城银行股份有限公司
    short_names: [滨城银行]
    kind: bank
    region_code: "120000"
    product_lines: [deposits, loans, credit_cards]
    children:
      - id: bcb-hexi
        name: 天津滨城银行股份有限公司河西支行
        aliases: [滨城银行河西支行]
        region_code: "120103"
      - id: bcb-nankai
        name: 天津滨城银行股份有限公司南开支行
        aliases: [滨城银行南开支行]
        region_code: "120104"
"""

# Three months later: Nankai merged away, Heping opened, Hexi got a new popular name.
SECOND = """\
version: "2026-12-01"
institutions:
  - id: bcb
    name: 天津滨城银行股份有限公司
    short_names: [滨城银行]
    kind: bank
    region_code: "120000"
    product_lines: [deposits, loans, credit_cards]
    children:
      - id: bcb-hexi
        name: 天津滨城银行股份有限公司河西支行
        aliases: [滨城银行河西支行, 河西滨城银行]
        region_code: "120103"
      - id: bcb-heping
        name: 天津滨城银行股份有限公司和平支行
        aliases: [滨城银行和平支行]
        region_code: "120101"
"""

# The second Hexi entry repeats an id: line 15 is the duplicate, line 9 the first.
DUPLICATE_ID = """\
version: "2026-12-02"
institutions:
  - id: bcb
    name: 天津滨城银行股份有限公司
    kind: bank
    region_code: "120000"
    product_lines: [deposits, loans]
    children:
      - id: bcb-hexi
        name: 天津滨城银行股份有限公司河西支行
        region_code: "120103"
      - id: bcb-heping
        name: 天津滨城银行股份有限公司和平支行
        region_code: "120101"
      - id: bcb-hexi
        name: 天津滨城银行股份有限公司河西第二支行
        region_code: "120103"
"""

# A flat entry naming a parent nobody filed: the `parent:` key is on line 11.
UNKNOWN_PARENT = """\
version: "2026-12-02"
institutions:
  - id: bcb
    name: 天津滨城银行股份有限公司
    kind: bank
    region_code: "120000"
    product_lines: [deposits, loans]
  - id: bcb-binhai-zhongxin
    name: 天津滨城银行股份有限公司滨海中心支行
    region_code: "120116"
    parent: bcb-binhai
"""


@pytest.fixture()
def data_dir(tmp_path, monkeypatch) -> Path:
    """A routing database migrated in a temporary XIAOBAO_DATA_DIR, used by the commands."""
    cfg = settings_mod.load({"XIAOBAO_DATA_DIR": str(tmp_path / "data")})
    monkeypatch.setattr(settings_mod, "get", lambda: cfg)
    # The engine, the session factory and the directory are cached per process.
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()
    store.DIRECTORY.clear()
    migrations.upgrade("routing")
    yield tmp_path
    db.engine_for("routing").dispose()
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()
    store.DIRECTORY.clear()


def xiaobao(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def stored() -> dict[str, tuple[str, tuple[str, ...], bool]]:
    """Each stored office: (name, aliases, active)."""
    with db.session_scope(db.session_factory("routing")) as session:
        return {n.id: (n.name, n.aliases, n.active) for n in store.directory(session)}


def directory_version() -> int:
    with db.session_scope(db.session_factory("routing")) as session:
        return session.scalar(select(DirectoryVersion.version).where(DirectoryVersion.id == 1))


def test_an_update_reports_which_offices_were_added_changed_and_deactivated(data_dir):
    first = xiaobao("routing", "import-directory", str(write(data_dir, "bcb-2026-09.yaml", FIRST)))
    assert first.exit_code == 0, first.output
    assert "added 3, changed 0, deactivated 0, unchanged 0" in first.stdout
    assert "added: bcb, bcb-hexi, bcb-nankai" in first.stdout

    second = xiaobao(
        "routing", "import-directory", str(write(data_dir, "bcb-2026-12.yaml", SECOND))
    )
    assert second.exit_code == 0, second.output
    assert "directory bcb-2026-12.yaml: 3 nodes" in second.stdout
    assert "added 1, changed 1, deactivated 1, unchanged 1" in second.stdout
    assert "  added: bcb-heping" in second.stdout
    assert "  changed: bcb-hexi" in second.stdout
    assert "  deactivated: bcb-nankai" in second.stdout
    offices = stored()
    assert offices["bcb-nankai"][2] is False  # kept for old cases and scorecards, not deleted
    assert offices["bcb-hexi"][1] == ("滨城银行河西支行", "河西滨城银行")


def test_importing_the_same_file_again_changes_nothing(data_dir):
    path = write(data_dir, "bcb-2026-09.yaml", FIRST)
    assert xiaobao("routing", "import-directory", str(path)).exit_code == 0
    version = directory_version()
    again = xiaobao("routing", "import-directory", str(path))
    assert again.exit_code == 0, again.output
    assert "added 0, changed 0, deactivated 0, unchanged 3" in again.stdout
    assert "added:" not in again.stdout and "changed:" not in again.stdout
    assert directory_version() == version  # the apis' caches are not invalidated for nothing


@pytest.mark.parametrize(
    ("name", "text", "where", "problem"),
    [
        ("bcb-dup.yaml", DUPLICATE_ID, ":15:", "node bcb-hexi: duplicate id (also at line 9)"),
        (
            "bcb-orphan.yaml",
            UNKNOWN_PARENT,
            ":11:",
            "node bcb-binhai-zhongxin: parent bcb-binhai is not in the directory",
        ),
    ],
)
def test_a_broken_directory_file_is_refused_whole_naming_file_and_line(
    data_dir, name, text, where, problem
):
    assert (
        xiaobao("routing", "import-directory", str(write(data_dir, "good.yaml", FIRST))).exit_code
        == 0
    )
    before, version = stored(), directory_version()

    run = xiaobao("routing", "import-directory", str(write(data_dir, name, text)))
    assert run.exit_code == 2
    assert f"{name}{where}" in run.stderr
    assert problem in run.stderr
    assert "Traceback" not in run.output
    assert stored() == before
    assert directory_version() == version


def test_a_dry_run_reports_the_changes_and_stores_none(data_dir):
    assert (
        xiaobao("routing", "import-directory", str(write(data_dir, "v1.yaml", FIRST))).exit_code
        == 0
    )
    before, version = stored(), directory_version()
    update = write(data_dir, "v2.yaml", SECOND)

    dry = xiaobao("routing", "import-directory", "--dry-run", str(update))
    assert dry.exit_code == 0, dry.output
    assert "added 1, would change 1, deactivated 1, unchanged 1" in dry.stdout
    assert "version" not in dry.stdout
    assert stored() == before
    assert directory_version() == version

    real = xiaobao("routing", "import-directory", str(update))
    assert "added 1, changed 1, deactivated 1, unchanged 1" in real.stdout


def test_an_exported_directory_imports_back_unchanged(data_dir):
    assert xiaobao("routing", "import-directory").exit_code == 0  # the demo Tianjin directory
    # An update deactivates the offices of every other institution, so the export has both.
    assert (
        xiaobao("routing", "import-directory", str(write(data_dir, "v2.yaml", SECOND))).exit_code
        == 0
    )
    exported = data_dir / "export.yaml"
    out = xiaobao("routing", "export-directory", "-o", str(exported))
    assert out.exit_code == 0, out.output
    count = len(stored())
    assert f"wrote {count} nodes to" in out.stdout

    back = xiaobao("routing", "import-directory", str(exported))
    assert back.exit_code == 0, back.output
    assert f"added 0, changed 0, deactivated 0, unchanged {count}" in back.stdout

    to_stdout = xiaobao("routing", "export-directory")
    assert to_stdout.stdout == exported.read_text(encoding="utf-8")


def test_resolve_as_json_says_which_office_and_why(data_dir):
    assert xiaobao("routing", "import-directory").exit_code == 0
    run = xiaobao("routing", "resolve", "--text", "天津平安人寿", "--region", "120104", "--json")
    assert run.exit_code == 0, run.output
    out = json.loads(run.stdout)
    assert out["node"] == "pingan-life-tj"
    assert out["name"] == "中国平安人寿保险股份有限公司天津分公司"
    assert out["confidence"] >= settings_mod.get().routing_min_confidence
    assert out["needs_human"] is False
    assert out["matched"]
    assert isinstance(out["reason"], str)
    assert set(out) >= {"node", "confidence", "matched", "reason"}


def test_a_scorecard_for_a_fifth_quarter_is_refused_in_one_line(data_dir):
    run = xiaobao("routing", "scorecard", "--quarter", "2026Q5")
    assert run.exit_code == 2
    assert "2026Q5" in run.stderr and "the quarter must be 1 to 4" in run.stderr
    assert "Traceback" not in run.output


def test_the_scorecard_as_csv_has_a_header_and_a_row_per_office(data_dir):
    assert xiaobao("routing", "import-directory").exit_code == 0
    monday = datetime(2026, 7, 6, 10, 0, tzinfo=SH)
    factory = db.session_factory("routing")
    for i, text in enumerate(("平安人寿武清支公司", "平安人寿宝坻支公司")):
        with db.session_scope(factory) as session:
            store.assign_case(
                session,
                {
                    "case_no": f"TJ-2026-00020{i}",
                    "kind": "complaint",
                    "institution_text": text,
                    "region_code": "120114",
                    "product": "life",
                    "received_at": monday.isoformat(),
                },
                monday,
            )
    with db.session_scope(factory) as session:
        hand = session.scalar(select(Assignment).where(Assignment.case_no == "TJ-2026-000200"))
        store.answer(
            session,
            hand,
            "closed_with_explanation",
            "已说明退保规则",
            0,
            {"method": "phone"},
            "wang.li",
            monday + timedelta(days=4),
        )

    run = xiaobao("routing", "scorecard", "--quarter", "2026Q3", "--csv")
    assert run.exit_code == 0, run.output
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    lines = {(r[1], r[5]): dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]}
    wuqing = lines[("pingan-life-tj-wuqing", "own")]
    assert (wuqing["quarter"], wuqing["cases"], wuqing["answered"]) == ("2026Q3", "1", "1")
    assert wuqing["answered_within_limit"] == "1"
    branch = lines[("pingan-life-tj", "subtree")]
    assert (branch["cases"], branch["answered"]) == ("2", "1")
