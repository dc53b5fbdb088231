"""Every importer against malformed files: one line of English naming the line (and the field),
a non-zero exit, and the previous data still the data in use.

One table, importer x malformation. Each importer first takes a good file; then the bad one is
offered the way an operator would (the command, or an edit of the file in force); then the data
in use is read back the way the platform reads it (the resolver, the calendar and taxonomy in
force, the lexicon in force, the stored activities, the known-agents list screening loads, the
roster the mediation api lists) and must be the good file's.

Known agents and the roster are imported through their api: a real gRPC server runs in this
process on a free port, with the servicer and the error interceptor of the real api process.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from services.cli import app
from services.common import clock, db, migrations
from services.common import settings as settings_mod
from services.common.calendar import HOLIDAYS_FILE_ENV
from services.common.grpc_server import ErrorsAndMetrics

NOW = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\xff\xfe\x00"


@dataclass(frozen=True)
class Outcome:
    code: int  # the command's exit code; 0 when a loader took the file
    message: str  # what the operator reads (stderr, or the refusal logged)


@dataclass(frozen=True)
class Bad:
    name: str  # the malformation
    file: str  # file name (its suffix picks the format)
    content: bytes
    where: str | None  # the line as the message must name it; None: the file has no lines
    says: tuple[str, ...] = ()  # the field and the problem, as the message must name them


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


def _cut(text: str, marker: str) -> bytes:
    """The file as a transfer broken off in the middle of `marker` would leave it."""
    at = text.index(marker) + len(marker) // 2
    return _utf8(text[:at])


def _cli(*args: str) -> Outcome:
    run = CliRunner().invoke(app, list(args))
    return Outcome(run.exit_code, run.stderr if run.exit_code else run.stdout)


class Importer:
    """One importer: a good file, how a file is offered, and the data in use read back."""

    good_file = "good.yaml"
    good = ""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.env = {"XIAOBAO_DATA_DIR": str(tmp_path / "data")}
        self.edits = 0

    def configure(self, **more: str) -> None:
        cfg = settings_mod.load({**self.env, **more})
        self.monkeypatch.setattr(settings_mod, "get", lambda: cfg)
        db.engine_for.cache_clear()
        db.session_factory.cache_clear()

    def write(self, name: str, content: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(content)
        # Files in force are cached by modification time: every edit must look newer.
        self.edits += 1
        later = time.time_ns() + self.edits * 1_000_000_000
        os.utime(path, ns=(later, later))
        return path

    def offer(self, path: Path) -> Outcome:
        raise NotImplementedError

    def in_use(self) -> object:
        raise NotImplementedError

    def close(self) -> None:
        for service in settings_mod.SERVICES:
            if db.engine_for.cache_info().currsize:
                db.engine_for(service).dispose()
        db.engine_for.cache_clear()
        db.session_factory.cache_clear()


# --- 1. the institution directory (xiaobao routing import-directory) ---------------------------

DIRECTORY = """\
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


def _huge_directory() -> bytes:
    """5,000 sub-branches, the last one with a five-digit region code on line 20,016."""
    lines = [DIRECTORY.rstrip("\n")]
    for i in range(5000):
        region = "12011" if i == 4999 else "120116"
        lines += [
            f"      - id: bcb-wd-{i}",
            f"        name: 天津滨城银行股份有限公司第{i}网点",
            f'        region_code: "{region}"',
            f"        aliases: [滨城银行第{i}网点]",
        ]
    return _utf8("\n".join(lines) + "\n")


class Directory(Importer):
    good = DIRECTORY

    def __init__(self, tmp_path, monkeypatch) -> None:
        from services.routing import store

        super().__init__(tmp_path, monkeypatch)
        self.configure()
        store.DIRECTORY.clear()
        migrations.upgrade("routing")

    def offer(self, path: Path) -> Outcome:
        return _cli("routing", "import-directory", str(path))

    def in_use(self) -> object:
        from services.routing import store
        from services.routing.models import DirectoryVersion

        store.DIRECTORY.clear()
        with db.session_scope(db.session_factory("routing")) as session:
            nodes = {
                n.id: (n.name, n.aliases, n.region_code, n.active) for n in store.directory(session)
            }
            version = session.scalar(select(DirectoryVersion.version))
            decision = store.resolver(session).resolve("滨城银行河西支行", "120103", "loans")
        return nodes, version, decision.node.id if decision.node else None

    def close(self) -> None:
        from services.routing import store

        store.DIRECTORY.clear()
        super().close()


def _directory(swap: str, by: str) -> bytes:
    assert swap in DIRECTORY
    return _utf8(DIRECTORY.replace(swap, by, 1))


