"""``--data FILE``: the emulator's data survives a restart."""

from __future__ import annotations

from pathlib import Path

from tests.pco_emulator.helpers import client_for, control, create_person, jsonapi, running

PEOPLE = "/people/v2/people"


def test_data_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "pco.sqlite"
    with running(data=str(path)) as emu, client_for(emu.url) as api:
        before = control(emu.url, "info")
        person = create_person(api, first_name="Persisted", remote_id=31337, birthdate="1990-02-03")
        pid = person["id"]
        email = api.post(f"{PEOPLE}/{pid}/emails", json=jsonapi("Email", address="p@example.org"))
        other = api.get("/people/v2/emails").json()["data"][0]
        assert api.delete(f"/people/v2/emails/{other['id']}").status_code == 204
        control(emu.url, f"people/{pid}", {"nickname": "Perry"})
        services = control(emu.url, f"services/people/{pid}", {})
        team = api.get("/services/v2/teams").json()["data"][0]["id"]
        control(emu.url, f"teams/{team}/archive", {})
        sub = api.post(
            "/webhooks/v2/webhook_subscriptions",
            json=jsonapi(
                "WebhookSubscription",
                name="people.v2.events.person.created",
                url="http://127.0.0.1:9/hook",
            ),
        ).json()["data"]
    assert path.exists()

    with running(data=str(path), seed=99, people=50) as emu, client_for(emu.url) as api:
        after = control(emu.url, "info")
        again = api.get(f"{PEOPLE}/{pid}", params={"include": "emails"}).json()
        attrs = again["data"]["attributes"]
        assert (attrs["first_name"], attrs["nickname"], attrs["remote_id"], attrs["birthdate"]) == (
            "Persisted",
            "Perry",
            31337,
            "1990-02-03",
        )
        assert [e["id"] for e in again["included"]] == [email.json()["data"]["id"]]
        assert api.get(f"/people/v2/emails/{other['id']}").status_code == 404
        assert api.get(f"/services/v2/people/{pid}").json()["data"]["id"] == services["data"]["id"]
        assert api.get(f"/services/v2/teams/{team}").json()["data"]["attributes"]["archived_at"]
        kept = api.get(f"/webhooks/v2/webhook_subscriptions/{sub['id']}").json()["data"]
        assert kept["attributes"]["authenticity_secret"] == sub["attributes"]["authenticity_secret"]
        newer = create_person(api)
    # the file, not the new seed, decided what was loaded; ids keep growing
    assert after["seed"] == before["seed"]
    assert after["people"] == before["people"] + 1
    assert int(newer["id"]) > int(pid)


def test_reset_rewrites_the_data_file(tmp_path: Path) -> None:
    path = tmp_path / "pco.sqlite"
    with running(data=str(path)) as emu, client_for(emu.url) as api:
        create_person(api, last_name="Gone")
        fresh = control(emu.url, "reset", {"seed": 3, "people": 120})
    with running(data=str(path)) as emu, client_for(emu.url) as api:
        assert control(emu.url, "info")["people"] == fresh["people"]
        assert api.get(PEOPLE, params={"where[last_name]": "Gone"}).json()["data"] == []
