"""A worker's database calls must let its other green threads run (the outbox relay, timers):
psycopg's default wait would block the whole eventlet hub for the length of every query."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.integration.conftest import PG_ADMIN_URL, ROOT

pytestmark = pytest.mark.integration

PROBE = textwrap.dedent(
    """
    import eventlet
    eventlet.monkey_patch()
    import services.common.worker  # what every nameko worker imports
    import psycopg

    ticks = []

    def ticker():
        for _ in range(40):
            ticks.append(1)
            eventlet.sleep(0.05)

    eventlet.spawn(ticker)
    with psycopg.connect(%r) as conn:
        conn.execute("SELECT pg_sleep(1)")
    print(len(ticks))
    """
)


def test_a_slow_query_in_a_worker_does_not_stop_its_other_green_threads():
    # In a child: eventlet must never be imported into the pytest process (see conftest).
    out = subprocess.run(
        [sys.executable, "-c", PROBE % PG_ADMIN_URL],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen' / 'python'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # A ticker every 50 ms runs about 20 times during a one-second query; blocked, once.
    assert int(out.stdout.strip()) >= 15
