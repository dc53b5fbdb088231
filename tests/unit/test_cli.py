"""The `xiaobao` command answers bad input and a missing broker with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def xiaobao(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        # Only the settings the test gives: none leaks in from the shell or another test.
        env={**{k: v for k, v in os.environ.items() if not k.startswith("XIAOBAO_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_demo_without_a_broker_says_so_in_one_line_and_fails(tmp_path):
    run = xiaobao(
        "demo",
        "--once",
        XIAOBAO_AMQP_URI="amqp://guest:guest@127.0.0.1:1//",
        XIAOBAO_DATA_DIR=str(tmp_path),
    )
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "RabbitMQ is not reachable" in lines[0] and "rabbitmq-server" in lines[0]
    assert "guest:guest" not in lines[0]  # credentials are not echoed
    assert "Traceback" not in run.stdout + run.stderr


def test_a_directory_with_a_duplicate_id_is_refused_naming_the_node(tmp_path):
    bad = tmp_path / "directory.yaml"
    bad.write_text(
        "institutions:\n"
        "  - {id: tjbank, name: 天津银行, kind: bank, region_code: '120000'}\n"
        "  - {id: tjbank, name: 天津银行二, kind: bank, region_code: '120000'}\n",
        encoding="utf-8",
    )
    run = xiaobao("routing", "import-directory", str(bad), XIAOBAO_DATA_DIR=str(tmp_path))
    assert run.returncode == 2
    assert "node tjbank: duplicate id" in run.stderr
    assert "Traceback" not in run.stderr


def test_importing_the_demo_directory_twice_changes_nothing_the_second_time(tmp_path):
    env = {"XIAOBAO_DATA_DIR": str(tmp_path)}
    assert xiaobao("db", "upgrade", "routing", **env).returncode == 0
    first = xiaobao("routing", "import-directory", **env)
    second = xiaobao("routing", "import-directory", **env)
    from services.routing import store

    size = len(store.read_directory_file(store.DEMO_DIRECTORY))
    assert f"{size} nodes; added {size}," in first.stdout
    assert f"added 0, changed 0, deactivated 0, unchanged {size}" in second.stdout
    resolved = xiaobao("routing", "resolve", "--text", "天津平安人寿", "--json", **env)
    assert '"node": "pingan-life-tj"' in resolved.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("auth", "token", "--role", "janitor"), "role: unknown role"),
        (
            ("auth", "token", "--role", "institution"),
            "node_id: an institution token must name its node",
        ),
        (("db", "upgrade", "payments"), "unknown service 'payments'"),
    ],
)
def test_bad_arguments_get_a_message_not_a_traceback(tmp_path, args, message):
    run = xiaobao(*args, XIAOBAO_DATA_DIR=str(tmp_path))
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_db_check_fails_until_the_database_is_migrated_to_head(tmp_path):
    before = xiaobao("db", "check", "education", XIAOBAO_DATA_DIR=str(tmp_path))
    assert before.returncode == 1, before.stdout + before.stderr
    assert "database at nothing" in before.stdout and "xiaobao db upgrade" in before.stdout
    assert xiaobao("db", "upgrade", "education", XIAOBAO_DATA_DIR=str(tmp_path)).returncode == 0
    after = xiaobao("db", "check", "education", XIAOBAO_DATA_DIR=str(tmp_path))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "upgrade" not in after.stdout
