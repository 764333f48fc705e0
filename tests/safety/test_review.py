"""Held runs: review, approve (checked against now), partial approve, reject (issue #6 §2)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

from pcosync.domain.fields import FieldName
from pcosync.domain.identity import Side
from pcosync.engine.plan import OpKind
from pcosync.store import OpStatus, RunMode, RunStatus
from tests.safety.conftest import (
    Church,
    approve,
    cli,
    configure,
    init_rock,
    links,
    pco_person,
    rock_person,
)


def _held_with_edits(church: Church, edits: dict[int, dict[str, str]]) -> tuple[int, list]:
    """Sync, make the PCO edits (by link index), then a run held for review."""
    church.sync()
    synced = links(church)
    for index, attrs in edits.items():
        church.pco_control(f"people/{synced[index].pco_person_id}", attrs)
    held = church.sync(hold=True)
    assert held.status is RunStatus.HELD
    return held.run_id, synced


def _update_seq(church: Church, run_id: int, rock_id: int) -> int:
    store = church.store()
    try:
        return next(
            j.seq
            for j in store.journal.list(run_id)
            if j.operation.ref.rock_id == rock_id and j.operation.kind.value == "update"
        )
    finally:
        store.close()


def test_review_shows_a_field_level_diff_grouped_by_person(church: Church) -> None:
    run_id, synced = _held_with_edits(church, {0: {"last_name": "Reviewed"}})
    before = rock_person(church, synced[0].rock_person_id)["LastName"]
    result = cli(church, "review", str(run_id), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["run"]["status"] == "held"
    person = next(p for p in doc["people"] if p["rock_id"] == synced[0].rock_person_id)
    assert before in person["person"] and f"Rock {synced[0].rock_person_id}" in person["person"]
    op = person["operations"][0]
    assert op["side"] == "rock" and op["kind"] == "update" and op["status"] == "planned"
    field = next(f for f in op["fields"] if f["field"] == "last_name")
    assert (field["before"], field["after"]) == (before, "Reviewed")
    assert "edited on the other side" in field["why"]
    text = cli(church, "review", str(run_id))
    assert "Reviewed" in text.output and f"pcosync approve {run_id}" in text.output


def test_approve_applies_the_held_plan_and_the_next_run_writes_nothing(church: Church) -> None:
    run_id, synced = _held_with_edits(
        church, {1: {"last_name": "Approved"}, 2: {"middle_name": "Later"}}
    )
    assert rock_person(church, synced[1].rock_person_id)["LastName"] != "Approved"
    result = cli(church, "approve", str(run_id), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["status"] == "done" and out["updated"]["rock"] == 2 and out["stale"] == []
    assert rock_person(church, synced[1].rock_person_id)["LastName"] == "Approved"
    assert rock_person(church, synced[2].rock_person_id)["MiddleName"] == "Later"
    store = church.store()
    run = store.runs.get(run_id)
    statuses = {j.status for j in store.journal.list(run_id)}
    store.close()
    assert run is not None and run.status is RunStatus.DONE and run.reviewed_by
    assert statuses == {OpStatus.APPLIED}
    before = church.writes()
    again = church.sync()
    assert again.planned == 0 and church.writes() == before
    # approving twice is refused with a usage error
    assert cli(church, "approve", str(run_id)).exit_code == 2


def test_approve_skips_a_field_changed_since_the_hold_and_reports_it(church: Church) -> None:
    run_id, synced = _held_with_edits(
        church, {3: {"last_name": "Heldname", "nickname": "Heldnick"}, 4: {"nickname": "Fine"}}
    )
    changed = synced[3]
    # time passes: someone edits the Rock last name the held plan would overwrite
    church.rock_control(f"people/{changed.rock_person_id}", {"LastName": "Newerinrock"})
    result = approve(church, run_id)
    assert result.summary.status is RunStatus.DONE
    assert [(s.field, s.ref.rock_id) for s in result.stale] == [
        (FieldName.LAST_NAME, changed.rock_person_id)
    ]
    assert "changed after the run was held" in result.stale[0].message
    rock = rock_person(church, changed.rock_person_id)
    assert rock["LastName"] == "Newerinrock"  # left alone
    assert rock["NickName"] == "Heldnick"  # the other field of the same person applied
    assert rock_person(church, synced[4].rock_person_id)["NickName"] == "Fine"
    store = church.store()
    run = store.runs.get(run_id)
    store.close()
    assert run is not None and run.counts["stale"][0]["field"] == "last_name"


def test_partial_approve_with_only_and_skip(church: Church) -> None:
    run_id, synced = _held_with_edits(
        church, {5: {"nickname": "One"}, 6: {"nickname": "Two"}, 7: {"nickname": "Three"}}
    )
    one = _update_seq(church, run_id, synced[5].rock_person_id)
    result = cli(church, "approve", str(run_id), "--only", str(one), "--json")
    assert result.exit_code == 0, result.output
    assert rock_person(church, synced[5].rock_person_id)["NickName"] == "One"
    assert rock_person(church, synced[6].rock_person_id)["NickName"] != "Two"
    assert rock_person(church, synced[7].rock_person_id)["NickName"] != "Three"
    store = church.store()
    left = {j.seq: j for j in store.journal.list(run_id) if j.seq != one}
    store.close()
    assert left and all(j.status is OpStatus.SKIPPED for j in left.values())
    assert all("left out" in (j.error or "") for j in left.values())

    # --skip: the next held run carries the two left out; skip one of them
    held = church.sync(hold=True)
    three = _update_seq(church, held.run_id, synced[7].rock_person_id)
    assert approve(church, held.run_id, skip={three}).summary.status is RunStatus.DONE
    assert rock_person(church, synced[6].rock_person_id)["NickName"] == "Two"
    assert rock_person(church, synced[7].rock_person_id)["NickName"] != "Three"
    # an operation number that is not in the run is a usage error
    later = church.sync(hold=True)
    assert cli(church, "approve", str(later.run_id), "--only", "9999").exit_code == 2


def test_reject_writes_nothing(church: Church) -> None:
    run_id, synced = _held_with_edits(church, {8: {"last_name": "Rejected"}})
    before = church.writes()
    result = cli(church, "reject", str(run_id))
    assert result.exit_code == 0 and "rejected" in result.output
    assert church.writes() == before
    assert rock_person(church, synced[8].rock_person_id)["LastName"] != "Rejected"
    store = church.store()
    run = store.runs.get(run_id)
    ops = store.journal.list(run_id)
    store.close()
    assert run is not None and run.status is RunStatus.REJECTED
    assert ops and all(j.status is OpStatus.SKIPPED for j in ops)
    assert cli(church, "approve", str(run_id)).exit_code == 2


def test_a_held_first_sync_approved_links_creates_and_converges(church: Church) -> None:
    configure(church, safety={"update": {"percent": 0}, "create": {"percent": 0}})
    init_rock(church)
    held = church.sync()
    assert held.status is RunStatus.HELD
    result = cli(church, "approve", str(held.run_id), "--json")
    assert result.exit_code in (0, 3), result.output
    out = json.loads(result.output)
    assert out["created"]["rock"] == held.created["rock"] > 0
    synced = links(church)
    assert len(synced) > 20
    assert all(lk.rock_alias_id is not None for lk in synced)  # to follow Rock merges
    assert pco_person(church, synced[0].pco_person_id)["remote_id"] == synced[0].rock_person_id
    configure(church, safety={})
    before = church.writes()
    again = church.sync()
    assert again.planned == 0, again.as_dict()
    assert church.writes() == before
    # the approval settled what the held run had read: the next run is incremental, not a
    # second full read of everyone
    assert again.mode.value == "incremental"
    # an edit after the approved first sync propagates like any other
    church.pco_control(f"people/{synced[0].pco_person_id}", {"middle_name": "Afterwards"})
    church.sync()
    assert rock_person(church, synced[0].rock_person_id)["MiddleName"] == "Afterwards"


def test_runs_json_lists_the_held_run_newest_first_with_counts(church: Church) -> None:
    run_id, _ = _held_with_edits(church, {9: {"nickname": "Listed"}})
    result = cli(church, "runs", "--json")
    assert result.exit_code == 0
    runs = json.loads(result.output)
    assert runs[0]["id"] == run_id and runs[0]["status"] == "held"
    assert runs[0]["counts"]["updated"]["rock"] == 1


def test_approving_an_old_held_run_after_a_newer_sync_duplicates_no_one(church: Church) -> None:
    configure(church, safety={"create": {"percent": 0}})
    init_rock(church)
    held = church.sync()
    assert held.status is RunStatus.HELD and held.created["rock"] > 0
    configure(church, safety={})
    newer = church.sync()  # the same people are created and linked by a later run
    assert newer.created["rock"] == held.created["rock"]
    rock_before = len(church.rock_get("/api/People", **{"$select": "Id"}))
    result = approve(church, held.run_id)
    assert result.summary.created["rock"] == 0
    assert len(church.rock_get("/api/People", **{"$select": "Id"})) == rock_before
    assert any("linked after the run was held" in s.message for s in result.stale)


def test_approving_a_held_create_after_a_killed_run_had_made_that_person_duplicates_no_one(
    church: Church,
) -> None:
    """Simulation seed 1159: a later run created the person in Rock and was killed before
    the answer (its create in doubt); approving the held run created them a second time,
    because an approval did not settle what a dead run had sent."""
    configure(church, safety={"create": {"percent": 0}})
    init_rock(church)
    held = church.sync()
    assert held.status is RunStatus.HELD and held.created["rock"] > 0
    store = church.store()
    try:
        create = next(
            j.operation
            for j in store.journal.list(held.run_id)
            if j.operation.kind is OpKind.CREATE and j.operation.side is Side.ROCK
        )
        dead = store.runs.start(RunMode.INCREMENTAL)
        store.journal.record(dead.id, [replace(create, seq=1)])
        store.journal.mark_sent(dead.id, 1)  # the process died waiting for the answer
    finally:
        store.close()
    pco_id = str(create.ref.pco_id)
    assert create.record is not None

    async def made_by_the_dead_run() -> int:  # the create had landed, with its link hint
        async with church.rock() as rock:
            return await rock.create_person(
                {
                    "FirstName": create.record.first_name,
                    "LastName": create.record.last_name,
                    "ForeignKey": f"pcosync:pco:{pco_id}",
                }
            )

    made = asyncio.run(made_by_the_dead_run())
    configure(church, safety={})

    result = approve(church, held.run_id)

    carrying = church.rock_get(
        "/api/People", **{"$filter": f"ForeignKey eq 'pcosync:pco:{pco_id}'", "$select": "Id"}
    )
    assert [p["Id"] for p in carrying] == [made]
    assert result.summary.created["rock"] == held.created["rock"] - 1
    store = church.store()
    try:
        link = store.links.by_pco(pco_id)
        settled = store.journal.get(dead.id, 1)
    finally:
        store.close()
    assert link is not None and link.rock_person_id == made
    assert settled.status is OpStatus.APPLIED
    after = church.sync()
    store = church.store()
    try:
        ops = [j.operation for j in store.journal.list(after.run_id)]
    finally:
        store.close()
    # what the dead run's create had not written yet (its link id, the values after the
    # names) is completed on that one record; nobody is created
    assert ops and {(o.kind, o.ref.pco_id) for o in ops} <= {
        (OpKind.LINK, pco_id),
        (OpKind.UPDATE, pco_id),
    }
    assert church.sync().planned == 0


def test_approving_an_old_hold_writes_no_value_over_an_edit_that_restored_what_it_replaces(
    church: Church,
) -> None:
    """Simulation seed 1163: a held run would copy a Rock edit across; a later run copied
    it, then a person set the Planning Center value back to what the held plan expected to
    replace. Approving the old hold wrote the Rock value over that person's edit."""
    church.sync()
    link = links(church)[5]
    old = pco_person(church, link.pco_person_id)["middle_name"]
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": "Heldover"})
    held = church.sync(hold=True)
    assert held.status is RunStatus.HELD and held.updated["pco"] == 1
    church.sync()  # a later run copies it across
    assert pco_person(church, link.pco_person_id)["middle_name"] == "Heldover"
    church.pco_control("clock", {"advance_seconds": 60})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": old})  # put back

    result = approve(church, held.run_id)

    assert (pco_person(church, link.pco_person_id)["middle_name"] or None) == (old or None)
    assert result.summary.updated["pco"] == 0
    assert any("after the run was held" in s.message for s in result.stale)
    church.sync()  # the person's edit is the newest: it is copied to Rock
    assert (rock_person(church, link.rock_person_id)["MiddleName"] or None) == (old or None)


