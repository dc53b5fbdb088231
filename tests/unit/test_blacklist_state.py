"""The screener's compact state: a bulk restore holds what case-by-case application gives, the
arrays merge their recent additions without changing a result, and the MinHash is datasketch's."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from datasketch import MinHash

from bench.screening_data import generate
from services.blacklist import screening
from services.blacklist.screening import CaseInput, Screener

KEY = "test pii key"


@pytest.fixture(scope="module")
def cases() -> list[CaseInput]:
    return [CaseInput.from_dict(c) for c in generate(1500)[0]]


def test_the_minhash_permutations_are_datasketchs_without_importing_it_at_run_time():
    a, b = MinHash(num_perm=screening.NUM_PERM, seed=7).permutations
    assert np.array_equal(screening._PERM_A, a) and np.array_equal(screening._PERM_B, b)


def test_a_bulk_restore_scores_every_case_as_case_by_case_application_does(cases):
    live = Screener(pii_key=KEY)
    stored = []
    for case in cases:
        p = live.prepare(case)
        f = live.apply(p)
        stored.append((p, f, live.template_key(f.template)))
    restored = Screener(pii_key=KEY)
    loader = restored.loader()
    for p, _, template_key in stored:
        loader.add(
            p.case_no,
            p.complainant[1:],
            p.institution,
            p.day,
            p.points,
            template_key,
            screening.signature_bytes(p.signature),
        )
    assert loader.finish() == len(cases)
    assert restored.size() == live.size()
    flagged = 0
    for _, f, _ in stored:
        assert restored.score(f) == live.score(f), f.case_no
        # The same members (in order of arrival after a restore, of joining when live).
        assert sorted(restored.ring_members(f.complainant)) == sorted(
            live.ring_members(f.complainant)
        )
        flagged += live.score(f).flagged
    assert flagged > 50  # rings are in the set, so groups and ring ids were compared
    # Both go on alike: the next letters find the same templates.
    for case in cases[:200]:
        again = case.__class__(**{**_fields(case), "case_no": "N" + case.case_no})
        assert restored.screen(again) == live.screen(again)


def test_merging_recent_additions_into_the_sorted_arrays_changes_no_result(cases, monkeypatch):
    unmerged = list(Screener(pii_key=KEY).screen_all(cases))
    monkeypatch.setattr(screening, "_MERGE_AT", 37)
    merged = Screener(pii_key=KEY)
    assert list(merged.screen_all(cases)) == unmerged
    assert len(merged._points.base) > 0 and len(merged._templates.bands.base) > 0


def test_a_ring_has_the_same_id_whatever_the_order_its_cases_came_in():
    agent = screening.Party(name="王五", phone="13612345678")
    ring = [
        CaseInput(
            case_no=f"R{n}",
            received_at=datetime(2026, 5, 6, 9, n),
            institution="平安人寿",
            text=f"要求全额退保,第{n}份。",
            complainant=screening.Party(name=f"投诉人{n}", phone=f"139{n:08d}"),
            agent=agent,
        )
        for n in range(6)
    ]
    forward = list(Screener(pii_key=KEY).screen_all(ring))
    backward = list(Screener(pii_key=KEY).screen_all(ring[::-1]))
    ids = {r.ring_id for r in forward} | {r.ring_id for r in backward}
    assert len(ids) == 1 and ids.pop().startswith("R-")


def _fields(case: CaseInput) -> dict:
    return {name: getattr(case, name) for name in CaseInput.__slots__}
