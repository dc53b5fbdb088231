"""No personal data in any log: the demo day runs (`xiaobao demo --once`, ten real processes) and
every line every process wrote, and everything the demo printed, is searched for the names, phone
numbers and ID numbers the demo submitted.

The demo runs on free ports with a PostgreSQL database and a RabbitMQ vhost of its own, so it
cannot meet the session's platform (or a demo someone left running on the default ports).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from services.common import pii
from services.common.settings import SERVICES
from services.platform import check_broker, free_ports_env
from tests.integration.conftest import ROOT, own_database, own_vhost, vhost_uri

pytestmark = pytest.mark.integration

SECRET = "pii-log-test-secret-0123456789abcdef"
# Separators people and programs put inside a phone number: 139-2026-5178, 139 2026 5178.
_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s\-./]+(?=\d)")


@pytest.fixture(scope="module")
def demo_database() -> Iterator[str]:
    with own_database("xiaobao_pii") as url:
        yield url


@pytest.fixture(scope="module")
def demo_vhost() -> Iterator[str]:
    with own_vhost("xiaobao-pii") as name:
        uri = vhost_uri(name)
        check_broker(uri)
        yield uri


@pytest.fixture(scope="module")
def demo_day(demo_database, demo_vhost, tmp_path_factory) -> dict:
    """Runs `xiaobao demo --once`; returns its data directory and what it printed."""
    data_dir = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOBAO_")}
    env.update(
        {
            "XIAOBAO_DATABASE_URL": demo_database,
            "XIAOBAO_AMQP_URI": demo_vhost,
            "XIAOBAO_DATA_DIR": str(data_dir),
            "XIAOBAO_AUTH_SECRET": SECRET,
            "XIAOBAO_PII_KEY": SECRET,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen" / "python")]),
            # Wide enough that the console never wraps a name or a number over two lines.
            "COLUMNS": "400",
        }
    )
    env.update(free_ports_env())
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {
        "data_dir": data_dir,
        "database": demo_database,
        "printed": {"demo stdout": done.stdout, "demo stderr": done.stderr},
    }


def submitted_people(database_url: str) -> dict[str, set[str]]:
    """Every name, phone and ID number the demo gave intake, read back from intake's table
    (encrypted at rest) with the demo's key."""
    people: dict[str, set[str]] = {"name": set(), "phone": set(), "id_number": set()}
    kinds = ("name", "name", "phone", "phone", "id_number", "id_number")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT complainant_name, agent_name, complainant_phone, agent_phone,"
            ' complainant_id_number, agent_id_number FROM intake."case"'
        ).fetchall()
    for row in rows:
        for kind, value in zip(kinds, row, strict=True):
            if value:
                people[kind].add(pii.decrypt(value, SECRET))
    return people


def findings(line: str, people: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(kind, masked value) of every piece of personal data in one line."""
    found = []
    squeezed = _BETWEEN_DIGITS.sub("", line)
    upper = line.upper()
    for name in people["name"]:
        if name in line:
            found.append(("name", name[0] + "*" * (len(name) - 1)))
    for phone in people["phone"]:
        digits = re.sub(r"\D", "", phone)
        if phone in line or digits in squeezed:
            found.append(("phone", f"{digits[:3]}****{digits[-4:]}"))
    for id_number in people["id_number"]:
        if id_number.upper() in upper or id_number.upper() in _BETWEEN_DIGITS.sub("", upper):
            found.append(("id_number", f"{id_number[:6]}********{id_number[-4:]}"))
    return found


def test_the_search_finds_personal_data_however_it_is_written():
    people = {"name": {"周淑兰"}, "phone": {"13920265178"}, "id_number": {"12010219760318551X"}}
    for line in (
        "consent by 周淑兰",
        "calling 13920265178 now",
        "calling +86 139-2026-5178 now",
        "calling 139 2026 5178 now",
        "id 12010219760318551x",
        "id 120102 19760318 551X",
    ):
        assert findings(line, people), line
    for line in ("consent by 周**", "calling 139****5178", "id 120102********551X"):
        assert not findings(line, people), line


def test_no_log_line_of_the_demo_day_holds_a_name_phone_or_id_number(demo_day):
    people = submitted_people(demo_day["database"])
    # The demo's day: 24 cases and a repeat, a mediation, a screened ring of five and three
    # honest look-alikes; two agents with ID numbers.
    assert len(people["name"]) >= 25, {k: len(v) for k, v in people.items()}
    assert len(people["phone"]) >= 25
    assert len(people["id_number"]) >= 2

    logs = sorted(Path(demo_day["data_dir"]).rglob("*.log"))
    names = {p.name for p in logs}
    for service in SERVICES:
        for role in ("worker", "api"):
            assert f"{service}-{role}.log" in names, sorted(names)
    texts = {str(p.relative_to(demo_day["data_dir"])): p.read_text(errors="replace") for p in logs}
    texts.update(demo_day["printed"])
    assert sum(len(t.splitlines()) for t in texts.values()) > 50  # the day was logged at all

    leaks = []
    for where, text in texts.items():
        for number, line in enumerate(text.splitlines(), start=1):
            leaks.extend(
                f"{where}:{number}: {kind} {masked}" for kind, masked in findings(line, people)
            )
    assert not leaks, "personal data in the logs:\n" + "\n".join(leaks)
