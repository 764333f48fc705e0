"""A scenario drawn from a seed: a church, then a schedule of people's edits, runs, reviews,
reverts, faults and crashes. :func:`run_seed` plays it on a virtual clock, quiesces, and
checks the invariants (:mod:`tests.sim.invariants`).

Everything random comes from ``random.Random(seed)`` (the schedule) and from a second
stream for what happens *during* the play (edits between requests, network latency), so a
seed replays exactly: ``make sim SEED=n``.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pcosync.app.revert import revert
from pcosync.app.review import approve, reject
from pcosync.app.summary import RunSummary, SyncOptions
from pcosync.app.teams import TeamImport, import_teams
from pcosync.domain.fields import FieldName, field_spec
from pcosync.domain.identity import GroupRef
from pcosync.domain.person import Address
from pcosync.errors import PcoSyncError
from pcosync.store import Store
from pcosync.store.runs import RunStatus
from tests.sim.vloop import run_virtual
from tests.sim.world import Req, SimProcess, World, build_world, map_campuses

TIERS = {
    # people in the church, runs in the schedule, edits at quiet moments
    "test": {"people": (5, 12), "runs": (1, 2), "edits": (2, 8), "teams": (2, 4)},
    "sim": {"people": (5, 60), "runs": (3, 7), "edits": (3, 16), "teams": (2, 10)},
    "big": {"people": (60, 300), "runs": (3, 6), "edits": (5, 30), "teams": (8, 20)},
}

FIRSTS = ["Ann", "Bea", "Cal", "Dee", "Eli", "Fay", "Gus", "Hal", "Ida", "Jo"]
LASTS = ["Quill", "Reed", "Stone", "Thorn", "Vale", "Wren"]
STREETS = ["1 Elm St", "22 Oak Ave", "303 Pine Rd", "4 Birch Ln"]
SIDES = ["pco", "rock"]
RETRY_AFTERS: list[Any] = [1, 3, "0", "-3", None, "soon", "2.5", 40]


@dataclass
class Event:
    t: float
    kind: str  # edit | member | run | review | revert | faults | clear | merge | team
    args: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        bits = ", ".join(f"{k}={v}" for k, v in self.args.items() if v not in (None, False))
        return f"t={self.t:7.1f}s {self.kind}{' ' + bits if bits else ''}"


@dataclass
class Scenario:
    seed: int
    tier: str
    people: int
    events: list[Event]
    mid_run_edit_rate: float  # chance a person edits something before any one request
    update_limit: int | None  # [safety] update max_count: runs with more are held
    teams: int = 8
    positions_per_team: int = 2
    postgres: bool = False

    def describe(self, limit: int = 14) -> str:
        lines = [
            f"church of {self.people} people on {self.teams} teams of {self.positions_per_team} "
            f"positions, {len(self.events)} events, edits mid-run at "
            f"{self.mid_run_edit_rate:.0%} of requests, update brake {self.update_limit}, "
            f"store {'PostgreSQL' if self.postgres else 'SQLite'}"
        ]
        shown = self.events if len(self.events) <= limit else self.events[:limit]
        lines += ["  " + e.line() for e in shown]
        if len(shown) < len(self.events):
            lines.append(f"  … and {len(self.events) - len(shown)} more")
        return "\n".join(lines)


def generate(seed: int, tier: str = "test", postgres: bool = False) -> Scenario:
    rng = random.Random(seed)
    spec = TIERS[tier]
    people = rng.randint(*spec["people"])
    teams = rng.randint(*spec["teams"])
    positions = rng.randint(1, 3)
    events: list[Event] = [Event(0.0, "import"), Event(1.0, "run", {"full": True})]
    t = 30.0
    for _ in range(rng.randint(*spec["runs"])):
        t += rng.uniform(20, 400)
        for _ in range(rng.randint(*spec["edits"]) // 2 + 1):
            events.append(Event(t - rng.uniform(1, 19), rng.choice(["edit"] * 4 + ["member"])))
        if rng.random() < 0.25:
            events.append(Event(t - rng.uniform(1, 19), "create", {"side": rng.choice(SIDES)}))
        if rng.random() < 0.12:
            events.append(Event(t - rng.uniform(1, 19), "merge", {"side": rng.choice(SIDES)}))
        if rng.random() < 0.05:
            events.append(Event(t - rng.uniform(1, 19), "delete", {"side": "pco"}))
        if rng.random() < 0.1:
            events.append(Event(t - rng.uniform(1, 19), "team", {"action": "delete"}))
            events.append(Event(t + rng.uniform(20, 200), "team", {"action": "restore"}))
        if rng.random() < 0.4:
            events.append(Event(t - 0.5, "faults", {"rules": _faults(rng)}))
            events.append(Event(t + rng.uniform(5, 90), "clear"))
        crash = rng.random() < 0.3
        args = {
            "full": rng.random() < 0.2,
            "hold": rng.random() < 0.1,
            "crash_at": rng.randint(1, 80) if crash else None,
            "crash_after": crash and rng.random() < 0.5,
        }
        events.append(Event(t, "run", args))
        if rng.random() < 0.3:  # an overlapping run, waiting for the lease or refused
            events.append(Event(t + rng.uniform(0.1, 4), "run", {"wait": rng.random() < 0.5}))
        if rng.random() < 0.5:
            events.append(Event(t + rng.uniform(10, 15), "review", {"approve": rng.random() < 0.7}))
        if rng.random() < 0.12:
            events.append(
                Event(
                    t + rng.uniform(16, 19),
                    "revert",
                    {
                        "mode": rng.choice(["apply", "apply", "dry_run", "hold", "cancel"]),
                        "crash_at": rng.randint(1, 30) if rng.random() < 0.2 else None,
                    },
                )
            )
    events.sort(key=lambda e: e.t)
    return Scenario(
        seed,
        tier,
        people,
        events,
        mid_run_edit_rate=rng.choice([0.0, 0.01, 0.03, 0.08]),
        update_limit=rng.choice([None, None, None, 3, 8]),
        teams=teams,
        positions_per_team=positions,
        postgres=postgres,
    )


def _faults(rng: random.Random) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["5xx", "html", "429", "timeout", "lost", "drop"])
        side = rng.choice(["pco", "rock"])
        if kind == "5xx":
            rule = {"kind": "error", "status": rng.choice([500, 502, 503]), "rate": 0.1}
        elif kind == "html":
            rule = {"kind": "error", "status": 500, "count": 2}
            if side == "rock":
                rule["body"] = "html"
        elif kind == "429":
            rule = {
                "kind": "rate_limit",
                "count": rng.randint(1, 4),
                "retry_after": rng.choice(RETRY_AFTERS),
            }
        elif kind == "timeout":
            rule = {"kind": "timeout", "seconds": 120, "count": 1, "after": rng.randint(0, 20)}
        elif kind == "lost":  # the write happened, its answer never came
            rule = {
                "kind": rng.choice(["timeout", "drop"]),
                "seconds": 120,
                "after_apply": True,
                "method": rng.choice(["POST", "PATCH", "PUT", "DELETE"]),
                "count": 1,
            }
        else:
            rule = {"kind": "drop", "rate": 0.05, "count": 2}
        rules.append({"side": side, **rule})
    return rules


# ------------------------------------------------------------------------------ playing


@dataclass
class Edit:
    """One person's edit as it landed (re-read from the side it was made on)."""

    t: float
    side: str
    record: str
    field: FieldName
    value: Any
    before: Any = None
    twin: str | None = None  # the linked record on the other side when it was made

    def ids(self) -> set[tuple[str, str]]:
        other = "pco" if self.side == "rock" else "rock"
        return {(self.side, self.record)} | ({(other, self.twin)} if self.twin else set())

    def line(self) -> str:
        return f"t={self.t:.1f}s {self.side} person {self.record} {self.field.value}"


