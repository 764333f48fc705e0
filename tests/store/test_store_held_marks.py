"""The notes a held run leaves on bases (``Base.held``), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from pcosync.domain import FieldName
from pcosync.domain.identity import Side
from pcosync.engine import Base
from pcosync.store import Store

from .conftest import FakeClock
from .test_store_links import JANE


def test_a_held_runs_notes_are_stored_with_it_and_keep_the_saved_time(
    store: Store, clock: FakeClock
) -> None:
    a = store.links.add(45, "123")
    b = store.links.add(46, "124")  # no base: nothing to note
    store.links.save_base(a.id, Base(JANE))
    saved_at = clock()
    clock.advance(minutes=5)
    store.links.set_held(
        {a.id: {(FieldName.EMAIL, Side.ROCK, 3)}, b.id: {(FieldName.EMAIL, Side.PCO, 3)}}, 3
    )
    assert store.links.load_bases()[a.id].held == {(FieldName.EMAIL, Side.ROCK, 3)}
    store.links.set_held(
        {a.id: {(FieldName.CAMPUS, Side.PCO, 4), (FieldName.EMAIL, Side.ROCK, 3)}}, 4
    )
    bases = store.links.load_bases()
    assert bases[a.id].held == {(FieldName.CAMPUS, Side.PCO, 4), (FieldName.EMAIL, Side.ROCK, 3)}
    assert bases[a.id].person == JANE and bases[a.id].held_by == 4 and b.id not in bases
    assert store.links.bases_saved_since([a.id], saved_at + timedelta(seconds=1)) == set()
    store.links.agree_held(4)  # run 4 approved: it read email agreeing again
    assert store.links.load_bases()[a.id].held == {(FieldName.CAMPUS, Side.PCO, 4)}
    store.links.save_base(a.id, Base(JANE))  # a run synced them: the note is used up
    assert store.links.load_bases()[a.id].held == frozenset()