DIRECTORY_CASES = [
    Bad("binary junk", "logo.yaml", PNG, ":1:", ("not UTF-8",)),
    Bad("not UTF-8", "gbk.yaml", DIRECTORY.encode("gb18030"), ":4:", ("not UTF-8",)),
    Bad("empty", "empty.yaml", b"", ":1:", ("a list under 'institutions'",)),
    Bad(
        "truncated", "cut.yaml", _cut(DIRECTORY, "[滨城银行河西支行]"), ":13:", ("not valid YAML",)
    ),
    Bad(
        "misspelt key",
        "typo.yaml",
        _directory("        aliases: [滨城银行南开支行]", "        alias: [滨城银行南开支行]"),
        ":16:",
        ("node bcb-nankai", "unknown key 'alias'"),
    ),
    Bad(
        "missing name",
        "noname.yaml",
        _directory("        name: 天津滨城银行股份有限公司河西支行\n", ""),
        ":10:",
        ("node bcb-hexi", "name is required"),
    ),
    Bad(
        "region as a number",
        "number.yaml",
        _directory('region_code: "120103"', "region_code: 120103"),
        ":13:",
        ("node bcb-hexi", "region_code must be 6 digits in quotes"),
    ),
    Bad(
        "duplicate id",
        "dup.yaml",
        _directory("id: bcb-nankai", "id: bcb-hexi"),
        ":14:",
        ("node bcb-hexi", "duplicate id (also at line 10)"),
    ),
    Bad(
        "key given twice",
        "twice.yaml",
        _directory("    kind: bank\n", "    kind: bank\n    kind: insurer\n"),
        ":7:",
        ("key 'kind' given twice",),
    ),
    Bad(
        "kind out of range",
        "kind.yaml",
        _directory("kind: bank", "kind: casino"),
        ":6:",
        ("node bcb", "kind must be one of"),
    ),
    Bad(
        "unknown parent",
        "orphan.yaml",
        _utf8(
            DIRECTORY
            + '  - id: bcb-binhai-1\n    name: 天津滨城银行滨海第一支行\n    region_code: "120116"\n'
            "    parent: bcb-binhai\n"
        ),
        ":21:",
        ("node bcb-binhai-1", "parent bcb-binhai is not in the directory"),
    ),
    Bad(
        "no institutions",
        "none.yaml",
        b'version: "x"\ninstitutions: []\n',
        ":2:",
        ("no institutions",),
    ),
    Bad("huge", "huge.yaml", _huge_directory(), ":20016:", ("node bcb-wd-4999", "region_code")),
]


# --- 2. the holiday table (the file at XIAOBAO_HOLIDAYS_FILE, checked by xiaobao clock) ------------

HOLIDAYS = """\
source: "国务院办公厅关于2026年部分节假日安排的通知"
years:
  2026:
    holidays:
      - 2026-01-01
      - 2026-01-02
      - 2026-01-03
    workdays:
      - 2026-01-04
"""


class Holidays(Importer):
    """The table in force is the file at XIAOBAO_HOLIDAYS_FILE: an operator edits it, the
    platform re-reads it (clock.in_force) and keeps the last good copy; `xiaobao clock deadline
    --holidays FILE` is how the operator checks an edit."""

    good = HOLIDAYS

    def __init__(self, tmp_path, monkeypatch) -> None:
        super().__init__(tmp_path, monkeypatch)
        self.path = tmp_path / "holidays.yaml"
        monkeypatch.setenv(HOLIDAYS_FILE_ENV, str(self.path))
        clock.forget_in_force()

    def offer(self, path: Path) -> Outcome:
        self.write(self.path.name, path.read_bytes())
        clock.forget_in_force()
        checked = _cli(
            "clock", "deadline", "--start", "2025-12-31T10:00+08:00", "--limit", "3",
            "--unit", "working_days", "--holidays", str(self.path),
        )  # fmt: skip
        clock.in_force()  # the platform picks the edit up (or refuses it) here
        return checked

    def in_use(self) -> object:
        calendar, _policy = clock.in_force()
        return (
            calendar.years,
            calendar.holidays,
            calendar.workdays,
            (
                calendar.is_working_day(date(2026, 1, 2)),
                calendar.is_working_day(date(2026, 1, 4)),
            ),
        )

    def close(self) -> None:
        clock.forget_in_force()
        super().close()


def _holidays(swap: str, by: str) -> bytes:
    assert swap in HOLIDAYS
    return _utf8(HOLIDAYS.replace(swap, by, 1))


