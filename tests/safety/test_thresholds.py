"""``[safety]`` thresholds hold a run before it writes (issue #6 §1), against both emulators."""

from __future__ import annotations

import pytest

from pcosync.app.safety import for_population, gate_config_from
from pcosync.config import SafetySettings, load_settings
from pcosync.domain.identity import PersonRef, Side
from pcosync.engine.gate import HoldCode, Population, gate
from pcosync.engine.merge import Reason
from pcosync.engine.plan import Operation, OpKind
from pcosync.errors import ConfigError
from pcosync.store import RunStatus
from tests.safety.conftest import Church, approve, configure, init_rock, links


def test_without_a_safety_section_the_first_sync_goes_through(church: Church) -> None:
    summary = church.sync()
    assert summary.status in (RunStatus.DONE, RunStatus.PARTIAL)
    assert summary.linked > 20


def test_zero_percent_holds_the_first_sync_and_writes_nothing(church: Church) -> None:
    configure(church, safety={"update": {"percent": 0}})
    init_rock(church)
    before = church.writes()
    summary = church.sync()
    assert summary.status is RunStatus.HELD and summary.exit_code == 4
    assert any("0% limit for updates" in r for r in summary.hold_reasons)
    assert church.writes() == before
    assert links(church) == []


def test_a_positive_percent_does_not_hold_the_first_sync(church: Church) -> None:
    # population 0: a share cannot be measured, so only 0 % and counts apply (documented)
    configure(church, safety={"create": {"percent": 5}, "update": {"percent": 5}})
    summary = church.sync()
    assert summary.status in (RunStatus.DONE, RunStatus.PARTIAL)


def test_create_count_cap_holds(church: Church) -> None:
    configure(church, safety={"create": {"max_count": 0}})
    summary = church.sync()
    assert summary.status is RunStatus.HELD
    assert any("limit of 0 creates per run" in r for r in summary.hold_reasons)
    assert summary.created["rock"] > 0  # what would have been created, for the review


