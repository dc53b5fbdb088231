"""DESIGN: grpcio stays out of the workers (it hangs under eventlet's monkey-patching, and its
import alone costs every worker ~20 MiB). Each worker module is imported in a child of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.settings import SERVICES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", SERVICES)
def test_a_worker_does_not_import_grpc(service):
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            f"import sys, services.{service}.worker; "
            "print(sorted(m for m in sys.modules if m == 'grpc' or m.startswith('grpc.')))",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen' / 'python'}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
