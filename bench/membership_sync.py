"""Benchmark: team-position membership sync at 300 teams, 1,000 positions, 8,000 assignments.

Both emulators run in their own processes with a seeded church of about 9,400 people: 300
teams (a few archived or soft-deleted, as in any church), 1,000 positions, about 8,000
assignments. The teams are imported into Rock, a first full sync links the serving people
and fills the Rock groups from Planning Center. Then both sides change, as between two runs:
in Rock, linked people join positions and some leave, and a few people who exist in Planning
Center but not in Services join a position (so they must be matched, linked and given
Services); in Planning Center, linked people are assigned and unassigned. The measured run
is the next ``sync --full``; then a no-change incremental run, right after it and again past
the look-back window.

PCO requests are counted per route by the emulator (``/__emulator__/stats``) and grouped
into families. Lower bound for the membership part of a full run (spec §8(b)): the teams
sweep ⌈T/100⌉ + Services people ⌈Nₛ/100⌉ + one request per Planning Center membership write
the changes need (an assignment created or deleted, the Services app given to a person).
The sync takes the team structure from the sweep; folders and service types are read by the
import only. For a no-change run: ⌈T/100⌉ + 1 Services-people page (there is no timestamp
filter or webhook for team or assignment changes, spec §5.11, §8(c)), plus 5 for the people
part (§8(c)). Emulator latency is 0 and the PCO limit is raised to 5,000 requests / 20 s:
request counts are what is measured; the PCO floor (requests ÷ 5 per second) is what the
real limit would make of them.

    .venv/bin/python -m bench.membership_sync [--teams 300] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.sync_initial import free_port, stats, wait_for
from pcosync.app.context import open_connection
from pcosync.app.people_sync import RunSummary, SyncOptions
from pcosync.app.teams import Action, TeamImport
from pcosync.config import load_settings, write_settings
from pcosync.domain.identity import GroupKind
from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
from pcosync.emulators.rock.app import DEFAULT_API_KEY
from pcosync.store import Store
from pcosync.store.links import GroupLinkStatus, LinkStatus

RESULTS = Path(__file__).parent / "results"
SEED = 41
WRITES = ("POST", "PATCH", "PUT", "DELETE")
PTPA = "person_team_position_assignments"
# families that make up the membership figure (the people sync's own reads and writes are
# reported beside it)
MEMBERSHIP = (
    "teams sweep",
    "Services people",
    "assignment writes",
    "assignment re-reads",
    "person_apps",
    "Services person look-ups",
    "Services other",
)
FAMILIES = (*MEMBERSHIP, "people reads", "people writes", "other")


def family(route: str) -> str:
    """The family of an emulator route key (``GET /services/v2/teams/{id}/…``)."""
    method, path = route.split(" ", 1)
    if path == "/services/v2/teams":
        return "teams sweep"
    if path == "/services/v2/people":
        return "Services people"
    if PTPA in path:
        return "assignment re-reads" if method == "GET" else "assignment writes"
    if path.endswith("/person_apps") or path == "/people/v2/apps":
        return "person_apps"  # the PersonApp writes and the Services app id they need
    if path.startswith("/services/v2/people/"):
        return "Services person look-ups"
    if path.startswith("/services/v2/"):
        return "Services other"
    if path.startswith("/people/v2/"):
        return "people reads" if method == "GET" else "people writes"
    return "other"


def start(kind: str, church: str, port: int) -> subprocess.Popen[bytes]:
    extra = ", rate_limit=5000" if kind == "pco" else ""
    code = (
        f"from pcosync.emulators.{kind}.app import create_app;"
        "from pcosync.emulators.server import serve_forever;"
        f"serve_forever(create_app({church}{extra}), '127.0.0.1', {port})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def pco_pages(http: httpx.Client, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a PCO list (the bench's own reads, outside the measured runs)."""
    offset = 0
    while True:
        doc = http.get(path, params={**params, "per_page": 100, "offset": offset}).json()
        yield doc
        offset += 100
        if offset >= doc["meta"]["total_count"]:
            return


