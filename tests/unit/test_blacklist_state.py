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


# --- the sliced bulk build and the points read back ------------------------------------------


def _stored(n: int) -> list[tuple]:
    """Rows as the worker stores them: what StateLoader.add takes."""
    live = Screener(pii_key=KEY)
    rows = []
    for case in (CaseInput.from_dict(c) for c in generate(n)[0]):
        p = live.prepare(case)
        f = live.apply(p)
        rows.append(
            (
                p.case_no,
                p.complainant[1:],
                p.institution,
                p.day,
                p.points,
                live.template_key(f.template),
                screening.signature_bytes(p.signature),
            )
        )
    return rows


def _built(rows: list[tuple], keep_signatures: bool) -> Screener:
    signatures = {r[0]: screening.signature_from_bytes(r[6]) for r in rows}
    screener = Screener(
        pii_key=KEY,
        lexicon=screening.load_lexicon(),
        signatures=None
        if keep_signatures
        else (lambda case_nos: {n: signatures.get(n) for n in case_nos}),
    )
    loader = screener.loader()
    for row in rows:
        loader.add(*row)
    loader.finish()
    return screener


def _arrays(s: Screener) -> dict:
    p, pts, t = s._people, s._points, s._templates
    out = {
        name: None if getattr(p, name) is None else np.asarray(getattr(p, name))
        for name in ("base", "keys", "parent", "size", "points", "templates", "insts", "least")
    }
    out.update(
        points_base=pts.base,
        points_first=pts.base_first,
        shared=sorted(pts.shared.items()),
        first=np.asarray(t.first),
        with_complainant=t.with_c.base,
        with_institution=t.with_i.base,
        bands=t.bands.base,
        band_templates=t.bands.base_tids,
    )
    return out


@pytest.mark.parametrize("keep_signatures", [True, False])
def test_a_restore_sorted_in_many_small_slices_builds_the_same_state_as_in_one(
    monkeypatch, keep_signatures
):
    rows = _stored(2000)
    whole = _arrays(_built(rows, keep_signatures))
    monkeypatch.setattr(screening, "_SLICE", 97)  # ~20 key ranges instead of one
    monkeypatch.setattr(screening, "_SIG_CHUNK", 5)
    sliced = _arrays(_built(rows, keep_signatures))
    assert whole.keys() == sliced.keys()
    for name, value in whole.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, sliced[name]), name
        else:
            assert value == sliced[name], name
    assert len(whole["bands"]) > 1000 and len(whole["shared"]) > 5


def test_a_restored_worker_reads_once_seen_points_back_and_screens_as_if_it_held_them(
    tmp_path, monkeypatch
):
    from bench import screening_service as bench
    from services.blacklist import store
    from services.common import db, settings

    def fresh() -> None:
        settings.get.cache_clear()
        db.engine_for.cache_clear()
        db.session_factory.cache_clear()

    url = f"sqlite:///{tmp_path}/screened.db"
    monkeypatch.setenv("XIAOBAO_DATABASE_URL", url)  # restored at the end, as use() sets it
    monkeypatch.setenv("XIAOBAO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XIAOBAO_BLACKLIST_DATABASE_URL", "")
    fresh()
    try:
        cases, _ = generate(4000)
        stored, later = cases[:3000], cases[3000:3600]
        bench.bulk_store(stored, url, str(tmp_path))
        key = settings.get().pii_key
        live = Screener(pii_key=key)
        for c in stored:
            live.apply(live.prepare(store.case_input(bench.payload(c, key), key)))
        state = store.ScreeningState(pii_key=key)
        factory = db.session_factory("blacklist")
        with db.session_scope(factory) as session:
            assert state.restore(session) == 3000
        held, every_point = len(state.screener._points), len(live._points)
        assert held < every_point / 3, (held, every_point)  # most points were seen once
        # Letters again under new numbers (each of their points already stored), then new ones.
        again = [{**c, "case_no": "N" + c["case_no"]} for c in stored[::3]]
        flagged = 0
        for c in again + later:
            payload = bench.payload(c, key)
            expected = live.score(live.apply(live.prepare(store.case_input(payload, key))))
            with db.session_scope(factory) as session:
                assert state.screen(session, payload).result == expected, c["case_no"]
            flagged += expected.flagged
        assert flagged > 20
        assert len(state.screener._points) > held  # the points read back are held from then on
    finally:
        fresh()
