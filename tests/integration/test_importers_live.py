"""Malformed files offered to the running platform: refused in one line naming the line, and the
running services keep deciding with the previous data (tests/unit/test_importers_malformed.py
covers every importer and malformation; these are the claims only real processes can prove)."""

from __future__ import annotations

import random
import time
import uuid

import pytest

from services.blacklist.screening import LEXICON_PATH
from services.blacklist.store import LEXICON_CHECK_SECONDS
from services.common.clients import stub
from tests.integration.conftest import eventually, wait_assigned, xiaobao
from xiaobao.blacklist.v1 import blacklist_pb2 as bpb
from xiaobao.intake.v1 import intake_pb2 as ipb
from xiaobao.routing.v1 import routing_pb2 as rpb

pytestmark = pytest.mark.integration


def complaint(institution_text: str, region: str, summary: str) -> ipb.SubmitCaseRequest:
    return ipb.SubmitCaseRequest(
        kind=ipb.CASE_KIND_COMPLAINT,
        channel=ipb.CHANNEL_LETTER,
        complainant=ipb.Complainant(
            name="李秀英", phone=f"139{random.randrange(10**8):08d}", region_code=region
        ),
        institution_text=institution_text,
        product="life",
        summary=summary,
        amount_in_dispute_fen=800_000,
        request_id=uuid.uuid4().hex,
    )


def test_a_broken_directory_file_leaves_the_running_router_on_the_old_directory(
    platform, platform_env, staff, tmp_path
):
    before = stub("directory").ListNodes(rpb.ListNodesRequest(), metadata=staff, timeout=10)
    bad = tmp_path / "directory-2026-12.yaml"
    # The demo directory's Tianjin life office, moved under an office that does not exist.
    bad.write_text(
        'version: "2026-12-01"\ninstitutions:\n  - id: pingan-life-tj\n'
        "    name: 中国平安人寿保险股份有限公司天津分公司\n"
        '    region_code: "120000"\n    parent: pingan-life-hq\n',
        encoding="utf-8",
    )
    run = xiaobao(platform_env, "routing", "import-directory", str(bad))
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert f"{bad.name}:6:" in run.stderr and "parent pingan-life-hq is not in" in run.stderr

    after = stub("directory").ListNodes(rpb.ListNodesRequest(), metadata=staff, timeout=10)
    assert [(n.id, n.active) for n in after.nodes] == [(n.id, n.active) for n in before.nodes]
    # What the worker decides with: a new complaint still goes to the old directory's office.
    case = (
        stub("intake")
        .SubmitCase(
            complaint("天津平安人寿", "120104", "销售时夸大收益"), metadata=staff, timeout=10
        )
        .case
    )
    assert wait_assigned("pingan-life-tj", case.case_no).case_no == case.case_no


@pytest.fixture()
def blacklist_on_a_lexicon_file(platform, tmp_path):
    """The blacklist worker restarted on a lexicon file of this test; the usual one after."""
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        LEXICON_PATH.read_text(encoding="utf-8").replace(
            "      - phrase: 葆费\n", "      - phrase: 葆费\n      - phrase: 秘密退保通道\n", 1
        ),
        encoding="utf-8",
    )
    original = next(p for p in platform.processes if (p.service, p.role) == ("blacklist", "worker"))
    platform.stop_process(original)
    ours = platform.add_worker("blacklist", 1, {"XIAOBAO_BLACKLIST_LEXICON_FILE": str(path)})
    try:
        platform.wait_workers(("blacklist",), platform.settings(), 60)
        yield path, ours
    finally:
        platform.stop_process(ours)
        platform.add_worker("blacklist", 0, {})
        platform.wait_workers(("blacklist",), platform.settings(), 60)


def _lexicon_reason(case_no: str, staff) -> str:
    def screened():
        found = stub("blacklist").Query(
            bpb.QueryRequest(case_no=case_no), metadata=_investigator(), timeout=10
        )
        return next(r.detail for c in found.cases for r in c.reasons if r.signal == "lexicon")

    return eventually(screened)


def _investigator():
    from services.common import auth
    from tests.integration.conftest import TEST_SECRET

    return auth.bearer(auth.issue_token("it-inv", "investigator", secret=TEST_SECRET))


def test_a_broken_lexicon_edit_is_logged_with_its_line_and_screening_keeps_the_last_good(
    blacklist_on_a_lexicon_file, staff
):
    path, worker = blacklist_on_a_lexicon_file
    letter = "有人说可以走秘密退保通道，全额退保，不成功不收费。"
    first = stub("intake").SubmitCase(
        complaint("天津中国人寿", "120104", letter), metadata=staff, timeout=10
    )
    good = _lexicon_reason(first.case.case_no, staff)
    assert "秘密退保通道" in good

    version = path.read_text(encoding="utf-8").split('version: "', 1)[1].split('"', 1)[0]
    # A broken edit: the first category's weight typed as a word.
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("weight:"))
    lines[at] = "    weight: 高"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    time.sleep(LEXICON_CHECK_SECONDS + 0.5)  # past the worker's re-check interval

    second = stub("intake").SubmitCase(
        complaint("天津中国人寿", "120104", letter), metadata=staff, timeout=10
    )
    kept = _lexicon_reason(second.case.case_no, staff)
    assert f"lexicon {version}" in kept and "秘密退保通道" in kept

    def refusal_logged():
        log = worker.log_path.read_text(encoding="utf-8", errors="replace")
        return next(
            line for line in log.splitlines() if "lexicon rejected, the previous one" in line
        )

    logged = eventually(refusal_logged)
    assert f"(line {at + 1})" in logged and "weight: must be a number from 0 to 1" in logged