def _synced_with_agreed_middle_name(church: Church) -> tuple[Any, str | None]:
    """A first sync, then one linked person and the middle name both sides agree on."""
    church.sync()
    link = links(church)[5]
    return link, rock_person(church, link.rock_person_id)["MiddleName"] or None


def _rock_middle_name(church: Church, link: Any, value: str) -> None:
    """A person sets the middle name in Rock ("" empties it)."""
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": value})


def test_a_value_put_back_after_a_change_only_a_held_run_read_still_counts_as_an_edit(
    church: Church,
) -> None:
    """Simulation seed 1385: a Rock change was read only by a run held for review; a person
    then put the field back to the value both sides last agreed on, after Planning Center's
    value of it had changed. Compared with the base alone Rock looked untouched, so
    Planning Center's older value was copied over that later edit with no conflict kept.
    The held run's reading tells otherwise: both sides changed, the later edit wins and
    the other value is kept as a conflict."""
    link, agreed = _synced_with_agreed_middle_name(church)
    _rock_middle_name(church, link, "Heldover")
    held = church.sync(hold=True)
    assert held.status is RunStatus.HELD and held.updated["pco"] == 1
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Plannedside"})
    church.rock_control("clock", {"advance_seconds": 300})
    _rock_middle_name(church, link, agreed or "")

    after = church.sync()

    assert (rock_person(church, link.rock_person_id)["MiddleName"] or None) == agreed
    assert (pco_person(church, link.pco_person_id)["middle_name"] or None) == agreed
    assert after.conflicts == 1
    store = church.store()
    try:
        (kept,) = [c for c in store.journal.conflicts() if c.ref.link_id == link.id]
    finally:
        store.close()
    assert kept.field is FieldName.MIDDLE_NAME and kept.winner is Side.ROCK
    assert kept.pco_value == "Plannedside"
    church.sync()
    assert church.sync().planned == 0