HOLIDAY_CASES = [
    Bad("binary junk", "logo.yaml", PNG, "line 1", ("not UTF-8",)),
    Bad("not UTF-8", "gbk.yaml", HOLIDAYS.encode("gb18030"), "line 1", ("not UTF-8",)),
    Bad("empty", "empty.yaml", b"", "line 1", ("empty",)),
    Bad(
        "truncated",
        "cut.yaml",
        _holidays("      - 2026-01-03\n", "      - [2026-01-03\n"),
        "line 8",
        ("not valid YAML",),
    ),
    Bad(
        "misspelt key",
        "typo.yaml",
        _holidays("    workdays:", "    workday:"),
        "line 8",
        ("year 2026", "unknown keys ['workday']"),
    ),
    Bad(
        "missing holidays",
        "nohol.yaml",
        _holidays("    holidays:\n", "    holiday_list:\n"),
        "line 4",
        ("year 2026", "unknown keys"),
    ),
    Bad(
        "not a date",
        "date.yaml",
        _holidays("2026-01-02", "2026-01-32"),
        "line 6",
        ("holidays entry '2026-01-32' is not a YYYY-MM-DD date",),
    ),
    Bad(
        "text for a date",
        "text.yaml",
        _holidays("2026-01-03", "元旦后一天"),
        "line 7",
        ("holidays entry '元旦后一天'",),
    ),
    Bad(
        "year given twice",
        "twice.yaml",
        _utf8(HOLIDAYS + "  2026:\n    holidays: []\n"),
        "line 10",
        ("key '2026' given twice",),
    ),
    Bad(
        "day listed twice",
        "day2.yaml",
        _holidays("2026-01-03", "2026-01-02"),
        "line 7",
        ("2026-01-02 is listed twice",),
    ),
    Bad(
        "year out of range",
        "year.yaml",
        _holidays("  2026:", "  3026:"),
        "line 3",
        ("not a plausible year",),
    ),
    Bad(
        "weekday as make-up day",
        "wd.yaml",
        _holidays("      - 2026-01-04", "      - 2026-01-05"),
        "line 9",
        ("2026-01-05 is a Monday",),
    ),
    Bad(
        "day of another year",
        "other.yaml",
        _holidays("2026-01-01", "2025-12-31"),
        "line 5",
        ("belongs to 2025",),
    ),
]


# --- 3. the complaint taxonomy (the file at XIAOBAO_TAXONOMY_FILE) -----------------------------

TAXONOMY = """\
version: "t-good"
business_types:
  - code: bank
    label: 银行业
    keywords: [银行]
  - code: insurance
    label: 保险业
    keywords: [保险, 人寿]
products:
  - code: credit_cards
    business_type: bank
    label: 信用卡
    keywords: [信用卡]
issues:
  - code: fees
    label: 收费
    business_types: [bank]
    keywords: [年费, 收费]
"""


class Taxonomy(Importer):
    """Staff edit the file at XIAOBAO_TAXONOMY_FILE; intake classifies with taxonomy_in_force()."""

    good = TAXONOMY

    def __init__(self, tmp_path, monkeypatch) -> None:
        super().__init__(tmp_path, monkeypatch)
        self.path = tmp_path / "taxonomy.yaml"
        monkeypatch.setenv("XIAOBAO_TAXONOMY_FILE", str(self.path))

    def offer(self, path: Path) -> Outcome:
        from services.intake import taxonomy

        self.write(self.path.name, path.read_bytes())
        return _in_force(taxonomy.taxonomy_in_force, "services.intake.taxonomy")

    def in_use(self) -> object:
        from services.intake import taxonomy

        tax = taxonomy.taxonomy_in_force()
        return tax.version, taxonomy.suggest(tax, "信用卡年费没同意就扣了")


def _in_force(reload: Callable[[], object], logger: str) -> Outcome:
    """Re-reads a file in force; a refusal is what the platform logs (once per edit)."""
    handler = _Capture()
    log = logging.getLogger(logger)
    log.addHandler(handler)
    try:
        reload()
    except (OSError, ValueError) as exc:  # never had a good copy: nothing to keep
        return Outcome(1, str(exc))
    finally:
        log.removeHandler(handler)
    refusals = [r for r in handler.records if r.levelno >= logging.ERROR]
    return Outcome(1 if refusals else 0, "\n".join(r.getMessage() for r in refusals))


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _taxonomy(swap: str, by: str) -> bytes:
    assert swap in TAXONOMY
    return _utf8(TAXONOMY.replace(swap, by, 1))


