"""The dead-letter queue through the operator's command, on the real broker: listing removes
nothing and honours --limit; dropping removes exactly what was named."""

from __future__ import annotations

import json

import pytest

from services.common.messaging import Envelope, publish_dead_letter
from tests.integration.conftest import xiaobao

pytestmark = pytest.mark.integration


def listed(env: dict[str, str], *extra: str) -> list[dict]:
    done = xiaobao(env, "ops", "dlq", "list", "--json", *extra)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_list_keeps_every_message_and_drop_removes_only_those_named(amqp_uri, tmp_path):
    env = {"XIAOBAO_AMQP_URI": amqp_uri, "XIAOBAO_DATA_DIR": str(tmp_path)}
    before = {p["id"] for p in listed(env)}
    for n in range(3):
        envelope = Envelope("routing.case_assigned", {"case_no": f"XB2026112199990{n}"})
        publish_dead_letter(amqp_uri, "intake.on_case_assigned", envelope.to_body(), "boom")
    ours = [p for p in listed(env) if p["id"] not in before]
    assert len(ours) == 3
    assert {p["queue"] for p in ours} == {"evt-routing-case_assigned--intake.on_case_assigned"}
    assert {p["case_no"] for p in ours} == {f"XB2026112199990{n}" for n in range(3)}
    assert len(listed(env, "--limit", "2")) == 2
    mine = {p["id"] for p in ours}
    assert mine <= {p["id"] for p in listed(env)}  # listing took nothing away

    dropped = xiaobao(env, "ops", "dlq", "drop", ours[0]["id"])
    assert dropped.returncode == 0, dropped.stderr
    left = {p["id"] for p in listed(env)}
    assert ours[0]["id"] not in left and {ours[1]["id"], ours[2]["id"]} <= left
    dropped = xiaobao(env, "ops", "dlq", "drop", ours[1]["id"], ours[2]["id"])
    assert dropped.returncode == 0, dropped.stderr
    assert not mine & {p["id"] for p in listed(env)}
