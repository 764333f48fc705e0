"""Nothing the store keeps carries a NUL, another C0 control or a lone surrogate (issue 12):
PostgreSQL refuses a NUL in text and JSONB, and one refused write used to fail every run."""

from __future__ import annotations

from pcosync.domain.identity import Side
from pcosync.store import RunMode, RunStatus, Store


def test_text_and_json_are_kept_with_visible_stand_ins(store: Store) -> None:
    run = store.runs.start(RunMode.FULL)
    store.runs.finish(
        run.id,
        RunStatus.FAILED,
        error="Rock said: bad \x00 value",
        counts={"notes": ["Nul\x00Byte", "Esc\x1b"], "k\x07": "broken \ud800 half"},
    )
    store.parked.park(
        Side.PCO,
        "person:1",
        "Planning Center person 1 (Nul\x00Byte): refused",
        {"op": "update", "after": {"first_name": "Nul\x00Byte"}},
        run_id=run.id,
    )
    kept = store.runs.get(run.id)
    assert kept is not None and kept.error == "Rock said: bad ␀ value"
    assert dict(kept.counts) == {"notes": ["Nul␀Byte", "Esc␛"], "k␇": "broken \ufffd half"}
    parked = store.parked.list()[0]
    assert parked.reason == "Planning Center person 1 (Nul␀Byte): refused"
    assert parked.payload == {"op": "update", "after": {"first_name": "Nul␀Byte"}}


def test_tabs_newlines_and_none_are_kept_as_they_are(store: Store) -> None:
    run = store.runs.start(RunMode.FULL)
    store.runs.finish(run.id, RunStatus.DONE, error="two\nlines\tand a tab", counts=None)
    kept = store.runs.get(run.id)
    assert kept is not None and kept.error == "two\nlines\tand a tab"
