"""The control API: reset, stats, faults (including Rock's HTML error page), the data file,
and the seeded church shared with the Planning Center emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pcosync.emulators.rock.app import DEFAULT_API_KEY, create_app
from pcosync.emulators.seed import generate_church
from pcosync.emulators.server import BackgroundServer
from tests.conftest import TEST_SEED, RunningEmulator
from tests.rock_emulator.helpers import some_person


def test_info_lists_ids_guids_and_credentials(rock: httpx.Client) -> None:
    info = rock.get("/__emulator__/info").json()
    assert info["admin_login"] == {"username": "admin", "password": "admin"}
    assert info["api_key"] == DEFAULT_API_KEY
    assert info["guids"]["grouptype:family"] == "790e3215-3b10-442b-af69-616c0dcb998e"
    family_type = rock.get(f"/api/GroupTypes/{info['ids']['grouptype:family']}").json()
    assert family_type["Guid"] == info["guids"]["grouptype:family"]
    assert info["ids"]["dv:record_type:person"] != 1  # install-specific, as on a real server


def test_reset_builds_a_new_church(rock: httpx.Client) -> None:
    before = rock.get("/__emulator__/info").json()
    r = rock.post("/__emulator__/reset", json={"seed": 7, "people": 40})
    assert r.status_code == 200
    after = r.json()
    assert after["seed"] == 7 and after["people"] < before["people"]
    assert len(rock.get("/api/People").json()) == after["people"] - 1  # anonymous visitor
    assert rock.post("/__emulator__/reset", json={"people": "many"}).status_code == 400


def test_stats_count_api_requests(rock: httpx.Client) -> None:
    rock.delete("/__emulator__/stats")
    rock.get("/api/People", params={"$top": "1"})
    rock.get("/api/Groups/1")
    stats = rock.get("/__emulator__/stats").json()
    assert stats["requests"] == 2
    assert stats["by_route"]["GET /api/Groups/{id}"] == 1


def test_error_fault_answers_like_rock(rock: httpx.Client) -> None:
    rock.post(
        "/__emulator__/faults", json={"faults": [{"kind": "error", "status": 500, "count": 1}]}
    )
    r = rock.get("/api/People", params={"$top": "1"})
    assert r.status_code == 500 and r.json() == {"Message": "An error has occurred."}
    assert rock.get("/api/People", params={"$top": "1"}).status_code == 200


def test_a_fault_can_start_after_some_requests_went_through(rock: httpx.Client) -> None:
    """A key revoked mid-run: the first two matching requests pass, then 401 with Rock's
    empty body; other requests are untouched."""
    rule = {"kind": "error", "status": 401, "path": "/api/People", "after": 2}
    rock.post("/__emulator__/faults", json={"faults": [rule]})
    statuses = [rock.get("/api/People", params={"$top": "1"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 401, 401]
    assert rock.get("/api/Campuses").status_code == 200
    rock.delete("/__emulator__/faults")


@pytest.mark.parametrize("status", [200, 500])
def test_html_error_page_fault(rock: httpx.Client, status: int) -> None:
    r = rock.post(
        "/__emulator__/faults",
        json={
            "faults": [
                {
                    "kind": "error",
                    "status": status,
                    "body": "html",
                    "path": "/api/People",
                    "count": 1,
                }
            ]
        },
    )
    assert r.status_code == 200
    page = rock.get("/api/People")
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Rock - Error</title>" in page.text
    assert "An error has occurred while processing your request" in page.text
    assert (
        rock.get("/api/People", params={"$top": "1"})
        .headers["content-type"]
        .startswith("application/json")
    )


def test_unknown_fault_body_is_rejected(rock: httpx.Client) -> None:
    r = rock.post("/__emulator__/faults", json={"faults": [{"kind": "error", "body": "xml"}]})
    assert r.status_code == 400


def test_group_member_ui_actions(
    rock: httpx.Client, ids: dict[str, int], rock_emulator: RunningEmulator
) -> None:
    person = some_person(rock, ids)
    added = rock.post(
        "/__emulator__/group-members",
        json={"GroupId": ids["group:serving_teams"], "PersonId": person["Id"]},
    )
    assert added.status_code == 201
    member = rock.get(f"/api/GroupMembers/{added.json()['Id']}").json()
    assert member["GroupRoleId"] == ids["role:serving_team:member"]  # the type's default role
    removed = rock.delete(f"/__emulator__/group-members/{member['Id']}")
    assert removed.json() == {"Id": member["Id"], "archived": True}
    assert rock.get(f"/api/GroupMembers/{member['Id']}").status_code == 404
    bad = rock.post(f"/__emulator__/people/{person['Id']}", json={"FullName": "x"})
    assert bad.status_code == 400 and "FullName" in bad.json()["error"]


def test_seeded_people_match_the_planning_center_side(
    rock: httpx.Client, rock_emulator: RunningEmulator
) -> None:
    church = generate_church(TEST_SEED, 200)
    emu = rock_emulator.app.state.emulator
    shared = [p for p in church.people if p.in_pco and p.in_rock]
    assert shared
    checked = 0
    for seeded in shared:
        rock_id = emu.person_id_for_seed_key(seeded.key)
        assert rock_id is not None
        person = rock.get(f"/api/People/{rock_id}").json()
        assert (person["FirstName"], person["LastName"]) == (
            seeded.pco.first_name,
            seeded.pco.last_name,
        )
        assert person["Email"] == seeded.rock.email
        if seeded.rock.email == seeded.pco.email:
            checked += 1
        if seeded.rock.birthdate:
            assert person["BirthDate"] == seeded.rock.birthdate.isoformat() + "T00:00:00"
    assert checked > len(shared) // 2
    only_pco = [p for p in church.people if p.in_pco and not p.in_rock]
    assert all(emu.person_id_for_seed_key(p.key) is None for p in only_pco)


def test_seeded_households_are_families_with_addresses_and_phones(
    rock: httpx.Client, rock_emulator: RunningEmulator, ids: dict[str, int]
) -> None:
    church = generate_church(TEST_SEED, 200)
    emu = rock_emulator.app.state.emulator
    seeded = next(
        p
        for p in church.rock_people()
        if p.rock.address and p.rock.mobile and p.duplicate_of is None
    )
    pid = emu.person_id_for_seed_key(seeded.key)
    person = rock.get(f"/api/People/{pid}").json()
    home = rock.get(
        "/api/GroupLocations",
        params={
            "$filter": f"GroupId eq {person['PrimaryFamilyId']} and GroupLocationTypeValueId eq "
            f"{ids['dv:location_type:home']}",
            "$expand": "Location",
        },
    ).json()
    assert home[0]["Location"]["Street1"] == seeded.rock.address.street_line_1
    assert home[0]["Location"]["PostalCode"] == seeded.rock.address.zip
    mobile = rock.get(
        "/api/PhoneNumbers",
        params={
            "$filter": f"PersonId eq {pid} and NumberTypeValueId eq {ids['dv:phone_type:mobile']}"
        },
    ).json()
    assert mobile[0]["Number"] == seeded.rock.mobile.removeprefix("+1")
    assert mobile[0]["CountryCode"] == "1"
    status = "active" if seeded.rock.active else "inactive"
    assert person["RecordStatusValueId"] == ids[f"dv:record_status:{status}"]


@pytest.fixture
def data_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "rock.db"


def test_data_file_keeps_changes_across_restarts(data_file: Path) -> None:
    headers = {"Authorization-Token": DEFAULT_API_KEY}
    first = create_app(seed=5, people=40, data=str(data_file))
    with BackgroundServer(first) as url, httpx.Client(base_url=url, headers=headers) as rock:
        pid = rock.post("/api/People", json={"FirstName": "Kept", "LastName": "OnDisk"}).json()
        rock.patch(f"/api/People/{pid}", json={"NickName": "Persisted"})
        rock.post("/__emulator__/rest-keys", json={"key": "second-key", "view": ["People"]})
        # written through already: a second instance on the same file sees it now
        second = create_app(seed=99, people=5, data=str(data_file))
        data = second.state.emulator.data
        row = data.get("Person", pid)
        assert row is not None and data.val("Person", row, "NickName") == "Persisted"
    third = create_app(data=str(data_file))
    with BackgroundServer(third) as url, httpx.Client(base_url=url, headers=headers) as rock:
        person = rock.get(f"/api/People/{pid}").json()
        assert (person["NickName"], person["PrimaryAliasId"] is not None) == ("Persisted", True)
        assert rock.get("/__emulator__/info").json()["seed"] == 5  # the file wins
        new = rock.post("/api/People", json={"FirstName": "After", "LastName": "Restart"}).json()
        assert new > pid  # identities are never reused
        limited = rock.get(
            "/api/People/GetCurrentPerson", headers={"Authorization-Token": "second-key"}
        )
        assert limited.status_code == 200


def test_memory_is_the_default(rock_emulator: RunningEmulator) -> None:
    assert rock_emulator.app.state.emulator.file is None
