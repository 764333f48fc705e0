"""Building situations in the seeded church that the sync must report, not guess."""

from __future__ import annotations

import httpx

from tests.sync.conftest import Church

PERSON_RECORD_TYPE = "36CF10D6-C695-413D-8E7C-4546EFEF385E"  # Rock's "Person" record type


def contested(
    church: Church, service_type: str, position: str, nicknames: tuple[str, str] = ("Ada", "Ada")
) -> str:
    """A new Planning Center person (Ada Quill), serving on ``position``, and two Rock people
    with her email and last name (duplicates, with these nicknames): a sync cannot link her
    safely and opens a match issue naming all three. Returns her Planning Center id."""
    email, last = "quill.twins@example.org", "Quill"
    with httpx.Client(base_url=church.pco_url, auth=(church.app_id, church.secret)) as http:
        made = http.post(
            "/people/v2/people",
            json={
                "data": {"type": "Person", "attributes": {"first_name": "Ada", "last_name": last}}
            },
        )
        made.raise_for_status()
        pid = made.json()["data"]["id"]
        http.post(
            f"/people/v2/people/{pid}/emails",
            json={
                "data": {
                    "type": "Email",
                    "attributes": {"address": email, "location": "Home", "primary": True},
                }
            },
        ).raise_for_status()
        church.pco_control(f"services/people/{pid}", {})
        http.post(
            f"/services/v2/service_types/{service_type}/team_positions/{position}"
            "/person_team_position_assignments",
            json={
                "data": {
                    "type": "PersonTeamPositionAssignment",
                    "attributes": {"person_id": int(pid)},
                }
            },
        ).raise_for_status()
    person_type = church.rock_get(
        "/api/DefinedValues", **{"$filter": f"Guid eq guid'{PERSON_RECORD_TYPE}'"}
    )[0]["Id"]
    with httpx.Client(
        base_url=church.rock_url, headers={"Authorization-Token": church.api_key}
    ) as http:
        for nick in nicknames:  # the same first name: nothing vetoes the match
            http.post(
                "/api/People",
                json={
                    "FirstName": "Ada",
                    "NickName": nick,
                    "LastName": last,
                    "Email": email,
                    "IsSystem": False,
                    "Gender": 2,
                    "RecordTypeValueId": person_type,
                },
            ).raise_for_status()
    return str(pid)


def band_position(church: Church) -> tuple[str, str]:
    """(service type id, position id) of a position on the seeded Band team."""
    doc = church.pco_get("/services/v2/teams/6600001/team_positions")
    team = church.pco_get("/services/v2/teams/6600001")["data"]
    service_type = team["relationships"]["service_type"]["data"]["id"]
    return str(service_type), str(doc["data"][0]["id"])