def total(http: httpx.Client, path: str) -> int:
    return int(http.get(path, params={"per_page": 1}).json()["meta"]["total_count"])


def sweep(http: httpx.Client) -> tuple[dict[str, tuple[str, str]], dict[tuple[str, str], str]]:
    """Position id → (team id, service type id); (person, position) → assignment id."""
    positions: dict[str, tuple[str, str]] = {}
    assigned: dict[tuple[str, str], str] = {}
    for doc in pco_pages(
        http, "/services/v2/teams", include="team_positions,person_team_position_assignments"
    ):
        service_type = {
            t["id"]: t["relationships"]["service_type"]["data"]["id"] for t in doc["data"]
        }
        for inc in doc.get("included", []):
            rel = inc.get("relationships", {})
            if inc["type"] == "TeamPosition":
                team = rel["team"]["data"]["id"]
                positions[inc["id"]] = (team, service_type[team])
            elif inc["type"] == "PersonTeamPositionAssignment":
                key = (rel["person"]["data"]["id"], rel["team_position"]["data"]["id"])
                assigned[key] = inc["id"]
    return positions, assigned


async def import_teams(config: Path) -> dict[str, int]:
    settings = load_settings(config)
    async with open_connection(settings) as conn:
        teams = TeamImport(conn.store, conn.rock_client, conn.pco_client, settings.teams)
        plan = await teams.apply_import(await teams.plan_import())
        return {a.value: plan.count(a) for a in Action if plan.count(a)}


async def run_sync(config: Path, full: bool) -> RunSummary:
    async with open_connection(load_settings(config)) as conn:
        return await conn.people.run(SyncOptions(full=full))


