"""``pcosync revert``: undo an applied run from its before-images (issue #6 §3, issue #10 §7-8).

A revert puts back what the run wrote where nobody changed it since, deletes a record the
run created if nobody touched it, never leaves a duplicate, and afterwards leaves the two
sides differing until a person edits one of them (it never writes the undone values back
over the side a person edited). It previews, asks, and is gated like any run.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from pcosync.domain.identity import Side
from pcosync.store import RunMode, RunStatus
from tests.safety.conftest import (
    Church,
    approve,
    cli,
    configure,
    links,
    pco_person,
    revert,
    rock_person,
)
from tests.sync.test_phone_emptied import _pco_mobiles, _rock_mobiles


def _created(church: Church, run_id: int) -> list:
    store = church.store()
    try:
        return [
            j.operation
            for j in store.journal.list(run_id)
            if j.operation.kind.value == "create" and j.status.value == "applied"
        ]
    finally:
        store.close()


def _rock_foreign_keys(church: Church) -> Counter[str]:
    rows = church.rock_get(
        "/api/People",
        **{"$filter": "startswith(ForeignKey,'pcosync:pco:')", "$select": "Id,ForeignKey"},
    )
    return Counter(r["ForeignKey"] for r in rows)


def test_revert_restores_values_leaves_a_later_edit_and_never_writes_them_back(
    church: Church,
) -> None:
    church.sync()
    a, b = links(church)[:2]
    original_last = rock_person(church, a.rock_person_id)["LastName"]
    church.pco_control(f"people/{a.pco_person_id}", {"last_name": "Mistake"})
    church.pco_control(f"people/{b.pco_person_id}", {"middle_name": "Mistaken"})
    bad = church.sync()
    assert bad.updated["rock"] == 2
    assert rock_person(church, a.rock_person_id)["LastName"] == "Mistake"
    # after the run, someone edits b's middle name in Rock: the revert must keep it
    church.rock_control(f"people/{b.rock_person_id}", {"MiddleName": "Corrected"})

    result = revert(church, bad.run_id)
    assert result.summary.status is RunStatus.DONE
    assert rock_person(church, a.rock_person_id)["LastName"] == original_last
    assert rock_person(church, b.rock_person_id)["MiddleName"] == "Corrected"
    assert len(result.left_alone) == 1
    assert "Middle name" in result.left_alone[0]
    store = church.store()
    revert_run = store.runs.get(result.summary.run_id)
    original = store.runs.get(bad.run_id)
    store.close()
    assert revert_run is not None and revert_run.mode is RunMode.REVERT
    assert revert_run.reverts_run_id == bad.run_id
    assert revert_run.counts["left_alone"] == result.left_alone
    assert original is not None and original.status is RunStatus.REVERTED
    # the next syncs write neither value back: Planning Center keeps the edit a person
    # made there, Rock keeps the value the revert restored (the later Rock edit of b is an
    # ordinary edit and reaches Planning Center)
    church.sync()
    assert pco_person(church, a.pco_person_id)["last_name"] == "Mistake"
    assert rock_person(church, a.rock_person_id)["LastName"] == original_last
    assert pco_person(church, b.pco_person_id)["middle_name"] == "Corrected"
    before = church.writes()
    quiet = church.sync(full=True)
    assert quiet.planned == 0 and church.writes() == before
    # until a person edits either side: then that edit syncs as usual
    church.pco_control(f"people/{a.pco_person_id}", {"last_name": "Settled"})
    church.sync()
    assert rock_person(church, a.rock_person_id)["LastName"] == "Settled"
    # a reverted run cannot be reverted again; the revert can be inspected like any run
    assert cli(church, "revert", str(bad.run_id), "--yes").exit_code == 2
    shown = cli(church, "review", str(result.summary.run_id), "--json")
    assert shown.exit_code == 0
    kinds = {o["kind"] for p in json.loads(shown.output)["people"] for o in p["operations"]}
    assert kinds == {"update"}


def test_reverting_a_first_sync_deletes_what_it_made_and_the_next_sync_makes_no_duplicate(
    church: Church,
) -> None:
    """Issue #10 §7: reverting a first sync, then syncing again, left one person three
    times in Rock."""
    first = church.sync()
    created = _created(church, first.run_id)
    made_in_rock = [op for op in created if op.side.value == "rock"]
    assert made_in_rock
    result = cli(church, "revert", str(first.run_id), "--yes", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["deleted"]["rock"] == len(made_in_rock) and out["kept"] == []
    for op in made_in_rock:  # gone, and so is their link
        assert church.rock_get("/api/People", **{"$filter": f"Id eq {op.ref.rock_id}"}) == []
    assert _rock_foreign_keys(church) == Counter()
    store = church.store()
    assert all(store.links.by_rock(op.ref.rock_id) is None for op in made_in_rock)
    store.close()

    again = church.sync()
    assert again.created["rock"] == 0  # not made again: nobody changed them since
    church.sync(full=True)
    assert max(_rock_foreign_keys(church).values(), default=1) == 1
    # someone edits one of them in Planning Center: now they are created, once. The edit
    # is made within the second of the revert (CI flake): Planning Center keeps updated_at
    # to the second, so it reads as older than the revert; the changed value still counts
    pco_id = made_in_rock[0].ref.pco_id
    store = church.store()
    reverted_at = store.suppressions.all()[(Side.ROCK, str(pco_id))].at
    store.close()
    second = reverted_at.replace(microsecond=0).isoformat()
    church.pco_control("clock", {"now": second, "frozen": True})
    church.pco_control(f"people/{pco_id}", {"nickname": "Back"})
    church.pco_control("clock", {"reset": True})
    back = church.sync()
    assert back.created["rock"] == 1
    church.sync(full=True)
    keys = _rock_foreign_keys(church)
    assert keys[f"pcosync:pco:{pco_id}"] == 1 and max(keys.values()) == 1


def test_a_created_record_someone_edited_since_stays_linked(church: Church) -> None:
    first = church.sync()
    made = next(op for op in _created(church, first.run_id) if op.side.value == "rock")
    church.rock_control(f"people/{made.ref.rock_id}", {"MiddleName": "Touched"})
    result = revert(church, first.run_id)
    assert any("was edited since" in k for k in result.kept)
    assert rock_person(church, made.ref.rock_id)["MiddleName"] == "Touched"
    store = church.store()
    assert store.links.by_rock(made.ref.rock_id) is not None  # still linked: no duplicate
    store.close()
    church.sync(full=True)
    assert max(_rock_foreign_keys(church).values(), default=1) == 1


def test_revert_dry_run_lists_people_and_fields_and_writes_nothing(church: Church) -> None:
    church.sync()
    a = links(church)[0]
    name = pco_person(church, a.pco_person_id)["first_name"]
    church.pco_control(f"people/{a.pco_person_id}", {"last_name": "Previewed"})
    bad = church.sync()
    before = church.writes()
    result = cli(church, "revert", str(bad.run_id), "--dry-run")
    assert result.exit_code == 0, result.output
    assert name in result.output and "Last name" in result.output
    assert "Previewed" in result.output and "Nothing was written" in result.output
    assert church.writes() == before
    assert rock_person(church, a.rock_person_id)["LastName"] == "Previewed"


def test_revert_asks_first_and_without_a_terminal_refuses_unless_yes(church: Church) -> None:
    church.sync()
    a = links(church)[0]
    church.pco_control(f"people/{a.pco_person_id}", {"last_name": "Asked"})
    bad = church.sync()
    before = church.writes()
    refused = cli(church, "revert", str(bad.run_id))
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert church.writes() == before
    done = cli(church, "revert", str(bad.run_id), "--yes")
    assert done.exit_code == 0, done.output
    assert rock_person(church, a.rock_person_id)["LastName"] != "Asked"


def test_a_revert_over_the_safety_limits_is_held_and_approved_later(church: Church) -> None:
    church.sync()
    synced = links(church)
    for link in synced[:3]:
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Bulk"})
    bad = church.sync()
    assert bad.updated["rock"] == 3
    configure(church, safety={"update": {"max_count": 1}})
    before = church.writes()
    result = cli(church, "revert", str(bad.run_id), "--yes")
    assert result.exit_code == 4, result.output
    assert church.writes() == before  # held means held
    store = church.store()
    held = store.runs.list(1)[0]
    store.close()
    assert held.status is RunStatus.HELD and held.mode is RunMode.REVERT
    assert all(rock_person(church, lk.rock_person_id)["MiddleName"] == "Bulk" for lk in synced[:3])
    approved = approve(church, held.id)
    assert approved.summary.status is RunStatus.DONE
    assert all(rock_person(church, lk.rock_person_id)["MiddleName"] != "Bulk" for lk in synced[:3])
    store = church.store()
    original = store.runs.get(bad.run_id)
    store.close()
    assert original is not None and original.status is RunStatus.REVERTED


def test_a_held_revert_approved_after_other_syncs_of_its_people_still_restores_them(
    church: Church,
) -> None:
    """Review of this stop's approval change: an approval skipped every person a later run
    had synced since the hold; for a held revert that left their values unrestored, yet the
    reverted run was marked reverted (and could not be reverted again)."""
    church.sync()
    synced = links(church)[:3]
    for link in synced:
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Bulk"})
    bad = church.sync()
    configure(church, safety={"update": {"max_count": 1}})
    assert cli(church, "revert", str(bad.run_id), "--yes").exit_code == 4
    configure(church, safety={})
    store = church.store()
    held = store.runs.list(1)[0]
    store.close()
    # a routine sync meanwhile saves a base for one of those people (another field edited)
    church.pco_control(f"people/{synced[0].pco_person_id}", {"nickname": "Meanwhile"})
    church.sync()

    approved = approve(church, held.id)

    assert approved.summary.status is RunStatus.DONE
    assert [rock_person(church, lk.rock_person_id)["MiddleName"] for lk in synced].count(
        "Bulk"
    ) == 0
    assert not approved.stale


def test_an_edit_made_while_a_revert_was_held_that_matches_it_is_an_edit_not_a_split(
    church: Church,
) -> None:
    """Simulation seed 119 (sim tier): while a revert was held, a person set a field in
    Rock to the very value the revert would restore. The approval wrote nothing there (the
    field already held it), yet stored the field as left differing on purpose, from the
    plan as reviewed: the person's Rock edit never reached Planning Center."""
    church.sync()
    a, b = links(church)[:2]
    last = rock_person(church, a.rock_person_id)["LastName"]
    for link in (a, b):
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Before"})
    church.sync()
    # one operation with two fields for a: the approval narrows it, not drops it
    church.pco_control(f"people/{a.pco_person_id}", {"middle_name": "Bulk", "last_name": "Bulk"})
    church.pco_control(f"people/{b.pco_person_id}", {"middle_name": "Bulk"})
    bad = church.sync()
    assert bad.updated["rock"] == 2
    configure(church, safety={"update": {"max_count": 1}})
    assert cli(church, "revert", str(bad.run_id), "--yes").exit_code == 4
    store = church.store()
    held = store.runs.list(1)[0]
    store.close()
    assert held.status is RunStatus.HELD and held.mode is RunMode.REVERT
    # a person puts a's middle name back in Rock themselves, before the approval
    church.rock_control(f"people/{a.rock_person_id}", {"MiddleName": "Before"})
    approved = approve(church, held.id)
    assert approved.summary.status is RunStatus.DONE
    assert rock_person(church, b.rock_person_id)["MiddleName"] == "Before"  # the revert's
    assert rock_person(church, a.rock_person_id)["LastName"] == last
    configure(church, safety={"update": {"max_count": 100}})
    church.sync()
    # the person's edit is an edit: it reaches Planning Center; the revert's stays split
    assert pco_person(church, a.pco_person_id)["middle_name"] == "Before"
    assert pco_person(church, b.pco_person_id)["middle_name"] == "Bulk"
    assert pco_person(church, a.pco_person_id)["last_name"] == "Bulk"
    assert rock_person(church, a.rock_person_id)["LastName"] == last
    assert church.sync(full=True).planned == 0