def test_a_later_hold_that_reads_both_sides_agreeing_again_leaves_no_note_behind(
    church: Church,
) -> None:
    """Review of the seed 1385 fix: a held run noted Rock's change, the person put it back,
    a second held run read both sides agreeing and was approved (its approval stores no
    base for people it wrote nothing to). The first hold's note outlived it, so a genuine
    Planning Center edit made afterwards lost to Rock's older, unchanged value."""
    link, agreed = _synced_with_agreed_middle_name(church)
    _rock_middle_name(church, link, "Heldover")
    assert church.sync(hold=True).status is RunStatus.HELD
    church.rock_control("clock", {"advance_seconds": 60})
    _rock_middle_name(church, link, agreed or "")
    second = church.sync(hold=True)
    assert second.status is RunStatus.HELD
    approve(church, second.run_id)
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Genuine"})
    church.rock_control("clock", {"advance_seconds": 3600})
    church.rock_control(f"people/{link.rock_person_id}", {"NickName": "Touched"})

    after = church.sync()

    assert (pco_person(church, link.pco_person_id)["middle_name"] or None) == "Genuine"
    assert (rock_person(church, link.rock_person_id)["MiddleName"] or None) == "Genuine"
    assert after.conflicts == 0


def _middle_names(church: Church, link: Any) -> tuple[str | None, str | None]:
    return (
        rock_person(church, link.rock_person_id)["MiddleName"] or None,
        pco_person(church, link.pco_person_id)["middle_name"] or None,
    )


