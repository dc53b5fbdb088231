"""The fault tests' own broker, database and platform (module-wide), and their table."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.platform import Platform
from tests.integration.conftest import xiaobao
from tests.integration.faults.harness import (
    RESULTS,
    Faulty,
    PrivatePostgres,
    PrivateRabbit,
    platform_env,
)

PREFIX = "xiaobao-faults-"


def clean_abandoned() -> None:
    """Stops the broker and database a killed run left behind (its pytest process is gone), so
    they do not pile up on a machine whose sessions and CI runs follow one another."""
    for base in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            os.kill(int((base / "owner.pid").read_text()), 0)
            continue  # its run is still going
        except (OSError, ValueError):
            pass
        PrivatePostgres(base / "pg").stop("immediate")
        PrivateRabbit(base / "rabbit").kill()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> Iterator[Faulty]:
    assert "eventlet" not in sys.modules, "a test imported nameko/eventlet into the pytest process"
    # Not under pytest's basetemp (mode 0700): as root, PostgreSQL runs as the postgres user,
    # which must reach its data directory.
    clean_abandoned()
    base = Path(tempfile.mkdtemp(prefix=PREFIX))
    os.chmod(base, 0o755)  # noqa: S103 - a directory of the test's own, holding no secret
    (base / "owner.pid").write_text(str(os.getpid()))
    rabbit = PrivateRabbit(base / "rabbit")
    pg = PrivatePostgres(base / "pg")
    plat = None
    try:
        rabbit.start()
        pg.init()
        env = platform_env(rabbit, pg, base / "data")
        for args in (("db", "upgrade", "all"), ("routing", "import-directory")):
            done = xiaobao(env, *args)
            assert done.returncode == 0, done.stderr
        # The logs stay (under pytest's basetemp) for reading after a failure.
        plat = Platform(env=env, log_dir=tmp_path_factory.mktemp("faults-logs"))
        plat.start(timeout=120)
        yield Faulty(rabbit, pg, plat, env)
    finally:
        if plat is not None:
            plat.stop()
        rabbit.stop()
        pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def pytest_terminal_summary(terminalreporter) -> None:
    if not RESULTS:
        return
    header = (
        "fault",
        "cases submitted",
        "cases lost",
        "duplicates",
        "time to recover",
        "went not-ready",
    )
    rows = [header, *(r.row() for r in RESULTS)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    terminalreporter.section("faults")
    for n, row in enumerate(rows):
        terminalreporter.write_line(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        )
        if n == 0:
            terminalreporter.write_line("  ".join("-" * w for w in widths))
