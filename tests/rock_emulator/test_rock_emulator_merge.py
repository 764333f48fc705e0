"""Spec §3.3: merging people — aliases follow the survivor, memberships move (duplicates in the
same group go), the old row is deleted, nothing's ModifiedDateTime changes, a MERGE history row."""

from __future__ import annotations

from typing import Any

import httpx

from tests.rock_emulator.helpers import freeze, local_text, some_person, utc


def _pair(rock: httpx.Client, ids: dict[str, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    keep = some_person(rock, ids)
    dup_id = rock.post(
        "/api/People",
        json={"FirstName": keep["FirstName"], "LastName": keep["LastName"], "Email": keep["Email"]},
    ).json()
    return keep, rock.get(f"/api/People/{dup_id}").json()


def test_merge_follows_rock(rock: httpx.Client, ids: dict[str, int]) -> None:
    keep, dup = _pair(rock, ids)
    team = ids["group:serving_teams"]
    for pid in (keep["Id"], dup["Id"]):  # both in the same group with the same role
        assert (
            rock.post(
                "/__emulator__/group-members", json={"GroupId": team, "PersonId": pid}
            ).status_code
            == 201
        )
    leader = rock.post(
        "/__emulator__/group-members",
        json={
            "GroupId": team,
            "PersonId": dup["Id"],
            "GroupRoleId": ids["role:serving_team:leader"],
        },
    ).json()["Id"]
    survivor_before = rock.get(f"/api/People/{keep['Id']}").json()
    members_before = {
        m["Id"]: m
        for m in rock.get(
            "/api/GroupMembers", params={"$filter": f"PersonId eq {dup['Id']}"}
        ).json()
    }
    freeze(rock, utc(2026, 5, 1, 12, 0, 0))

    r = rock.post("/__emulator__/merge", json={"keep": keep["Id"], "remove": dup["Id"]})
    assert r.status_code == 200, r.text
    assert r.json()["memberships_removed"] == 1

    assert rock.get(f"/api/People/{dup['Id']}").status_code == 404
    via_alias = rock.get(f"/api/People/GetByPersonAliasId/{dup['PrimaryAliasId']}")
    assert via_alias.status_code == 200 and via_alias.json()["Id"] == keep["Id"]
    alias = rock.get(f"/api/PersonAlias/{dup['PrimaryAliasId']}").json()
    assert alias["PersonId"] == keep["Id"]
    survivor = rock.get(f"/api/People/{keep['Id']}").json()
    assert survivor["PrimaryAliasId"] == keep["PrimaryAliasId"]
    assert survivor["ModifiedDateTime"] == survivor_before["ModifiedDateTime"]

    members = rock.get(
        "/api/GroupMembers", params={"$filter": f"PersonId eq {keep['Id']} and GroupId eq {team}"}
    ).json()
    roles = sorted(m["GroupRoleId"] for m in members)
    assert roles == sorted([ids["role:serving_team:member"], ids["role:serving_team:leader"]])
    moved = next(m for m in members if m["Id"] == leader)
    assert moved["ModifiedDateTime"] == members_before[leader]["ModifiedDateTime"]  # raw SQL

    history = rock.get(
        "/api/Histories", params={"$filter": f"EntityId eq {keep['Id']} and Verb eq 'MERGE'"}
    ).json()
    assert len(history) == 1
    assert history[0]["RelatedEntityId"] == dup["Id"]
    assert history[0]["CreatedDateTime"] == local_text(utc(2026, 5, 1, 12, 0, 0))


def test_merge_with_chosen_values_saves_the_survivor_first(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    keep, dup = _pair(rock, ids)
    freeze(rock, utc(2026, 5, 2, 12, 0, 0))
    r = rock.post(
        "/__emulator__/merge",
        json={"keep": keep["Id"], "remove": dup["Id"], "changes": {"NickName": "Chosen"}},
    )
    assert r.status_code == 200
    survivor = rock.get(f"/api/People/{keep['Id']}").json()
    assert survivor["NickName"] == "Chosen"
    assert survivor["ModifiedDateTime"] == local_text(utc(2026, 5, 2, 12, 0, 0))


def test_merge_moves_phones_the_survivor_lacks(rock: httpx.Client, ids: dict[str, int]) -> None:
    keep, dup = _pair(rock, ids)
    work = rock.post(
        "/api/PhoneNumbers",
        json={
            "PersonId": dup["Id"],
            "Number": "9195550123",
            "NumberTypeValueId": ids["dv:phone_type:work"],
        },
    ).json()
    keep_has_work = rock.get(
        "/api/PhoneNumbers",
        params={
            "$filter": f"PersonId eq {keep['Id']} and NumberTypeValueId eq "
            f"{ids['dv:phone_type:work']}"
        },
    ).json()
    rock.post("/__emulator__/merge", json={"keep": keep["Id"], "remove": dup["Id"]})
    phone = rock.get(f"/api/PhoneNumbers/{work}")
    if keep_has_work:
        assert phone.status_code == 404
    else:
        assert phone.json()["PersonId"] == keep["Id"]


def test_merge_answers_404_for_unknown_people(rock: httpx.Client) -> None:
    r = rock.post("/__emulator__/merge", json={"keep": 1, "remove": 999999})
    assert r.status_code == 404 and "error" in r.json()