def test_approving_an_older_hold_writes_nothing_over_a_put_back_a_newer_hold_read(
    church: Church,
) -> None:
    """Review of the seed 1385 fix: hold 1 would copy Rock's edit; Planning Center's value
    changed (hold 2 read both); a person put Planning Center back to the agreed value.
    Approving hold 1 found Planning Center holding its "before" value again and wrote
    Rock's older value over the put-back, the newest edit of all."""
    link, agreed = _synced_with_agreed_middle_name(church)
    _rock_middle_name(church, link, "Rockside")
    first = church.sync(hold=True)
    assert first.status is RunStatus.HELD and first.updated["pco"] == 1
    church.pco_control("clock", {"advance_seconds": 120})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Pcoside"})
    second = church.sync(hold=True)
    assert second.status is RunStatus.HELD and second.conflicts == 1
    church.pco_control("clock", {"advance_seconds": 120})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": agreed or ""})

    result = approve(church, first.run_id)
    assert any("later run held for review" in s.message for s in result.stale)
    church.sync()

    assert _middle_names(church, link) == (agreed, agreed)
    assert church.sync().planned == 0


def test_a_put_back_after_a_hold_read_both_sides_changed_alike_is_the_later_edit(
    church: Church,
) -> None:
    """Review of the seed 1385 fix: a hold read both sides changed to the same value (no
    operation, so nothing was noted); Rock's person then put the field back. Planning
    Center's value was copied over that later edit with no conflict kept."""
    link, agreed = _synced_with_agreed_middle_name(church)
    _rock_middle_name(church, link, "Same")
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Same"})
    assert church.sync(hold=True).status is RunStatus.HELD
    church.rock_control("clock", {"advance_seconds": 300})
    _rock_middle_name(church, link, agreed or "")

    after = church.sync()

    assert _middle_names(church, link) == (agreed, agreed)
    assert after.conflicts == 1