TAXONOMY_CASES = [
    Bad("binary junk", "logo.yaml", PNG, "line 1", ("not UTF-8",)),
    Bad("not UTF-8", "gbk.yaml", TAXONOMY.encode("gb18030"), "line 4", ("not UTF-8",)),
    Bad("empty", "empty.yaml", b"", "line 1", ("empty",)),
    Bad("truncated", "cut.yaml", _cut(TAXONOMY, "[年费, 收费]"), "line 18", ("not valid YAML",)),
    Bad(
        "misspelt key",
        "typo.yaml",
        _taxonomy("    label: 信用卡", "    lable: 信用卡"),
        "line 12",
        ("products[0] credit_cards", "unknown keys ['lable']"),
    ),
    Bad(
        "missing label",
        "nolabel.yaml",
        _taxonomy("    label: 收费\n", ""),
        "line 15",
        ("issues[0] fees: label",),
    ),
    Bad(
        "version as a number",
        "num.yaml",
        _taxonomy('version: "t-good"', "version: 2026.10"),
        "line 1",
        ("version: must be a quoted string",),
    ),
    Bad(
        "key given twice",
        "twice.yaml",
        _taxonomy("    label: 保险业\n", "    label: 保险业\n    label: 保险\n"),
        "line 8",
        ("key 'label' given twice",),
    ),
    Bad(
        "duplicate code",
        "dup.yaml",
        _taxonomy("  - code: fees", "  - code: credit_cards"),
        "line 15",
        ("code: 'credit_cards' is already used by products[0]",),
    ),
    Bad(
        "code too long",
        "long.yaml",
        _taxonomy("code: fees", "code: fees_" + "x" * 40),
        "line 15",
        ("at most 40 characters",),
    ),
    Bad(
        "unknown business type",
        "ref.yaml",
        _taxonomy("business_type: bank", "business_type: motor"),
        "line 11",
        ("products[0] credit_cards: business_type: 'motor' is not one of",),
    ),
    Bad(
        "keyword listed twice",
        "kw.yaml",
        _taxonomy("[年费, 收费]", "[年费, 收费, 年费]"),
        "line 18",
        ("keywords[2]: '年费' is listed twice",),
    ),
]


# --- 4. the blacklist lexicon (XIAOBAO_BLACKLIST_LEXICON_FILE) ------------------------------------

LEXICON = """\
version: "l-good"
categories:
  surrender_agent:
    label: 代理退保
    weight: 0.12
    phrases:
      - phrase: 全额退保
        variants: [全额退葆, 全e退保]
      - phrase: 退保新政
  credit_repair:
    label: 征信修复
    weight: 0.1
    phrases:
      - phrase: 修复征信
"""


class Lexicon(Importer):
    """Investigators edit the file at XIAOBAO_BLACKLIST_LEXICON_FILE; screening re-reads it
    (lexicon_in_force) and keeps the last good lexicon."""

    good = LEXICON

    def __init__(self, tmp_path, monkeypatch) -> None:
        from services.blacklist import store

        super().__init__(tmp_path, monkeypatch)
        self.path = tmp_path / "lexicon.yaml"
        self.configure(XIAOBAO_BLACKLIST_LEXICON_FILE=str(self.path))
        store._lexicon_state.clear()

    def offer(self, path: Path) -> Outcome:
        from services.blacklist import store

        self.write(self.path.name, path.read_bytes())
        store.forget_lexicon()
        return _in_force(store.lexicon_in_force, "services.blacklist.store")

    def in_use(self) -> object:
        from services.blacklist import store

        lexicon, _generation = store.lexicon_in_force()
        found = lexicon.find("根据退保新政可以全e退保，还能修复征信")
        return lexicon.version, sorted((k, spelling) for k, (_p, spelling) in found.items())

    def close(self) -> None:
        from services.blacklist import store

        store._lexicon_state.clear()
        super().close()


def _lexicon(swap: str, by: str) -> bytes:
    assert swap in LEXICON
    return _utf8(LEXICON.replace(swap, by, 1))


LEXICON_CASES = [
    Bad("binary junk", "logo.yaml", PNG, "line 1", ("not UTF-8",)),
    Bad("not UTF-8", "gbk.yaml", LEXICON.encode("gb18030"), "line 4", ("not UTF-8",)),
    Bad("empty", "empty.yaml", b"", "line 1", ("empty",)),
    Bad(
        "truncated", "cut.yaml", _cut(LEXICON, "[全额退葆, 全e退保]"), "line 8", ("not valid YAML",)
    ),
    Bad(
        "categories as a list",
        "list.yaml",
        _utf8('version: "l-bad"\ncategories:\n  - surrender_agent\n  - credit_repair\n'),
        "line 2",
        ("categories: must be a mapping",),
    ),
    Bad(
        "phrase missing",
        "nophrase.yaml",
        _lexicon("      - phrase: 退保新政", "      - variants: [退保新规]"),
        "line 9",
        ("categories.surrender_agent.phrases[1]", "non-empty phrase"),
    ),
    Bad(
        "phrase as a string",
        "str.yaml",
        _lexicon("      - phrase: 修复征信", "      - 修复征信"),
        "line 14",
        ("categories.credit_repair.phrases[0]",),
    ),
    Bad(
        "weight as text",
        "text.yaml",
        _lexicon("weight: 0.1\n", "weight: 高\n"),
        "line 12",
        ("categories.credit_repair.weight: must be a number from 0 to 1",),
    ),
    Bad(
        "weight out of range",
        "range.yaml",
        _lexicon("weight: 0.12", "weight: 12"),
        "line 5",
        ("categories.surrender_agent.weight", "from 0 to 1"),
    ),
    Bad(
        "category given twice",
        "twice.yaml",
        _utf8(LEXICON + "  credit_repair:\n    phrases: []\n"),
        "line 15",
        ("key 'credit_repair' given twice",),
    ),
    Bad(
        "phrase listed twice",
        "dup.yaml",
        _lexicon("      - phrase: 修复征信", "      - phrase: 全额退葆"),
        "line 14",
        ("'全额退葆' is already listed in categories.surrender_agent.phrases[0]",),
    ),
]