@dataclass
class MemberEdit:
    t: float
    side: str
    group: GroupRef
    record: str
    member: bool


@dataclass
class Outcome:
    seed: int
    scenario: Scenario
    violations: list[str] = field(default_factory=list)
    edits: int = 0
    faults: int = 0
    crashes: int = 0
    runs: int = 0
    seconds: float = 0.0

    def ok(self) -> bool:
        return not self.violations

    def report(self) -> str:
        out = [f"seed {self.seed}: {len(self.violations)} invariant violation(s)"]
        out += ["  VIOLATED: " + v for v in self.violations[:8]]
        out.append(self.scenario.describe())
        flags = f" TIER={self.scenario.tier}" if self.scenario.tier != "sim" else ""
        out.append(f"replay: make sim SEED={self.seed}{flags}")
        return "\n".join(out)


class Play:
    """The scenario being played in one world."""

    def __init__(self, scenario: Scenario, world: World, state_url: str) -> None:
        self.sc = scenario
        self.world = world
        self.rng = random.Random(scenario.seed * 7919 + 1)  # what happens during the play
        self.state_url = state_url
        self.edits: list[Edit] = []
        self.member_edits: list[MemberEdit] = []
        self.faults = 0
        self.runs = 0
        self.tasks: list[SimProcess] = []
        self.mid_run_edits = 0
        self.violations: list[str] = []
        self.reverts: list[tuple[float, int]] = []  # (time, revert run id)
        self._store: Store | None = None
        self._editing = False
        self.quiet = False
        self.start_pco: set[int] = set()
        self.start_rock: set[int] = set()
        self.merged_pco: set[int] = set()  # merged away (or deleted) by a person
        self.merged_rock: set[int] = set()
        self.final_cache: dict[tuple[str, str], Any] = {}
        self.created: list[tuple[str, str]] = []  # people a person created (side, id)
        # (time, side, kept, removed) merged or deleted by a person
        self.merges: list[tuple[float, str, str, str]] = []
        self.deleted_teams: list[int] = []
        self.link_history: dict[tuple[str, str], set[tuple[str, str]]] | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.state_url, clock=self.world.now, upgrade=False)
        return self._store

    # ---------------------------------------------------------------- people editing
    async def between_requests(self, world: World, req: Req) -> None:
        if self.quiet or self._editing or self.mid_run_edits >= 12:
            return
        if self.rng.random() < self.sc.mid_run_edit_rate:
            self.mid_run_edits += 1
            await self.edit("member" if self.rng.random() < 0.2 else "edit")

    async def edit(self, kind: str) -> None:
        self._editing = True
        try:
            assert self.world.human is not None
            await self.world.human.unfaulted(
                self.edit_member if kind == "member" else self.edit_person
            )
        finally:
            self._editing = False

    def _linked(self) -> list[tuple[str, str]]:
        try:
            links = self.store.links.all()
        except Exception:  # the store is not there yet
            return []
        return [(str(lk.rock_person_id), str(lk.pco_person_id)) for lk in links]

    def _pick_person(self, side: str) -> str | None:
        linked = self._linked()
        if linked and self.rng.random() < 0.85:
            pair = self.rng.choice(linked)
            return pair[0] if side == "rock" else pair[1]
        if side == "pco":
            emu = self.world.pco_emu
            ids = sorted({a.person_id for a in emu.store.assignments.values()})
            return str(self.rng.choice(ids)) if ids else None
        return None

    def _value(self, name: FieldName, current: Any) -> Any:
        r = self.rng
        if name is FieldName.FIRST_NAME:
            return r.choice(FIRSTS)
        if name is FieldName.NICKNAME:
            # the nickname equal to the first name is a case of its own (seed 5)
            return r.choice([None, "Sam", "Bo", getattr(current, "first_name", None)])
        if name is FieldName.MIDDLE_NAME:
            return r.choice([None, "Lee", "Mae"])
        if name is FieldName.LAST_NAME:
            return r.choice(LASTS)
        if name is FieldName.GENDER:
            return r.choice(["male", "female"])
        if name in (FieldName.BIRTHDATE, FieldName.ANNIVERSARY):
            if r.random() < 0.2:
                return None
            return date(r.randint(1950, 2010), r.randint(1, 12), r.randint(1, 28))
        if name is FieldName.EMAIL:
            return None if r.random() < 0.1 else f"p{r.randint(1, 99999)}@example.org"
        if name in (FieldName.MOBILE_PHONE, FieldName.HOME_PHONE, FieldName.WORK_PHONE):
            return None if r.random() < 0.15 else f"+1214555{r.randint(0, 9999):04d}"
        if name is FieldName.HOME_ADDRESS:
            return Address(
                r.choice(STREETS), None, "Dallas", "TX", f"75{r.randint(100, 299)}", "US"
            )
        if name is FieldName.CAMPUS:
            names = [c.name for c in self.world.settings.campus_map]
            return r.choice([None, *names])
        raise AssertionError(name)

    async def edit_person(self) -> None:
        human = self.world.human
        assert human is not None
        side = self.rng.choice(["rock", "pco"])
        record = self._pick_person(side)
        if record is None:
            return
        adapter = human.rock if side == "rock" else human.pco
        name = self.rng.choice(list(FieldName))
        try:
            if side == "rock":
                await human.rock_ready()
            current = await adapter.fetch_one(record)
            if current is None:
                return
            value = self._value(name, current.person)
            if field_spec(name).same(getattr(current.person, name.value), value):
                return  # no change: not an edit anyone could see
            seen = await adapter.update_person(record, {name: value})
        except PcoSyncError:
            return  # the UI refused it (or the person is gone): no edit was made
        if field_spec(name).same(
            getattr(seen.person, name.value), getattr(current.person, name.value)
        ):
            # it landed as what was there (a nickname typed equal to the first name reads as
            # none): no edit anyone could see, and no sync could tell it happened (seeds 664,
            # 713 and 773 at 0662013 counted it, then a real edit from the other side "lost" it)
            return
        twin = None
        for rock_id, pco_id in self._linked():
            if (side, record) in (("rock", rock_id), ("pco", pco_id)):
                twin = pco_id if side == "rock" else rock_id
        self.edits.append(
            Edit(
                self.world.loop.time(),
                side,
                record,
                name,
                getattr(seen.person, name.value),
                getattr(current.person, name.value),
                twin,
            )
        )

    async def edit_member(self) -> None:
        human = self.world.human
        assert human is not None
        try:
            groups = self.store.groups.all()
        except Exception:
            return
        groups = [g for g in groups if g.pco_id.startswith("TeamPosition:")]
        linked = self._linked()
        if not groups or not linked:
            return
        link = self.rng.choice(groups)
        group = GroupRef(link.id, link.rock_group_id, link.pco_id)
        side = self.rng.choice(["rock", "pco"])
        pair = self.rng.choice(linked)
        record = pair[0] if side == "rock" else pair[1]
        member = self.rng.random() < 0.6
        writer: Any = human.rock_members if side == "rock" else human.pco_members
        try:
            if member:
                await writer.add_member(group, record)
            else:
                await writer.remove_member(group, record)
        except PcoSyncError:
            return
        self.member_edits.append(MemberEdit(self.world.loop.time(), side, group, record, member))

    # ---------------------------------------------------------------- people's bigger acts
    async def structural(self, ev: Event) -> None:
        try:
            if ev.kind == "create":
                await self.create_person(ev.args["side"])
            elif ev.kind == "merge":
                await self.merge_people(ev.args["side"])
            elif ev.kind == "delete":
                await self.delete_person()
            elif ev.kind == "team":
                await self.team(ev.args["action"])
        except PcoSyncError:
            return  # refused, as the UI would have: nothing happened

    def _groups(self) -> list[GroupRef]:
        try:
            links = self.store.groups.all()
        except Exception:
            return []
        return [
            GroupRef(g.id, g.rock_group_id, g.pco_id)
            for g in links
            if g.pco_id.startswith("TeamPosition:") and g.status.value == "active"
        ]

    async def create_person(self, side: str) -> None:
        """Someone new starts serving: a new person, put on a synced position."""
        human = self.world.human
        assert human is not None
        groups = self._groups()
        if not groups:
            return
        group = self.rng.choice(groups)
        n = self.rng.randint(1, 99999)
        first, last = self.rng.choice(FIRSTS), f"{self.rng.choice(LASTS)}{n}"
        email = f"new{n}@example.org"
        if side == "pco":
            made = await human.pco_client.create_person({"first_name": first, "last_name": last})
            await human.pco_client.create_email(made.id, email, location="Home", primary=True)
            await human.pco_members.add_member(group, made.id)
            self.created.append(("pco", made.id))
        else:
            ids = await human.rock_ready()
            rid = await human.rock_client.create(
                "People",
                {
                    "FirstName": first,
                    "NickName": first,
                    "LastName": last,
                    "Email": email,
                    "IsSystem": False,
                    "Gender": 0,
                    "RecordTypeValueId": ids.person_record_type,
                },
            )
            await human.rock_members.add_member(group, rid)
            self.created.append(("rock", str(rid)))

    async def merge_people(self, side: str) -> None:
        """Two records of one person merged in the web UI (the second one goes)."""
        human = self.world.human
        assert human is not None
        if side == "pco":
            ids = sorted(self.world.pco_emu.store.people.rows)
            ids = [i for i in ids if i != self.world.pco_emu.store.pat_user_id]
        else:
            data = self.world.rock_emu.data
            known = data.ids.values
            staff = {known.get("person:admin"), known.get("person:rest")}
            person_type = known.get("dv:record_type:person")
            ids = sorted(
                row[0]
                for row in data.table("Person")
                if row[0] not in staff
                and not data.val("Person", row, "IsSystem")
                and data.val("Person", row, "RecordTypeValueId") == person_type
            )
        if len(ids) < 2:
            return
        keep, remove = self.rng.sample(ids, 2)
        status, _ = await human.control(side, "POST", "merge", {"keep": keep, "remove": remove})
        if status < 300:
            (self.merged_pco if side == "pco" else self.merged_rock).add(remove)
            self.merges.append((self.world.loop.time(), side, str(keep), str(remove)))

    async def delete_person(self) -> None:
        human = self.world.human
        assert human is not None
        linked = self._linked()
        if not linked:
            return
        _rock, pco = self.rng.choice(linked)
        await human.pco_client.http.request("DELETE", f"/people/v2/people/{pco}")
        self.merged_pco.add(int(pco))
        self.merges.append((self.world.loop.time(), "pco", "", pco))

    async def team(self, action: str) -> None:
        emu = self.world.pco_emu
        if action == "delete":
            live = sorted(t.id for t in emu.store.teams.rows.values() if t.deleted_at is None)
            if live:
                tid = self.rng.choice(live)
                emu.set_team_state(tid, "delete")
                self.deleted_teams.append(tid)
        elif self.deleted_teams:
            emu.set_team_state(self.deleted_teams.pop(0), "restore")

    # ---------------------------------------------------------------- commands
    def spawn(self, name: str, work: Any, crash_at: int | None = None, after: bool = False) -> None:
        name = f"{name}{len(self.world.processes)}" if name in ("review", "revert") else name
        proc = self.world.process(name, crash_at, after)
        self.tasks.append(proc)
        proc.task = asyncio.ensure_future(
            self.world.in_process(proc, lambda conn: work(conn, proc))
        )

    async def do(self, ev: Event) -> None:
        w = self.world
        if ev.kind == "import":
            self.spawn("import", self._import)
            await self._settle()
        elif ev.kind in ("edit", "member"):
            await self.edit(ev.kind)
        elif ev.kind in ("create", "merge", "delete", "team"):
            assert w.human is not None
            await w.human.unfaulted(lambda: self.structural(ev))
        elif ev.kind == "run":
            self.runs += 1
            opts = SyncOptions(
                full=ev.args.get("full", False),
                hold=ev.args.get("hold", False),
                wait=ev.args.get("wait", False),
            )
            self.spawn(
                f"sync{self.runs}",
                lambda conn, proc: self._sync(conn, proc, opts),
                ev.args.get("crash_at"),
                ev.args.get("crash_after", False),
            )
        elif ev.kind == "review":
            self.spawn("review", lambda conn, proc: self._review(conn, proc, ev.args["approve"]))
        elif ev.kind == "revert":
            self.spawn(
                "revert",
                lambda conn, proc: self._revert(conn, proc, ev.args["mode"]),
                ev.args.get("crash_at"),
            )
        elif ev.kind == "faults":
            by_side: dict[str, list[dict[str, Any]]] = {"pco": [], "rock": []}
            for rule in ev.args["rules"]:
                rule = dict(rule)
                by_side[rule.pop("side")].append(rule)
            for side, rules in by_side.items():
                emu = w.pco_emu if side == "pco" else w.rock_emu
                emu.control.set_faults(rules, seed=self.rng.randint(0, 10**6))
        elif ev.kind == "clear":
            self._clear_faults()

    def _clear_faults(self) -> None:
        for emu in (self.world.pco_emu, self.world.rock_emu):
            self.faults += sum(emu.control.stats.faults_fired.values())
            emu.control.stats.faults_fired.clear()
            emu.control.rules = []

    async def _settle(self) -> None:
        """Wait until every process has finished or died."""
        for proc in list(self.tasks):
            await proc.done.wait()

    async def _import(self, conn: Any, proc: SimProcess) -> Any:
        teams = TeamImport(conn.store, conn.rock_client, conn.pco_client, self.world.settings.teams)
        return await import_teams(teams, wait=True)

    async def _sync(self, conn: Any, proc: SimProcess, opts: SyncOptions) -> RunSummary:
        summary = await conn.people.run(opts)
        proc.run_ids.append(summary.run_id)
        return summary

    async def _review(self, conn: Any, proc: SimProcess, ok: bool) -> Any:
        held = conn.store.runs.list(status=RunStatus.HELD)
        if not held:
            return None
        run = held[0]
        if ok:
            proc.run_ids.append(run.id)
            result = await approve(conn.people, run.id, wait=True)
            return result.summary
        reject(conn.store, run.id, by="sim")
        return None

    async def _revert(self, conn: Any, proc: SimProcess, mode: str) -> Any:
        applied = [
            r
            for r in conn.store.runs.list()
            if r.status in (RunStatus.DONE, RunStatus.PARTIAL)
            and not r.dry_run
            and r.reverts_run_id is None
            and r.mode.value != "revert"
        ]
        if not applied:
            return None
        target = self.rng.choice(applied[:3])
        result = await revert(
            conn.people,
            target.id,
            dry_run=mode == "dry_run",
            hold=mode == "hold",
            confirm=(lambda _r: False) if mode == "cancel" else None,
            wait=True,
        )
        proc.mode = mode
        if result.summary.run_id:
            proc.run_ids.append(result.summary.run_id)
            if mode == "apply" and not result.held:
                self.reverts.append((self.world.loop.time(), result.summary.run_id))
        return result.summary

    # ---------------------------------------------------------------- quiesce
    async def quiesce(self) -> list[RunSummary]:
        """No more edits or faults: runs until one plans nothing (held ones approved)."""
        self.quiet = True
        self._clear_faults()
        await asyncio.sleep(90)  # a dead process's lease expires (60 s)
        await self._settle()
        summaries: list[RunSummary] = []
        full = False  # incremental runs until one plans nothing, then a full one must too
        for i in range(8):
            proc = self.world.process(f"quiesce{i}")
            self.tasks.append(proc)
            opts = SyncOptions(wait=True, full=full)
            await self.world.in_process(proc, lambda conn, p=proc, o=opts: self._sync(conn, p, o))
            if proc.error is not None:
                self.violations.append(
                    f"a quiet run failed: {type(proc.error).__name__}: {proc.error}"
                )
                return summaries
            summary: RunSummary = proc.result
            summaries.append(summary)
            if summary.status is RunStatus.HELD:
                approver = self.world.process(f"quiesce{i}-approve")
                self.tasks.append(approver)
                await self.world.in_process(
                    approver,
                    lambda conn, p=approver, rid=summary.run_id: self._approve_quiet(conn, p, rid),
                )
                continue
            # quiet: nothing planned, and no link id owed from an earlier run written either
            # (those go out with the budget left over, in the runs after the one linking)
            if summary.planned == 0 and not summary.link_ids_written:
                if full:
                    return summaries
                full = True
            await asyncio.sleep(5)
        self.violations.append(
            f"no convergence: {len(summaries)} quiet runs still planned "
            f"{[s.planned for s in summaries]} operations"
        )
        return summaries

    async def _approve_quiet(self, conn: Any, proc: SimProcess, run_id: int) -> Any:
        proc.run_ids.append(run_id)
        result = await approve(conn.people, run_id, wait=True)
        return result.summary

    async def play(self) -> None:
        w = self.world
        await map_campuses(w)
        w.on_request = self.between_requests
        self.start_pco = set(w.pco_emu.store.people.rows)
        self.start_rock = {row[0] for row in w.rock_emu.data.table("Person")}
        for ev in self.sc.events:
            delay = ev.t - w.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.do(ev)
        await asyncio.sleep(30)
        await self._settle()
        await self.quiesce()


