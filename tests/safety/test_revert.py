"""``pcosync revert``: undo an applied run from its before-images (issue #6 §3)."""

from __future__ import annotations

import asyncio
import json

from pcosync.clients.rock import Guids
from pcosync.store import RunMode, RunStatus
from tests.safety.conftest import Church, cli, links, pco_person, revert, rock_person


def test_revert_restores_values_and_leaves_a_later_edit_alone(church: Church) -> None:
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
    assert "Middle name" in result.left_alone[0] and str(b.rock_person_id) in result.left_alone[0]
    store = church.store()
    revert_run = store.runs.get(result.summary.run_id)
    original = store.runs.get(bad.run_id)
    store.close()
    assert revert_run is not None and revert_run.mode is RunMode.REVERT
    assert revert_run.reverts_run_id == bad.run_id
    assert revert_run.counts["left_alone"] == result.left_alone
    assert original is not None and original.status is RunStatus.REVERTED
    # the restored value reaches Planning Center on the next sync; the later edit too
    church.sync()
    assert pco_person(church, a.pco_person_id)["last_name"] == original_last
    assert pco_person(church, b.pco_person_id)["middle_name"] == "Corrected"
    # a reverted run cannot be reverted again; the revert can be inspected like any run
    assert cli(church, "revert", str(bad.run_id)).exit_code == 2
    shown = cli(church, "review", str(result.summary.run_id), "--json")
    assert shown.exit_code == 0
    kinds = {o["kind"] for p in json.loads(shown.output)["people"] for o in p["operations"]}
    assert kinds == {"update"}


def test_revert_of_a_created_person_unlinks_and_keeps_them(church: Church) -> None:
    first = church.sync()
    assert first.created["rock"] > 0
    store = church.store()
    created = [
        j.operation
        for j in store.journal.list(first.run_id)
        if j.operation.kind.value == "create" and j.status.value == "applied"
    ]
    store.close()
    made = created[0]
    rock_id, pco_id = made.ref.rock_id, made.ref.pco_id
    assert rock_id is not None and pco_id is not None

    result = cli(church, "revert", str(first.run_id), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert any(str(rock_id) in k and "kept" in k for k in out["kept"])
    assert len(out["kept"]) == len(created)
    # kept: the Rock person still exists; unlinked: no link in the store or on either record
    assert rock_person(church, rock_id)["Id"] == rock_id
    store = church.store()
    assert store.links.by_rock(rock_id) is None
    store.close()
    assert pco_person(church, pco_id)["remote_id"] is None

    async def link_value() -> str | None:
        async with church.rock() as rock:
            attr = await rock.ensure_attribute(Guids.ENTITY_PERSON, "PcoPersonId", "x")
            values = {v.entity_id: v.value for v in await rock.attribute_values(attr)}
            return values.get(rock_id) or None

    assert asyncio.run(link_value()) is None


def test_only_an_applied_run_can_be_reverted(church: Church) -> None:
    held = church.sync(hold=True)
    result = cli(church, "revert", str(held.run_id))
    assert result.exit_code == 2 and "only an applied run" in result.output
    assert cli(church, "revert", "999").exit_code == 2