def test_only_an_applied_run_can_be_reverted(church: Church) -> None:
    held = church.sync(hold=True)
    result = cli(church, "revert", str(held.run_id), "--yes")
    assert result.exit_code == 2 and "only an applied run" in result.output
    assert cli(church, "revert", "999", "--yes").exit_code == 2


def test_a_revert_killed_after_its_write_landed_keeps_it_undone_and_the_edit_kept(
    church: Church,
) -> None:
    """Simulation seed 8 (sim tier): a revert killed right after Rock applied its write left
    that write journaled *sent*; the next sync took the restored Rock value for a person's
    edit and copied it over the Planning Center edit the reverted run had carried."""
    from pcosync.domain.fields import FieldName
    from pcosync.domain.identity import PersonRef, Side
    from pcosync.engine.merge import Reason
    from pcosync.engine.plan import Operation, OpKind
    from pcosync.store import OpStatus

    church.sync()
    a = links(church)[0]
    original = rock_person(church, a.rock_person_id)["MiddleName"] or None
    church.pco_control(f"people/{a.pco_person_id}", {"middle_name": "Edited"})
    carried = church.sync()
    assert rock_person(church, a.rock_person_id)["MiddleName"] == "Edited"
    # the revert of that run: journaled, sent, landed in Rock, then its process was killed
    store = church.store()
    try:
        killed = store.runs.start(RunMode.REVERT, reverts_run_id=carried.run_id)
        ref = PersonRef(a.id, a.rock_person_id, a.pco_person_id)
        op = Operation(
            1,
            OpKind.UPDATE,
            Side.ROCK,
            ref,
            Reason.REVERT,
            changes={FieldName.MIDDLE_NAME: ("Edited", original)},
        )
        store.journal.record(killed.id, [op])
        store.journal.mark_sent(killed.id, 1)
    finally:
        store.close()
    church.rock_control(f"people/{a.rock_person_id}", {"MiddleName": original})

    first = church.sync()
    second = church.sync(full=True)
    assert pco_person(church, a.pco_person_id)["middle_name"] == "Edited", (
        first.notes,
        second.notes,
        original,
    )
    assert (rock_person(church, a.rock_person_id)["MiddleName"] or None) == original
    store = church.store()
    try:
        settled = store.journal.get(killed.id, 1)
        run = store.runs.get(killed.id)
    finally:
        store.close()
    assert settled.status is OpStatus.APPLIED
    assert run is not None and run.status is RunStatus.INTERRUPTED