def by_family(routes: dict[str, int]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for route, n in routes.items():
        out[family(route)] += n
    return {f: out[f] for f in FAMILIES if out[f]}


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    b, a = before["by_route"], after["by_route"]
    return {k: v - b.get(k, 0) for k, v in sorted(a.items()) if v - b.get(k, 0)}


def measure(label: str, pco: str, rock: str, work: Any) -> tuple[dict[str, Any], Any]:
    p0, r0 = stats(pco), stats(rock)
    started = time.perf_counter()
    out = work()
    wall = time.perf_counter() - started
    p1, r1 = stats(pco), stats(rock)
    pco_routes, rock_routes = delta(p0, p1), delta(r0, r1)
    families = by_family(pco_routes)
    result = {
        "run": label,
        "wall_s": round(wall, 1),
        "pco_requests": p1["requests"] - p0["requests"],
        "pco_writes": sum(n for k, n in pco_routes.items() if k.split(" ")[0] in WRITES),
        "pco_membership_requests": sum(n for f, n in families.items() if f in MEMBERSHIP),
        "pco_families": families,
        "pco_routes": pco_routes,
        "pco_429s": p1["throttled"] - p0["throttled"],
        "rock_requests": r1["requests"] - r0["requests"],
        "rock_writes": sum(n for k, n in rock_routes.items() if k.split(" ")[0] in WRITES),
        "rock_routes": rock_routes,
    }
    if isinstance(out, RunSummary):
        result["summary"] = out.as_dict()
    return result, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teams", type=int, default=300, help="positions and people scale")
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args()
    teams = args.teams
    # 300 teams → 1,000 positions; 31 canonical people per team → about 8,000 assignments
    positions = round(teams * 10 / 3)
    church = f"seed={SEED}, people={teams * 31}, teams={teams}, positions={positions}"
    rng = random.Random(SEED)

    pco_port, rock_port = free_port(), free_port()
    pco, rock = f"http://127.0.0.1:{pco_port}", f"http://127.0.0.1:{rock_port}"
    servers = [start("pco", church, pco_port), start("rock", church, rock_port)]
    pco_http = httpx.Client(base_url=pco, auth=(DEFAULT_APP_ID, DEFAULT_SECRET), timeout=60)
    rock_http = httpx.Client(
        base_url=rock, headers={"Authorization-Token": DEFAULT_API_KEY}, timeout=60
    )
    try:
        wait_for(pco)
        wait_for(rock)
        work = Path(tempfile.mkdtemp(prefix="pcosync-members-"))
        pco_campuses = {
            c["attributes"]["name"]: c["id"]
            for c in pco_http.get("/people/v2/campuses").json()["data"]
        }
        rock_campuses = {c["Name"]: c["Id"] for c in rock_http.get("/api/Campuses").json()}
        config = work / "pcosync.toml"
        write_settings(
            config,
            {
                "rock": {"url": rock, "api_key": DEFAULT_API_KEY},
                "pco": {"url": pco, "app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET},
                "state": {"url": "sqlite:///state.db"},
                "sync": {"lookback_minutes": 1},
                "teams": {"parent_group_name": "Serving Teams"},
                "campus_map": [
                    {"name": n, "rock_id": rock_campuses[n], "pco_id": pco_campuses[n]}
                    for n in pco_campuses
                    if n in rock_campuses
                ],
            },
        )
        if args.latency_ms:
            for url in (pco, rock):
                httpx.post(
                    f"{url}/__emulator__/faults",
                    json={"faults": [{"kind": "latency", "ms": args.latency_ms}]},
                )
        position_of, assigned_before = sweep(pco_http)
        sizes = {
            "teams": total(pco_http, "/services/v2/teams"),
            "positions": len(position_of),
            "assignments": len(assigned_before),
            "services_people": total(pco_http, "/services/v2/people"),
            "pco_people": total(pco_http, "/people/v2/people"),
        }

        imported, counts = measure(
            "teams import", pco, rock, lambda: asyncio.run(import_teams(config))
        )
        imported["groups"] = counts
        first, _ = measure(
            "first sync (links people, fills Rock groups)",
            pco,
            rock,
            lambda: asyncio.run(run_sync(config, full=True)),
        )
        # past the one-minute look-back, so the incremental runs below do not re-read the
        # first sync's writes (a run reads changes since the previous run's start − 1 min)
        time.sleep(75)

        # ---- changes on both sides between two runs
        settings = load_settings(config)
        store = Store.open(settings.state_url())
        links = store.links.all(LinkStatus.ACTIVE)
        groups = store.groups.all(kind=GroupKind.TEAM_POSITION, status=GroupLinkStatus.ACTIVE)
        bases = store.links.load_memberships()
        store.close()
        link_by_id = {lk.id: lk for lk in links}
        group_by_id = {g.id: g for g in groups}
        _, assigned = sweep(pco_http)
        pos = {g.id: g.pco_id.split(":", 1)[1] for g in groups}

        # ordered by Planning Center ids (store ids follow the order writes finished in), so
        # the same seed picks the same changes on every run
        def order(pair: tuple[int, int]) -> tuple[int, int]:
            return int(link_by_id[pair[0]].pco_person_id), int(pos[pair[1]])

        members = sorted(
            ((lid, gid) for lid, gid in bases if lid in link_by_id and gid in group_by_id),
            key=order,
        )
        rng.shuffle(members)
        n_rock_removes = n_pco_removes = n_pco_adds = teams // 3
        n_volunteers = teams // 15
        n_rock_adds = teams - n_volunteers
        rock_removes = members[:n_rock_removes]
        pco_removes = members[n_rock_removes : n_rock_removes + n_pco_removes]
        taken = set(bases)
        link_ids = sorted(link_by_id, key=lambda lid: int(link_by_id[lid].pco_person_id))
        group_ids = sorted(group_by_id, key=lambda gid: int(pos[gid]))
        adds: list[tuple[int, int]] = []
        while len(adds) < n_rock_adds + n_pco_adds:
            pair = (rng.choice(link_ids), rng.choice(group_ids))
            person = link_by_id[pair[0]].pco_person_id
            if pair not in taken and (person, pos[pair[1]]) not in assigned:
                taken.add(pair)
                adds.append(pair)
        rock_adds, pco_adds = adds[:n_rock_adds], adds[n_rock_adds:]

        for lid, gid in rock_adds:
            rock_http.post(
                "/__emulator__/group-members",
                json={
                    "GroupId": group_by_id[gid].rock_group_id,
                    "PersonId": link_by_id[lid].rock_person_id,
                },
            ).raise_for_status()
        for lid, gid in rock_removes:
            rows = rock_http.get(
                "/api/GroupMembers",
                params={
                    "$filter": f"GroupId eq {group_by_id[gid].rock_group_id} and "
                    f"PersonId eq {link_by_id[lid].rock_person_id}"
                },
            ).json()
            for row in rows:
                rock_http.delete(f"/__emulator__/group-members/{row['Id']}").raise_for_status()
        for lid, gid in pco_adds:
            _team, st = position_of[pos[gid]]
            pco_http.post(
                f"/services/v2/service_types/{st}/team_positions/{pos[gid]}/{PTPA}",
                json={
                    "data": {
                        "type": "PersonTeamPositionAssignment",
                        "attributes": {"person_id": int(link_by_id[lid].pco_person_id)},
                    }
                },
            ).raise_for_status()
        for lid, gid in pco_removes:
            _team, st = position_of[pos[gid]]
            ptpa = assigned[(link_by_id[lid].pco_person_id, pos[gid])]
            pco_http.delete(
                f"/services/v2/service_types/{st}/team_positions/{pos[gid]}/{PTPA}/{ptpa}"
            ).raise_for_status()
        volunteers = new_volunteers(pco_http, rock_http, links, n_volunteers)
        volunteer_groups = [rng.choice(group_ids) for _ in volunteers]
        for rock_id, gid in zip(volunteers, volunteer_groups, strict=True):
            rock_http.post(
                "/__emulator__/group-members",
                json={"GroupId": group_by_id[gid].rock_group_id, "PersonId": rock_id},
            ).raise_for_status()
        changes = {
            "rock_adds_linked": len(rock_adds),
            "rock_adds_not_in_services": len(volunteers),
            "rock_removes": len(rock_removes),
            "pco_adds": len(pco_adds),
            "pco_removes": len(pco_removes),
        }
        # teams that get a Planning Center write: a re-read of each before its first write
        # is the safety net of adapters/memberships.py
        written = [g for _, g in rock_adds + rock_removes] + volunteer_groups
        teams_written = len({position_of[pos[g]][0] for g in written})

        full, _ = measure(
            "full sync (memberships changed on both sides)",
            pco,
            rock,
            lambda: asyncio.run(run_sync(config, full=True)),
        )
        time.sleep(75)
        # its look-back window still holds the full sync's writes, so it re-reads them
        echo, _ = measure(
            "next incremental (re-reads the full sync's writes)",
            pco,
            rock,
            lambda: asyncio.run(run_sync(config, full=False)),
        )
        # nothing written anywhere since 1 min before the previous run started
        quiet, _ = measure(
            "no-change incremental",
            pco,
            rock,
            lambda: asyncio.run(run_sync(config, full=False)),
        )
    finally:
        pco_http.close()
        rock_http.close()
        for s in servers:
            s.terminate()
            s.wait(timeout=10)

    sweep_pages = math.ceil(sizes["teams"] / 100)
    services_pages = math.ceil(sizes["services_people"] / 100)
    # Planning Center membership writes the changes need: an assignment per Rock add, a
    # deletion per Rock removal, the Services app for each person who is not in Services yet
    needed = len(rock_adds) + len(rock_removes) + 2 * len(volunteers)
    full["lower_bound"] = {
        "teams_sweep": sweep_pages,
        "services_people": services_pages,
        "membership_writes": needed,
        "membership": sweep_pages + services_pages + needed,
        # the whole run: plus every PCO person with includes, person mergers, one link write
        # per newly matched person
        "run": sweep_pages
        + services_pages
        + needed
        + math.ceil(sizes["pco_people"] / 100)
        + 1
        + len(volunteers),
    }
    full["membership_ratio"] = round(
        full["pco_membership_requests"] / full["lower_bound"]["membership"], 3
    )
    full["teams_written"] = teams_written
    for r in (echo, quiet):
        r["lower_bound"] = {"membership": sweep_pages + 1, "run": sweep_pages + 1 + 5}
    for r in (imported, first, full, echo, quiet):
        r["pco_floor_s"] = round(r["pco_requests"] / 5, 1)
    result = {
        "church": {**sizes, "seed": SEED, "canonical_people": teams * 31},
        "changes": changes,
        "latency_ms": args.latency_ms,
        "pco_rate_limit": "5000 / 20 s",
        "runs": [imported, first, full, echo, quiet],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "membership_sync.json").write_text(json.dumps(result, indent=2))
    report(result)


def new_volunteers(
    pco_http: httpx.Client, rock_http: httpx.Client, links: list[Any], wanted: int
) -> list[int]:
    """Rock people who are plainly the same as a Planning Center person outside Services
    (same email and last name, unique on both sides): joining a Rock position group makes
    them in scope, so the sync links them and gives them Services before assigning."""
    in_services = {
        p["id"] for doc in pco_pages(pco_http, "/services/v2/people") for p in doc["data"]
    }
    linked_pco = {lk.pco_person_id for lk in links}
    linked_rock = {lk.rock_person_id for lk in links}
    pco_by_key: dict[tuple[str, str], list[str]] = {}
    for doc in pco_pages(pco_http, "/people/v2/people", include="emails"):
        emails = {e["id"]: e["attributes"]["address"] for e in doc.get("included", [])}
        for p in doc["data"]:
            for ref in p["relationships"]["emails"]["data"]:
                key = (emails[ref["id"]].lower(), str(p["attributes"]["last_name"]).lower())
                pco_by_key.setdefault(key, []).append(p["id"])
    rock_by_key: dict[tuple[str, str], list[int]] = {}
    for row in rock_http.get(
        "/api/People", params={"$select": "Id,Email,LastName,RecordStatusValueId"}
    ).json():
        if row.get("Email"):
            key = (str(row["Email"]).lower(), str(row["LastName"]).lower())
            rock_by_key.setdefault(key, []).append(int(row["Id"]))
    out: list[int] = []
    for key, pco_ids in sorted(pco_by_key.items()):
        rock_ids = rock_by_key.get(key, [])
        if len(pco_ids) != 1 or len(rock_ids) != 1:
            continue
        if pco_ids[0] in in_services or pco_ids[0] in linked_pco or rock_ids[0] in linked_rock:
            continue
        out.append(rock_ids[0])
        if len(out) == wanted:
            break
    return out


def report(result: dict[str, Any]) -> None:
    c = result["church"]
    print(
        f"teams {c['teams']}, positions {c['positions']}, assignments {c['assignments']}, "
        f"Services people {c['services_people']}, PCO people {c['pco_people']}; "
        f"changes {result['changes']}; latency {result['latency_ms']} ms"
    )
    print(
        "| run | PCO requests | membership part | lower bound (membership / run) | ratio | "
        "PCO writes | Rock requests | Rock writes | wall s | PCO floor s | 429s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in result["runs"]:
        bound = r.get("lower_bound", {})
        print(
            f"| {r['run']} | {r['pco_requests']} | {r['pco_membership_requests']} | "
            f"{bound.get('membership', '-')} / {bound.get('run', '-')} | "
            f"{r.get('membership_ratio', '-')} | {r['pco_writes']} | {r['rock_requests']} | "
            f"{r['rock_writes']} | {r['wall_s']} | {r['pco_floor_s']} | {r['pco_429s']} |"
        )
    print()
    for r in result["runs"]:
        print(f"{r['run']}: {r['pco_families']}")
        if "summary" in r:
            s = r["summary"]
            print(
                f"  linked {s['linked']}, created R/P {s['created']['rock']}/"
                f"{s['created']['pco']}, memberships {s['memberships']}, notes {len(s['notes'])}"
            )


if __name__ == "__main__":
    main()