def test_a_second_hold_reading_both_sides_agree_on_a_new_value_keeps_the_note(
    church: Church,
) -> None:
    """Review of cd6b245: hold 1 noted Rock's change, Planning Center's person made the same
    change, hold 2 read both agreeing on it and replaced the note with none; Rock's person
    then put the field back (the latest edit) and it was overwritten silently."""
    link, agreed = _synced_with_agreed_middle_name(church)
    _rock_middle_name(church, link, "Same")
    assert church.sync(hold=True).status is RunStatus.HELD
    church.pco_control("clock", {"advance_seconds": 60})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Same"})
    assert church.sync(hold=True).status is RunStatus.HELD
    church.rock_control("clock", {"advance_seconds": 300})
    _rock_middle_name(church, link, agreed or "")

    after = church.sync()

    assert _middle_names(church, link) == (agreed, agreed)
    assert after.conflicts == 1


def test_a_put_back_a_second_hold_read_is_still_the_later_edit(church: Church) -> None:
    """Third review of the seed 1385 fix: hold 1 read Rock's change; Planning Center's value
    changed; Rock's person put the field back (the latest edit); hold 2 read Rock back at
    the agreed value and its reading replaced hold 1's note. The next sync copied Planning
    Center's older value over the put-back with no conflict kept."""
    link, agreed = _synced_with_agreed_middle_name(church)
    _rock_middle_name(church, link, "Heldover")
    assert church.sync(hold=True).status is RunStatus.HELD
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Plannedside"})
    church.rock_control("clock", {"advance_seconds": 300})
    _rock_middle_name(church, link, agreed or "")
    assert church.sync(hold=True).status is RunStatus.HELD

    after = church.sync()

    assert _middle_names(church, link) == (agreed, agreed)
    assert after.conflicts == 1


def test_approving_an_older_hold_after_rejecting_a_newer_one_writes_its_edit(
    church: Church,
) -> None:
    """Third review of the seed 1385 fix: two holds read the same Rock edit; the newer one is
    rejected and the older approved. The approval left the write to "the next sync" and
    moved the watermarks past the edit, so no sync ever wrote it."""
    configure(church, sync={"lookback_minutes": 0})
    church.sync()
    link = links(church)[5]
    _rock_middle_name(church, link, "Rockside")
    church.rock_control("clock", {"advance_seconds": 5})
    church.pco_control("clock", {"advance_seconds": 5})
    first = church.sync(hold=True)
    assert first.status is RunStatus.HELD and first.updated["pco"] == 1
    second = church.sync(hold=True)
    assert second.status is RunStatus.HELD
    assert cli(church, "reject", str(second.run_id)).exit_code == 0

    result = approve(church, first.run_id)

    assert result.summary.updated["pco"] == 1
    assert _middle_names(church, link) == ("Rockside", "Rockside")
    assert church.sync().planned == 0