def test_update_percent_holds_an_edit_heavy_run(church: Church) -> None:
    church.sync()
    synced = links(church)
    configure(church, safety={"update": {"percent": 10}})
    # a share of 10 % of the synced people: editing a fifth of them is held
    edited = synced[: len(synced) // 5 + 1]
    for link in edited:
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Bulk"})
    before = church.writes()
    summary = church.sync()
    assert summary.status is RunStatus.HELD
    assert any("limit for updates" in r and "Rock" in r for r in summary.hold_reasons)
    assert church.writes() == before
    # a small run under the same limit goes through
    configure(church, safety={"update": {"percent": 10}})
    store = church.store()
    store.runs.reject(summary.run_id, "test")
    store.close()
    for link in edited:
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": None})
    church.pco_control(f"people/{edited[0].pco_person_id}", {"middle_name": "Single"})
    small = church.sync()
    assert small.status is RunStatus.DONE, small.hold_reasons


def test_update_count_cap_holds(church: Church) -> None:
    church.sync()
    synced = links(church)
    configure(church, safety={"update": {"max_count": 1}})
    for link in synced[:2]:
        church.pco_control(f"people/{link.pco_person_id}", {"nickname": "Capped"})
    summary = church.sync()
    assert summary.status is RunStatus.HELD
    assert any("limit of 1 updates per run" in r for r in summary.hold_reasons)


def test_drop_guard_holds_when_planning_center_returns_far_fewer_people(church: Church) -> None:
    church.sync(full=True)
    synced = links(church)
    # archive a third of the serving people in Services: they drop out of scope
    for link in synced[: len(synced) // 3 + 1]:
        church.pco_control(f"services/people/{link.pco_person_id}/archive", {})
    summary = church.sync(full=True)
    assert summary.status is RunStatus.HELD
    assert any("fewer than the" in r for r in summary.hold_reasons)
    store = church.store()
    run = store.runs.get(summary.run_id)
    store.close()
    assert run is not None and run.status is RunStatus.HELD


def test_drop_guard_percent_is_configurable(church: Church) -> None:
    church.sync(full=True)
    synced = links(church)
    configure(church, safety={"drop_percent": 90})
    for link in synced[: len(synced) // 3 + 1]:
        church.pco_control(f"services/people/{link.pco_person_id}/archive", {})
    summary = church.sync(full=True)
    assert summary.status is not RunStatus.HELD


def _ops(kind: OpKind, n: int) -> list[Operation]:
    return [
        Operation(i + 1, kind, Side.PCO, PersonRef(i + 1, i + 1, str(i + 1)), Reason.EDIT)
        for i in range(n)
    ]


@pytest.mark.parametrize("key", ["remove", "archive"])
def test_remove_and_archive_limits_hold_removals(key: str) -> None:
    config = gate_config_from(SafetySettings.model_validate({key: {"percent": 5}}))
    pops = {Side.PCO: Population(100), Side.ROCK: Population(100)}
    held = gate(_ops(OpKind.ARCHIVE, 6), pops, config)
    assert held.held and held.reasons[0].code is HoldCode.THRESHOLD_PERCENT
    assert not gate(_ops(OpKind.ARCHIVE, 5), pops, config).held
    assert not gate(_ops(OpKind.UPDATE, 50), pops, config).held


def test_archive_and_remove_take_the_stricter_limit() -> None:
    config = gate_config_from(
        SafetySettings.model_validate(
            {"remove": {"percent": 50, "max_count": 3}, "archive": {"percent": 5}}
        )
    )
    assert config.remove.percent == 5 and config.remove.max_count == 3


def test_population_zero_keeps_zero_percent_and_caps() -> None:
    config = gate_config_from(
        SafetySettings.model_validate(
            {"create": {"percent": 10, "max_count": 7}, "update": {"percent": 0}}
        )
    )
    first = for_population(config, 0)
    assert first.create.percent is None and first.create.max_count == 7
    assert first.update.percent == 0
    assert for_population(config, 10) is config


def test_a_bad_safety_value_names_the_key_and_the_file(church: Church) -> None:
    configure(church, safety={"update": {"percent": 150}})
    with pytest.raises(ConfigError) as caught:
        load_settings(church.config)
    assert "safety.update.percent" in str(caught.value)
    assert str(church.config) in str(caught.value)


def test_the_brakes_init_writes_let_a_first_sync_through_and_hold_a_mass_change(
    church: Church,
) -> None:
    """Default [safety] (issue 15): a first sync writes the link id on every linked record,
    two updates a person, so a count cap would hold every first sync; it is set aside while
    nobody is synced. Then an update of more than 10 % of the synced people is held."""
    from pcosync.app.safety import DEFAULT_SAFETY

    configure(church, safety=DEFAULT_SAFETY)
    first = church.sync()
    assert first.status is RunStatus.DONE, first.hold_reasons
    synced = links(church)
    assert len(synced) * 2 > 50  # more link writes than the cap: set aside on a first sync
    config = for_population(gate_config_from(load_settings(church.config)), 0)
    assert config.update.max_count is None and config.remove.max_count == 50
    many = synced[: len(synced) // 10 + 2]
    for link in many:
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Bulkedit"})
    held = church.sync()
    assert held.status is RunStatus.HELD
    assert any("above the 10% limit for updates" in r for r in held.hold_reasons)


def test_an_approved_drop_is_the_next_baseline(church: Church) -> None:
    # simulation seed 8: approving the run held for a drop kept the old count as the
    # baseline, so every later full run was held again for the same drop, forever
    church.sync(full=True)
    synced = links(church)
    for link in synced[: len(synced) // 3 + 1]:
        church.pco_control(f"services/people/{link.pco_person_id}/archive", {})
    held = church.sync(full=True)
    assert held.status is RunStatus.HELD
    approve(church, held.run_id)
    again = church.sync(full=True)
    assert again.status is not RunStatus.HELD, again.hold_reasons