# --- 5. education spreadsheets (xiaobao education import) ---------------------------------------

EDU_HEADER = "活动编号,活动日期,场所类型,行政区划代码,形式,主办机构,活动名称,参与人次,老年人"
EDUCATION = f"""\
{EDU_HEADER}
2026-09-JYY,2026-09-15,社区,120104,线下,天津银行,防范电信网络诈骗讲座,120,80
2026-09-JYY,2026-09-16,农村,120116,线下,天津银行,金融知识进万家,60,20
"""


class Education(Importer):
    good_file = "good.csv"
    good = EDUCATION

    def __init__(self, tmp_path, monkeypatch) -> None:
        from services.education import domain, store

        super().__init__(tmp_path, monkeypatch)
        self.configure()
        migrations.upgrade("education")
        with db.session_scope(db.session_factory("education")) as session:
            store.upsert_campaign(
                session,
                domain.Campaign(
                    code="2026-09-JYY",
                    theme="education_month",
                    title="2026年金融教育宣传月",
                    starts_on=date(2026, 9, 1),
                    ends_on=date(2026, 9, 30),
                    organiser="天津金融消费者权益保护中心",
                    co_organisers=("天津银行",),
                    regions=("120104", "120116"),
                ),
                NOW,
            )

    def offer(self, path: Path) -> Outcome:
        return _cli("education", "import", str(path))

    def in_use(self) -> object:
        from services.education.models import Activity, ReachReport

        with db.session_scope(db.session_factory("education")) as session:
            titles = sorted(session.scalars(select(Activity.title)))
            reports = session.scalar(select(func.count()).select_from(ReachReport))
        return titles, reports


def _education(swap: str, by: str) -> bytes:
    assert swap in EDUCATION
    return _utf8(EDUCATION.replace(swap, by, 1))


def _huge_education() -> bytes:
    """3,000 good rows, then one in October, outside the campaign, on row 3,002."""
    rows = [EDU_HEADER]
    rows += [
        f"2026-09-JYY,2026-09-{i % 28 + 1:02d},社区,120104,线下,天津银行,社区讲座第{i}场,{i % 50 + 10},"
        for i in range(3000)
    ]
    rows.append("2026-09-JYY,2026-10-02,社区,120104,线下,天津银行,国庆讲座,30,")
    return _utf8("\n".join(rows) + "\n")


EDUCATION_CASES = [
    Bad("binary junk", "logo.csv", PNG * 4, "row 1", ("no header row found",)),
    Bad("empty", "empty.csv", b"", "row 1", ("no header row found",)),
    Bad("not a workbook", "report.xlsx", PNG, None, ("report.xlsx", "not a readable .xlsx file")),
    Bad(
        "truncated",
        "cut.csv",
        _cut(EDUCATION, "2026-09-16,农村,120116,线下"),
        "row 3, column 场所类型",
        ("is empty",),
    ),
    Bad(
        "renamed column",
        "header.csv",
        _education("活动日期", "日子"),
        "row 1, column 活动日期",
        ("column is missing",),
    ),
    Bad(
        "missing title",
        "notitle.csv",
        _education(",金融知识进万家,", ",,"),
        "row 3, column 活动名称",
        ("is empty",),
    ),
    Bad(
        "text for a number",
        "text.csv",
        _education(",60,20", ",很多,20"),
        "row 3, column 参与人次",
        ("'很多' is not a whole number",),
    ),
    Bad(
        "not a date",
        "date.csv",
        _education("2026-09-15", "2026-09-31"),
        "row 2, column 活动日期",
        ("not a date of the calendar",),
    ),
    Bad(
        "column twice",
        "twice.csv",
        _education("老年人", "参与人次"),
        "row 1, column 参与人次",
        ("appears twice",),
    ),
    Bad(
        "group over the total",
        "range.csv",
        _education(",60,20", ",60,70"),
        "row 3, column 老年人",
        ("more than the 60 participants",),
    ),
    Bad(
        "outside the campaign",
        "late.csv",
        _education("2026-09-16", "2026-10-16"),
        "row 3, column 活动日期",
        ("outside campaign 2026-09-JYY",),
    ),
    Bad(
        "unknown campaign",
        "nope.csv",
        _education("2026-09-JYY,2026-09-16", "2026-10-XYZ,2026-09-16"),
        "row 3, column 活动编号",
        ("no campaign '2026-10-XYZ'",),
    ),
    Bad("huge", "huge.csv", _huge_education(), "row 3002, column 活动日期", ("outside campaign",)),
    Bad(
        "huge cell",
        "cell.csv",
        _education("防范电信网络诈骗讲座", "讲" * 200_000),
        "row 2",
        ("not readable as CSV",),
    ),
]


