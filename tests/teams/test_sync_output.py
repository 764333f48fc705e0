"""Team-membership counts in the console summary of ``pcosync sync``, over real HTTP."""

from __future__ import annotations

import json
import re

import httpx

from tests.teams.conftest import TeamsChurch
from tests.teams.test_membership_sync import BAND, links, pco_roster, rock_members, team_positions

ROW = re.compile(r"team memberships (added|removed)( \(would be\))?\s+(\d+)\s+(\d+)")


def membership_rows(output: str, *, planned: bool) -> dict[str, dict[str, int]]:
    """The console's membership rows, shaped like ``as_dict()["memberships"]``; each row
    says "(would be)" exactly when the run only planned them."""
    rows: dict[str, dict[str, int]] = {}
    for m in ROW.finditer(output):
        assert bool(m[2]) is planned, output
        rows[m[1]] = {"rock": int(m[3]), "pco": int(m[4])}
    return rows


def stored_counts(tc: TeamsChurch, run_id: int) -> dict[str, dict[str, int]]:
    store = tc.c.store()
    try:
        run = store.runs.get(run_id)
        assert run is not None
        counts: dict[str, dict[str, int]] = dict(run.counts)["memberships"]
        return counts
    finally:
        store.close()


def run_id(output: str) -> int:
    found = re.search(r"^Run (\d+) ", output, re.M)
    assert found, output
    return int(found[1])


def test_sync_prints_planned_then_applied_membership_counts(tc: TeamsChurch) -> None:
    imported = tc.cli("teams", "import")
    assert imported.exit_code == 0, imported.output

    # dry run: the planned counts, as --json reports them
    planned = json.loads(tc.cli("sync", "--dry-run", "--json").stdout)["memberships"]
    assert planned["added"]["rock"] > 0, planned
    dry = tc.cli("sync", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert membership_rows(dry.output, planned=True) == planned

    # held: nothing written, the same plan shown
    held = tc.cli("sync", "--hold")
    assert held.exit_code == 4, held.output
    assert membership_rows(held.output, planned=True) == planned
    assert tc.cli("reject", str(run_id(held.output))).exit_code == 0

    # applied: what was done, as the run recorded it
    applied = tc.cli("sync")
    assert applied.exit_code == 0, applied.output
    done = membership_rows(applied.output, planned=False)
    assert done == stored_counts(tc, run_id(applied.output))
    assert done["added"]["rock"] == planned["added"]["rock"]

    # a Rock member made inactive: one assignment removed in Planning Center
    position = max(team_positions(tc, BAND), key=lambda p: len(pco_roster(tc, BAND, p)))
    group = {ref: gid for gid, ref in tc.attribute("PcoId").items()}[f"TeamPosition:{position}"]
    leaving = links(tc)[sorted(pco_roster(tc, BAND, position))[0]]
    member = rock_members(tc, group)[leaving]
    with httpx.Client(
        base_url=tc.c.rock_url, headers={"Authorization-Token": tc.c.api_key}
    ) as http:
        resp = http.patch(f"/api/GroupMembers/{member['Id']}", json={"GroupMemberStatus": 0})
        resp.raise_for_status()
    removed = tc.cli("sync")
    assert removed.exit_code == 0, removed.output
    assert membership_rows(removed.output, planned=False) == {
        "added": {"rock": 0, "pco": 0},
        "removed": {"rock": 0, "pco": 1},
    }

    # nothing to do: no membership rows at all
    quiet = tc.cli("sync")
    assert quiet.exit_code == 0, quiet.output
    assert "people created" in quiet.output
    assert "team memberships" not in quiet.output