def test_approving_the_last_hold_that_read_a_put_back_clears_the_older_note(
    church: Church,
) -> None:
    """First review of the seed 1385 fix, with the notes kept until synced: hold 1 noted
    Rock's change; the person put it back; hold 2 read both sides agreeing and was
    approved. A genuine Planning Center edit made afterwards is then copied, not decided
    against Rock's older put-back by the records' modified times."""
    church.sync()
    link = links(church)[5]
    _rock_middle_name(church, link, "Heldover")
    assert church.sync(hold=True).status is RunStatus.HELD
    agreed = pco_person(church, link.pco_person_id)["middle_name"] or None
    church.rock_control("clock", {"advance_seconds": 60})
    _rock_middle_name(church, link, agreed or "")
    second = church.sync(hold=True)
    approve(church, second.run_id)
    store = church.store()
    try:
        assert store.links.load_bases([link.id])[link.id].held == frozenset()
    finally:
        store.close()


def _tick(seconds: float = 1.5) -> None:
    """Real time, so the watermarks pass the edits before (a jump of the emulators' clocks
    would make every record look newer than them, and every sync read both sides)."""
    time.sleep(seconds)


def test_approving_an_older_hold_after_approving_a_newer_one_writes_no_put_back_over(
    church: Church,
) -> None:
    """Fourth review of the seed 1385 fix: hold 1 would copy Rock's edit; the person put it
    back; hold 2 read both sides agreeing and was approved; approving hold 1 then wrote
    the edit to Planning Center although Rock no longer held it (the put-back was lost)."""
    configure(church, sync={"lookback_minutes": 0})
    link, agreed = _synced_with_agreed_middle_name(church)
    _rock_middle_name(church, link, "Heldover")
    _tick()
    first = church.sync(hold=True)
    assert first.status is RunStatus.HELD and first.updated["pco"] == 1
    _tick()
    _rock_middle_name(church, link, agreed or "")
    _tick()
    second = church.sync(hold=True)
    assert second.status is RunStatus.HELD
    approve(church, second.run_id)
    _tick()

    result = approve(church, first.run_id)

    assert result.summary.updated["pco"] == 0 and result.stale
    _tick()
    church.sync()
    assert _middle_names(church, link) == (agreed, agreed)


def test_an_approved_hold_that_read_both_sides_changed_alike_copies_a_later_put_back(
    church: Church,
) -> None:
    """Fourth review of the seed 1385 fix: the approval of a hold that read both sides
    changed alike wrote nothing, so the base kept the old value with both sides noted;
    Planning Center's person then put it back, and the next sync, which did not read Rock
    again, stood in the base for Rock: the two sides were left differing for good."""
    configure(church, sync={"lookback_minutes": 0})
    link, agreed = _synced_with_agreed_middle_name(church)
    _rock_middle_name(church, link, "Same")
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Same"})
    _tick()
    held = church.sync(hold=True)
    assert held.status is RunStatus.HELD
    approve(church, held.run_id)
    _tick()
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": agreed or ""})
    _tick()

    church.sync()

    assert _middle_names(church, link) == (agreed, agreed)


def test_an_approved_hold_that_read_both_sides_changed_alike_leaves_no_false_conflict(
    church: Church,
) -> None:
    """Fourth review of the seed 1385 fix: after such an approval an edit of another field
    made the unread side stand in with the old value, counted as changed: a conflict Rock
    never had, and a needless write."""
    configure(church, sync={"lookback_minutes": 0})
    church.sync()
    link = links(church)[5]
    _rock_middle_name(church, link, "Same")
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Same"})
    _tick()
    held = church.sync(hold=True)
    assert held.status is RunStatus.HELD
    approve(church, held.run_id)
    _tick()
    church.pco_control(f"people/{link.pco_person_id}", {"nickname": "Nicky"})
    _tick()

    after = church.sync()

    assert _middle_names(church, link) == ("Same", "Same")
    assert after.conflicts == 0 and after.updated["rock"] == 1