# --- 6. known agents (xiaobao blacklist import-agents, through the blacklist api) ----------------

AGENTS = """\
source: 天津市公安局 2026-11 通报
agents:
  - name: 张德帅
    phone: "13600002222"
    org: 某某维权工作室
  - name: 欧阳维权
    id_number: "120101198001011234"
"""
AGENTS_CSV = "name,phone,id_number,org\n张德帅,13600002222,,某某维权工作室\n"


def _serve(add: Callable[[grpc.Server], None]) -> tuple[grpc.Server, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2), interceptors=[ErrorsAndMetrics()]
    )
    add(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


class KnownAgents(Importer):
    def __init__(self, tmp_path, monkeypatch) -> None:
        from services.blacklist import api
        from xiaobao.blacklist.v1 import blacklist_pb2_grpc

        super().__init__(tmp_path, monkeypatch)
        self.configure()
        migrations.upgrade("blacklist")
        self.server, port = _serve(
            lambda s: blacklist_pb2_grpc.add_BlacklistServiceServicer_to_server(
                api.BlacklistService(), s
            )
        )
        self.configure(XIAOBAO_BLACKLIST_ADDR=f"127.0.0.1:{port}")
        monkeypatch.delenv("XIAOBAO_BLACKLIST_TOKEN", raising=False)

    good = AGENTS

    def offer(self, path: Path) -> Outcome:
        return _cli("blacklist", "import-agents", str(path), "--source", "公安通报")

    def in_use(self) -> object:
        """The list screening loads (ScreeningState.refresh): the latest list's entries."""
        from services.blacklist import store
        from services.blacklist.models import KnownAgentList

        with db.session_scope(db.session_factory("blacklist")) as session:
            latest = session.scalar(select(func.max(KnownAgentList.id)))
            known = store.load_known_agents(session, latest or 0)
            names = sorted(a.name for a in known.agents)
            entries = session.scalar(
                select(KnownAgentList.entries).where(KnownAgentList.id == latest)
            )
        return latest, entries, names

    def close(self) -> None:
        self.server.stop(None)
        super().close()


def _agents(swap: str, by: str) -> bytes:
    assert swap in AGENTS
    return _utf8(AGENTS.replace(swap, by, 1))


AGENT_CASES = [
    Bad("binary junk", "logo.yaml", PNG, "line 1", ("not UTF-8",)),
    Bad("not UTF-8", "gbk.csv", AGENTS_CSV.encode("gb18030"), "line 2", ("not UTF-8",)),
    Bad("empty YAML", "empty.yaml", b"", "line 1", ("expected a mapping with an agents list",)),
    Bad("empty CSV", "empty.csv", b"", "line 1", ("no header line",)),
    Bad(
        "truncated", "cut.yaml", _cut(AGENTS, '"120101198001011234"'), "line 7", ("not valid YAML",)
    ),
    Bad(
        "unknown column",
        "cols.csv",
        _utf8(AGENTS_CSV.replace("phone", "telephone")),
        "line 1",
        ("unknown column(s) telephone",),
    ),
    Bad(
        "column twice",
        "cols2.csv",
        _utf8(AGENTS_CSV.replace(",org", ",name")),
        "line 1",
        ("column(s) name given twice",),
    ),
    Bad(
        "more values than columns",
        "wide.csv",
        _utf8(AGENTS_CSV + "李四,13600003333,,工作室,多余\n"),
        "line 3",
        ("more values than columns",),
    ),
    Bad(
        "nothing to match on",
        "none.yaml",
        _agents(
            '  - name: 欧阳维权\n    id_number: "120101198001011234"\n', "  - org: 欧阳维权工作室\n"
        ),
        "line 6",
        ("needs a name, a phone or an id_number",),
    ),
    Bad(
        "not a phone",
        "phone.yaml",
        _agents('"13600002222"', "请电话联系"),
        "line 3",
        ("phone is not a mobile or landline number",),
    ),
    Bad(
        "name as a list",
        "list.yaml",
        _agents("name: 张德帅", "name: [张德帅, 张帅]"),
        "line 3",
        ("name must be text",),
    ),
    Bad(
        "key given twice",
        "twice.yaml",
        _agents("    org: 某某维权工作室\n", "    org: 某某维权工作室\n    org: 另一个\n"),
        "line 6",
        ("key 'org' given twice",),
    ),
    Bad(
        "the same agent twice",
        "dup.csv",
        _utf8(AGENTS_CSV + "张德帅,13600002222,,另一个工作室\n"),
        "line 3",
        ("the same agent as line 2",),
    ),
    Bad(
        "ID number too short",
        "id.yaml",
        _agents('"120101198001011234"', '"12010119800101123"'),
        "line 6",
        ("id_number is not an 18-character",),
    ),
    Bad(
        "control characters",
        "nul.csv",
        _utf8(AGENTS_CSV.replace("张德帅", "张\x00德帅")),
        "line 2",
        ("name contains control characters",),
    ),
    Bad(
        "huge field",
        "huge.csv",
        _utf8(AGENTS_CSV + "李" * 200_000 + ",13600003333,,\n"),
        "line 3",
        ("not readable CSV",),
    ),
]


# --- 7. the mediation roster (xiaobao mediation import-roster, through the mediation api) --------

ROSTER = """\
version: "2026.1"
mediators:
  - id: med-wang
    name: 王建国
    specialities: [banking, legal]
    max_per_day: 3
    max_per_week: 10
    leave:
      - from: 2026-12-01
        to: 2026-12-03
  - id: med-li
    name: 李秀英
    specialities: [life, property]
venues:
  - id: room-1
    name: 第一调解室
    kind: centre
    capacity: 8
"""


class Roster(Importer):
    good = ROSTER

    def __init__(self, tmp_path, monkeypatch) -> None:
        from services.mediation import api
        from xiaobao.mediation.v1 import mediation_pb2_grpc

        super().__init__(tmp_path, monkeypatch)
        self.configure()
        migrations.upgrade("mediation")
        self.server, port = _serve(
            lambda s: mediation_pb2_grpc.add_MediationServiceServicer_to_server(
                api.MediationService(), s
            )
        )
        self.configure(XIAOBAO_MEDIATION_ADDR=f"127.0.0.1:{port}")

    def offer(self, path: Path) -> Outcome:
        return _cli("mediation", "import-roster", str(path))

    def in_use(self) -> object:
        """What the scheduler plans with, as the mediation api lists it."""
        from services.common.clients import call_or_fail
        from xiaobao.mediation.v1 import mediation_pb2 as pb

        got = call_or_fail("mediation", "ListRoster", pb.ListRosterRequest(), "supervisor")
        mediators = [
            (m.id, m.active, tuple(m.specialities), m.max_per_day, tuple(m.leave))
            for m in got.mediators
        ]
        return mediators, [(v.id, v.active, v.kind, v.capacity) for v in got.venues]

    def close(self) -> None:
        self.server.stop(None)
        super().close()


def _roster(swap: str, by: str) -> bytes:
    assert swap in ROSTER
    return _utf8(ROSTER.replace(swap, by, 1))


ROSTER_CASES = [
    Bad("binary junk", "logo.yaml", PNG, "line 1", ("not UTF-8",)),
    Bad("not UTF-8", "gbk.yaml", ROSTER.encode("gb18030"), "line 4", ("not UTF-8",)),
    Bad("empty", "empty.yaml", b"", "line 1", ("the roster is empty",)),
    Bad("truncated", "cut.yaml", _cut(ROSTER, "[life, property]"), "line 13", ("not valid YAML",)),
    Bad(
        "misspelt key",
        "typo.yaml",
        _roster("    specialities: [life", "    speciality: [life"),
        "line 11",
        ("mediators[1]", "unknown keys ['speciality']"),
    ),
    Bad(
        "missing name",
        "noname.yaml",
        _roster("    name: 李秀英\n", ""),
        "line 11",
        ("mediators[1].name: is required",),
    ),
    Bad(
        "text for a number",
        "text.yaml",
        _roster("max_per_day: 3", "max_per_day: three"),
        "line 3",
        ("mediators[0].max_per_day",),
    ),
    Bad(
        "not a date",
        "date.yaml",
        _roster("to: 2026-12-03", "to: 2026-02-30"),
        "line 10",
        ("cannot be read",),
    ),
    Bad(
        "duplicate id",
        "dup.yaml",
        _roster("id: med-li", "id: med-wang"),
        "line 11",
        ("mediators[1].id: duplicate id 'med-wang'",),
    ),
    Bad(
        "key given twice",
        "twice.yaml",
        _roster("    kind: centre\n", "    kind: centre\n    kind: online\n"),
        "line 18",
        ("key 'kind' given twice",),
    ),
    Bad(
        "capacity out of range",
        "cap.yaml",
        _roster("capacity: 8", "capacity: 80000000000"),
        "line 15",
        ("venues[0].capacity", "from 1 to 1000"),
    ),
    Bad(
        "unknown speciality",
        "spec.yaml",
        _roster("[life, property]", "[life, cooking]"),
        "line 11",
        ("mediators[1].specialities", "['cooking'] not among"),
    ),
    Bad(
        "mediators not a list",
        "map.yaml",
        _utf8('version: "x"\nmediators:\n  med-wang: 王建国\n'),
        "line 3",
        ("mediators: must be a list",),
    ),
    Bad(
        "nobody listed",
        "nobody.yaml",
        b'version: "2026.2"\n',
        "line 1",
        ("lists no mediators and no venues",),
    ),
]


IMPORTERS: dict[str, tuple[type[Importer], list[Bad]]] = {
    "directory": (Directory, DIRECTORY_CASES),
    "holidays": (Holidays, HOLIDAY_CASES),
    "taxonomy": (Taxonomy, TAXONOMY_CASES),
    "lexicon": (Lexicon, LEXICON_CASES),
    "education": (Education, EDUCATION_CASES),
    "known-agents": (KnownAgents, AGENT_CASES),
    "roster": (Roster, ROSTER_CASES),
}
TABLE = [
    pytest.param(name, bad, id=f"{name}: {bad.name}")
    for name, (_cls, cases) in IMPORTERS.items()
    for bad in cases
]


@pytest.fixture()
def importer(request, tmp_path, monkeypatch):
    cls, _cases = IMPORTERS[request.param]
    made = cls(tmp_path, monkeypatch)
    yield made
    made.close()


@pytest.mark.parametrize(("importer", "bad"), TABLE, indirect=["importer"])
def test_a_malformed_file_is_refused_in_one_line_and_the_previous_data_stays(
    importer: Importer, bad: Bad
) -> None:
    first = importer.offer(importer.write(importer.good_file, _utf8(importer.good)))
    assert first.code == 0, first.message
    before = importer.in_use()

    refused = importer.offer(importer.write(bad.file, bad.content))

    assert refused.code != 0, f"{bad.name} was taken: {refused.message}"
    assert "Traceback" not in refused.message
    lines = refused.message.strip().splitlines()
    assert lines, "refused without saying why"
    # Education lists every bad row, one line each, then one summary line; the rest say one line.
    assert len(lines) == 1 or all(re.match(r"(row \d+|refused:)", line) for line in lines), lines
    if bad.where is not None:
        assert bad.where in refused.message, refused.message
    for fragment in bad.says:
        assert fragment in refused.message, refused.message
    assert importer.in_use() == before


def test_each_importer_reads_back_its_good_file(tmp_path, monkeypatch) -> None:
    """The read-back is not vacuous: after the good file each importer's data says what the
    file says (and what decisions are made with)."""
    seen = {}
    for name, (cls, _cases) in IMPORTERS.items():
        (tmp_path / name).mkdir()
        made = cls(tmp_path / name, monkeypatch)
        try:
            outcome = made.offer(made.write(made.good_file, _utf8(made.good)))
            assert outcome.code == 0, (name, outcome.message)
            seen[name] = made.in_use()
        finally:
            made.close()
    nodes, version, resolved = seen["directory"]
    assert set(nodes) == {"bcb", "bcb-hexi", "bcb-nankai"} and version >= 1
    assert resolved == "bcb-hexi"
    years, holidays, workdays, (jan2_works, jan4_works) = seen["holidays"]
    assert years == {2026} and date(2026, 1, 2) in holidays and workdays == {date(2026, 1, 4)}
    assert (jan2_works, jan4_works) == (False, True)
    version, suggestion = seen["taxonomy"]
    assert version == "t-good"
    assert (suggestion.product, suggestion.issue) == ("credit_cards", "fees")
    version, found = seen["lexicon"]
    assert version == "l-good"
    assert dict(found) == {"全额退保": "全e退保", "退保新政": "退保新政", "修复征信": "修复征信"}
    titles, reports = seen["education"]
    assert titles == ["金融知识进万家", "防范电信网络诈骗讲座"] and reports == 2
    list_id, entries, names = seen["known-agents"]
    assert list_id and entries == 2 and names == ["张德帅", "欧阳维权"]
    mediators, venues = seen["roster"]
    assert [m[0] for m in mediators] == ["med-li", "med-wang"] and all(m[1] for m in mediators)
    assert venues == [("room-1", True, "centre", 8)]


def test_a_broken_edit_of_a_file_in_force_is_logged_once(tmp_path, monkeypatch) -> None:
    """The platform logs a refused edit once, not on every call that reads the file."""
    made = Taxonomy(tmp_path, monkeypatch)
    assert made.offer(made.write("good.yaml", _utf8(TAXONOMY))).code == 0
    first = made.offer(made.write("bad.yaml", b"version: [\n"))
    assert first.code == 1 and "(line 2)" in first.message
    from services.intake import taxonomy

    again = _in_force(taxonomy.taxonomy_in_force, "services.intake.taxonomy")
    assert again == Outcome(0, "")  # the same refusal: not logged again
    assert made.in_use()[0] == "t-good"