def test_a_revert_write_whose_answer_is_lost_after_it_landed_stays_reverted(
    church: Church,
) -> None:
    """Simulation seed 1971: the revert's write to Rock (a phone number put back) landed but
    its answer was lost; the revert recorded it as failed, so the next sync took the restored
    number for a Rock edit and copied it back over the Planning Center record the reverted
    run had carried."""
    church.sync()
    link = next(
        lk
        for lk in links(church)
        if len(_pco_mobiles(church, lk.pco_person_id)) == 1
        and len(_rock_mobiles(church, lk.rock_person_id)) == 1
    )
    [before] = _rock_mobiles(church, link.rock_person_id)
    [phone] = church.pco_get(f"/people/v2/people/{link.pco_person_id}/phone_numbers")["data"]

    async def empty_the_mobile() -> None:
        async with church.pco() as pco:
            await pco.delete_phone(phone["id"])

    asyncio.run(empty_the_mobile())
    carried = church.sync()
    assert _rock_mobiles(church, link.rock_person_id) == []
    lost = {"kind": "drop", "method": "POST", "path": "/api/PhoneNumbers", "count": 1}
    church.rock_control("faults", {"faults": [{**lost, "after_apply": True}]})

    result = revert(church, carried.run_id)

    assert [p["Number"] for p in _rock_mobiles(church, link.rock_person_id)] == [
        before["Number"]
    ]  # it landed
    assert result.summary.parked == 0 and result.summary.updated["rock"] == 1
    church.sync()
    # left differing on purpose, as after any revert: nobody's value is copied back
    assert _pco_mobiles(church, link.pco_person_id) == []
    assert len(_rock_mobiles(church, link.rock_person_id)) == 1