def state_url_for(scenario: Scenario, tmp: Path) -> str:
    if scenario.postgres:
        from tests.sim.pg import fresh_database

        return fresh_database(scenario.seed)
    return f"sqlite:///{tmp}/state.db"


def run_seed(seed: int, tier: str = "sim", postgres: bool = False) -> Outcome:
    from tests.sim.invariants import check

    scenario = generate(seed, tier, postgres)
    started = time.perf_counter()
    outcome = Outcome(seed, scenario)
    tmp = Path(tempfile.mkdtemp(prefix=f"pcosync-sim-{seed}-", dir=_tmp_root()))
    state_url = state_url_for(scenario, tmp)
    try:

        async def main() -> None:
            loop = asyncio.get_running_loop()
            world = build_world(
                seed,
                random.Random(seed + 1),
                loop,  # type: ignore[arg-type]
                scenario.people,
                state_url,
                teams=scenario.teams,
                positions_per_team=scenario.positions_per_team,
                update_limit=scenario.update_limit,
            )
            play = Play(scenario, world, state_url)
            try:
                await play.play()
                outcome.violations += play.violations
                outcome.violations += await check(play)
            finally:
                outcome.edits = len(play.edits) + len(play.member_edits)
                outcome.faults = play.faults
                outcome.crashes = world.crashes
                outcome.runs = sum(
                    1 for p in world.processes if p.name.startswith(("sync", "quiesce"))
                )
                if play._store is not None:
                    play._store.close()

        try:
            run_virtual(main())
        except Exception as exc:  # the simulation itself stopped: that is a finding too
            outcome.violations.append(f"the simulation stopped: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if scenario.postgres:
            from tests.sim.pg import drop_database

            drop_database(state_url)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _tmp_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() else None


def totals(outcomes: list[Outcome]) -> Counter[str]:
    c: Counter[str] = Counter()
    for o in outcomes:
        c["seeds"] += 1
        c["edits"] += o.edits
        c["faults"] += o.faults
        c["crashes"] += o.crashes
        c["runs"] += o.runs
        c["violations"] += len(o.violations)
    return c
