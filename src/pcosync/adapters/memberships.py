"""Team-position rosters on both sides: ``MembershipSource`` + ``MembershipWriter``.

Membership syncs at the position level (DESIGN §5, §7): a Rock group linked to a PCO team
position (``GroupRef.pco_id`` = ``"TeamPosition:<id>"``) holds, as active GroupMembers, the
people who have a PersonTeamPositionAssignment on that position.

- PCO: one org-wide teams sweep per run (:meth:`PcoMemberships.refresh`, usually 1 request,
  shared with the people sync's scope) answers every roster; a position on an archived or
  soft-deleted team has no members. The first write to a team in a run re-reads that team's
  assignments, so a retry after an ambiguous answer never creates a second assignment.
- Tags (optional): a Rock group linked to a Services person tag (``"Tag:<id>"``) holds the
  people who have the tag; written through ``assign_tags`` with the person's complete set.
- Rock: active GroupMembers of the linked group; :meth:`RockMemberships.preload` reads many
  groups' rosters in one batched query. Removing inactivates the member by default (Rock
  keeps the history; revert re-activates), or deletes it with ``remove_mode="delete"``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pcosync.adapters.pco import ServicesSweep
from pcosync.clients.pco import PcoClient
from pcosync.clients.pco.models import PcoAssignment, PcoTag, PcoTeam
from pcosync.clients.rock import RockClient
from pcosync.clients.rock.models import MEMBER_ACTIVE, MEMBER_INACTIVE
from pcosync.clients.rock.odata import OR_BATCH
from pcosync.domain import GroupRef, Side
from pcosync.domain.services import needs_raise, permission_rank
from pcosync.engine.ports import RecordId
from pcosync.errors import ApiError, NotFoundError, SyncDataError, ValidationError

if TYPE_CHECKING:
    from pcosync.engine.ports import MembershipSource, MembershipWriter

POSITION_PREFIX = "TeamPosition:"
TAG_PREFIX = "Tag:"


def position_id(group: GroupRef) -> str:
    """The PCO team position id of a linked group (``"TeamPosition:123"`` → ``"123"``)."""
    if not group.pco_id.startswith(POSITION_PREFIX):
        raise SyncDataError(
            f"{group.describe()} is not linked to a team position, so it has no roster to sync"
        )
    return group.pco_id[len(POSITION_PREFIX) :]


def tag_id(group: GroupRef) -> str | None:
    """The Services tag id of a group linked to a tag (``"Tag:5"`` → ``"5"``), else None."""
    return group.pco_id[len(TAG_PREFIX) :] if group.pco_id.startswith(TAG_PREFIX) else None


class PcoMemberships:
    """Rosters of PCO team positions (people with an assignment on a live team) and, when
    tags sync, of Services person tags (people who have the tag).

    Reads come from one sweep per run (:meth:`refresh`, or the sweep the people sync
    already made), and writes trust it: the writer keeps its copy current with its own
    writes, and re-reads a team's assignments (⌈Aₜ/100⌉ requests) only after a write to that
    team failed (its answer may have been lost), so a retry never assigns anyone twice.
    Someone known from the sweep not to be in Services gets the Services app before the
    assignment rather than after a refused one. Tags are different: ``assign_tags`` replaces
    all of a person's tags (spec §5.8), so their tags are re-read right before the first
    change to them in a run and written back complete, keeping every tag the sync does not
    manage, including one added a moment ago.
    """

    side = Side.PCO

    def __init__(self, client: PcoClient, *, schedule_preference: str = "Every week") -> None:
        self.client = client
        self.schedule_preference = schedule_preference
        self._teams: dict[str, PcoTeam] | None = None
        self._team_of_position: dict[str, str] = {}
        self._fresh_teams: set[str] = set()  # teams whose copy can be trusted for writes
        self._services_people: set[str] | None = None  # every Services person, when known
        self._team_locks: dict[str, asyncio.Lock] = {}
        self.tags: dict[str, frozenset[str]] | None = None  # person → tag ids, as swept
        self.tag_catalogue: dict[str, PcoTag] | None = None  # live tags by id
        self._person_tags: dict[str, set[str] | None] = {}  # re-read this run; None: no Services
        self._person_locks: dict[str, asyncio.Lock] = {}
        # the Services permission each linked position gives (by group link id), and the
        # levels read or set this run (by person)
        self.permissions: dict[int, str] = {}
        self._levels: dict[str, str | None] = {}

    async def refresh(self, sweep: ServicesSweep | None = None, *, tags: bool = False) -> None:
        """Take the run's sweep (or read it: every team with its positions and assignments,
        and with ``tags`` every Services person's tags and the tag catalogue)."""
        teams = sweep.teams if sweep is not None else await self.client.teams()
        self._teams = {t.id: t for t in teams}
        self._team_of_position = {p.id: t.id for t in teams for p in t.positions}
        self._fresh_teams = set(self._teams)  # as read a moment ago, this run
        known = sweep.services_people if sweep is not None else None
        self._services_people = set(known) if known is not None else None
        self._person_tags.clear()
        if tags:
            if sweep is not None and sweep.tags is not None:
                self.tags = sweep.tags
            else:
                people = await self.client.services_people(with_tags=True)
                self.tags = {sp.id: sp.tag_ids for sp in people if sp.tag_ids}
            groups = await self.client.tag_groups()
            self.tag_catalogue = {t.id: t for g in groups for t in g.tags}

    async def team_of(self, group: GroupRef) -> PcoTeam:
        pos = position_id(group)
        if self._teams is None:
            await self.refresh()
        assert self._teams is not None
        team_id = self._team_of_position.get(pos)
        if team_id is None:
            raise SyncDataError(
                f"{group.describe()}: Planning Center has no team position {pos} any more "
                "(deleted?); unlink the group or link it to another position"
            )
        return self._teams[team_id]

    def team_id_of_position(self, position: str) -> str | None:
        return self._team_of_position.get(position)

    def team(self, team_id: str) -> PcoTeam | None:
        """A team as swept (None: not listed by Planning Center)."""
        return (self._teams or {}).get(team_id)

    async def fetch_members(self, group: GroupRef) -> AsyncIterator[RecordId]:
        tag = tag_id(group)
        if tag is not None:
            for person, held in sorted((self.tags or {}).items()):
                if tag in held:
                    yield person
            return
        team = await self.team_of(group)
        if not team.live:
            return
        pos = position_id(group)
        seen: set[str] = set()
        for a in team.assignments:
            if a.team_position_id == pos and a.person_id and a.person_id not in seen:
                seen.add(a.person_id)
                yield a.person_id

    async def _current(self, team: PcoTeam, pos: str, person: str) -> list[PcoAssignment]:
        """The person's assignments on the position: this run's copy (kept current with
        our writes), re-read first if a write to the team failed or it was never swept."""
        if team.id not in self._fresh_teams:
            team.assignments = await self.client.team_assignments(team.id)
            self._fresh_teams.add(team.id)
        return [a for a in team.assignments if a.team_position_id == pos and a.person_id == person]

    @contextlib.asynccontextmanager
    async def _team_write(self, team: PcoTeam) -> AsyncIterator[None]:
        """One write to a team at a time; a write that fails (perhaps after PCO applied it)
        makes the next one re-read the team."""
        async with self._team_locks.setdefault(team.id, asyncio.Lock()):
            try:
                yield
            except BaseException:
                self._fresh_teams.discard(team.id)
                raise

    async def add_member(self, group: GroupRef, person_id: RecordId) -> Mapping[str, Any]:
        """Assign the person to the position (or give them the tag); already there is
        success. A person who is not yet in Services gets the Services app first (PCO
        answers 422 otherwise)."""
        tag = tag_id(group)
        if tag is not None:
            return await self._add_tag(group, str(person_id), tag)
        team = await self.team_of(group)
        if not team.live:
            raise SyncDataError(
                f"{group.describe()}: the team is archived or deleted in Planning Center; "
                "nobody can be added to it"
            )
        if team.service_type_id is None:
            raise SyncDataError(f"{group.describe()}: the team has no service type")
        pos, person = position_id(group), str(person_id)
        async with self._team_write(team):
            existing = await self._current(team, pos, person)
            if existing:  # e.g. a retry after the permission write was refused: raise it now
                out: dict[str, Any] = {"assignment_id": existing[0].id, "created": False}
                raised = await self._grant(group, person)
                if raised is not None:
                    out["services_permission"] = {"before": raised[0], "after": raised[1]}
                return out
            if self._services_people is not None and person not in self._services_people:
                await self.client.add_person_to_services(person)  # spec §5.5: needed first
                self._services_people.add(person)
            try:
                created = await self.client.create_assignment(
                    team.service_type_id, pos, person, schedule_preference=self.schedule_preference
                )
            except ValidationError:  # 422: not processed. Not a Services person yet? (§5.5)
                if await self._in_services(person):
                    raise
                await self.client.add_person_to_services(person)
                if self._services_people is not None:
                    self._services_people.add(person)
                created = await self.client.create_assignment(
                    team.service_type_id, pos, person, schedule_preference=self.schedule_preference
                )
            team.assignments.append(created)
        raised = await self._grant(group, person)
        out = {"assignment_id": created.id, "created": True}
        if raised is not None:
            out["services_permission"] = {"before": raised[0], "after": raised[1]}
        return out

    async def _grant(self, group: GroupRef, person: str) -> tuple[str | None, str] | None:
        """Give someone just assigned the position's Services permission if theirs is lower
        (never lower one: staff keep theirs). "Scheduled Viewer", the lowest level and what
        a person added to Services starts with, costs no request. Returns (before, after)
        when it was raised."""
        wanted = self.permissions.get(group.group_link_id or -1)
        if wanted is None or permission_rank(wanted) <= 0:
            return None
        if person not in self._levels:
            self._levels[person] = (await self.client.services_person(person)).permissions
        current = self._levels[person]
        if not needs_raise(current, wanted):
            return None
        await self.client.set_services_permission(person, wanted)
        self._levels[person] = wanted
        return current, wanted

    async def _in_services(self, person_id: str) -> bool:
        try:
            await self.client.services_person(person_id)
        except NotFoundError:
            return False
        return True

    async def remove_member(self, group: GroupRef, person_id: RecordId) -> Mapping[str, Any]:
        """Delete the person's assignment(s) on the position (or take the tag away); not
        there is success. The before-image keeps what a revert needs to put it back."""
        tag = tag_id(group)
        if tag is not None:
            return await self._remove_tag(group, str(person_id), tag)
        team = await self.team_of(group)
        pos, person = position_id(group), str(person_id)
        async with self._team_write(team):
            existing = await self._current(team, pos, person)
            if not existing or team.service_type_id is None:
                return {}
            for a in existing:
                with contextlib.suppress(NotFoundError):  # gone already: what we wanted
                    await self.client.delete_assignment(team.service_type_id, pos, a.id)
            team.assignments = [a for a in team.assignments if a not in existing]
        first = existing[0]
        return {
            "assignment_id": first.id,
            "schedule_preference": first.schedule_preference,
            "preferred_weeks": list(first.preferred_weeks),
        }

    # ---------------------------------------------------------------- tags

    def _check_tag(self, group: GroupRef, tag: str) -> None:
        if self.tag_catalogue is not None and tag not in self.tag_catalogue:
            raise SyncDataError(
                f"{group.describe()}: Planning Center has no tag {tag} any more (deleted?); "
                "unlink the group or run `pcosync teams import` again"
            )

    async def _tags_now(self, person: str) -> set[str] | None:
        """The person's tag ids as they are now (read once per run); None: not in Services."""
        if person not in self._person_tags:
            try:
                found: set[str] | None = {t.id for t in await self.client.person_tags(person)}
            except NotFoundError:
                found = None
            self._person_tags[person] = found
        return self._person_tags[person]

    @contextlib.asynccontextmanager
    async def _person_write(self, person: str) -> AsyncIterator[None]:
        """``assign_tags`` replaces the whole set: one change per person at a time, and a
        failed write makes the next one re-read."""
        async with self._person_locks.setdefault(person, asyncio.Lock()):
            try:
                yield
            except BaseException:
                self._person_tags.pop(person, None)
                raise

    async def _add_tag(self, group: GroupRef, person: str, tag: str) -> Mapping[str, Any]:
        self._check_tag(group, tag)
        async with self._person_write(person):
            held = await self._tags_now(person)
            if held is None:
                await self.client.add_person_to_services(person)
                held = set()
            if tag in held:
                return {"tag_id": tag, "created": False}
            await self.client.assign_tags(person, sorted(held | {tag}, key=_id_order))
            self._person_tags[person] = held | {tag}
        return {"tag_id": tag, "created": True, "tags_before": sorted(held, key=_id_order)}

    async def _remove_tag(self, group: GroupRef, person: str, tag: str) -> Mapping[str, Any]:
        async with self._person_write(person):
            held = await self._tags_now(person)
            if not held or tag not in held:
                return {}
            await self.client.assign_tags(person, sorted(held - {tag}, key=_id_order))
            self._person_tags[person] = held - {tag}
        return {"tag_id": tag, "tags_before": sorted(held, key=_id_order)}


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


class RockMemberships:
    """Rosters of Rock groups linked to team positions: their active GroupMembers."""

    side = Side.ROCK

    def __init__(
        self, client: RockClient, *, remove_mode: Literal["inactivate", "delete"] = "inactivate"
    ) -> None:
        self.client = client
        self.remove_mode = remove_mode
        self._rosters: dict[int, list[dict[str, Any]]] = {}
        self._stale: set[int] = set()  # groups whose copy a failed write may have outdated
        self._group_types: dict[int, int] = {}
        self._default_roles: dict[int, int] = {}

    def know_group_types(self, types: Mapping[int, int]) -> None:
        """Group Id → GroupTypeId, as read by the caller (saves a read per group)."""
        self._group_types.update(types)

    async def preload(self, groups: Iterable[GroupRef]) -> None:
        """Read the rosters of many groups at once: groups whose type is known and shared
        by more than two ``or`` batches' worth of them in one paged query by
        ``GroupTypeId`` (≈ members ÷ 1,000 requests, e.g. 8 for 1,000 position groups
        instead of 67), the rest in batched ``or`` filters by ``GroupId``. A Rock that
        cannot filter members by type (older versions: no ``GroupMember.GroupTypeId``)
        answers with an error, and its rosters are read by ``GroupId`` as before."""
        ids = list(dict.fromkeys(g.rock_group_id for g in groups))
        by_type: dict[int, list[int]] = {}
        for gid in ids:
            type_id = self._group_types.get(gid)
            if type_id:
                by_type.setdefault(type_id, []).append(gid)
        rest = [gid for gid in ids if not self._group_types.get(gid)]
        rows: list[dict[str, Any]] = []
        for type_id, gids in by_type.items():
            if len(gids) <= 2 * OR_BATCH:
                rest += gids
                continue
            wanted = set(gids)
            try:
                typed = await self.client.query("GroupMembers", filter=f"GroupTypeId eq {type_id}")
            except ApiError:
                rest += gids
                continue
            rows += [r for r in typed if int(r["GroupId"]) in wanted]
        if rest:
            rows += await self.client.query_any("GroupMembers", "GroupId", rest, gap=0)
        self._rosters.update({gid: [] for gid in ids})
        self._stale.difference_update(ids)
        for row in rows:
            self._rosters[int(row["GroupId"])].append(row)

    async def _members(self, group_id: int) -> list[dict[str, Any]]:
        """The group's roster: this run's copy (kept current with our writes), re-read when
        there is none or a write to the group failed."""
        if group_id in self._stale or group_id not in self._rosters:
            self._rosters[group_id] = await self.client.query(
                "GroupMembers", filter=f"GroupId eq {group_id}"
            )
            self._stale.discard(group_id)
        return self._rosters[group_id]

    @contextlib.asynccontextmanager
    async def _group_write(self, group_id: int) -> AsyncIterator[None]:
        try:
            yield
        except BaseException:
            self._stale.add(group_id)
            raise

    async def fetch_members(self, group: GroupRef) -> AsyncIterator[RecordId]:
        seen: set[int] = set()
        for row in await self._members(group.rock_group_id):
            pid = int(row["PersonId"])
            if row.get("GroupMemberStatus") == MEMBER_ACTIVE and pid not in seen:
                seen.add(pid)
                yield pid

    async def _default_role(self, group_id: int) -> int:
        if group_id not in self._group_types:
            self._group_types[group_id] = (await self.client.group(group_id)).group_type_id
        type_id = self._group_types[group_id]
        if type_id not in self._default_roles:
            gtype = await self.client.get_json(f"/api/GroupTypes/{type_id}")
            role = gtype.get("DefaultGroupRoleId") if isinstance(gtype, dict) else None
            if not isinstance(role, int):
                roles = await self.client.query(
                    "GroupTypeRoles", filter=f"GroupTypeId eq {type_id}", orderby="Order,Id"
                )
                if not roles:
                    raise SyncDataError(
                        f"Rock group {group_id}: its group type has no roles, so nobody can be "
                        "added; give the group type a default role"
                    )
                role = int(roles[0]["Id"])
            self._default_roles[type_id] = role
        return self._default_roles[type_id]

    async def add_member(self, group: GroupRef, person_id: RecordId) -> Mapping[str, Any]:
        """Make the person an active member (re-activating an inactive membership before
        adding a new one); already active is success."""
        gid, pid = group.rock_group_id, int(person_id)
        async with self._group_write(gid):
            return await self._add(gid, pid)

    async def _add(self, gid: int, pid: int) -> Mapping[str, Any]:
        mine = [r for r in await self._members(gid) if int(r["PersonId"]) == pid]
        active = [r for r in mine if r.get("GroupMemberStatus") == MEMBER_ACTIVE]
        if active:
            return {"group_member_id": int(active[0]["Id"]), "created": False}
        if mine:
            row = mine[0]
            previous = row.get("GroupMemberStatus")
            await self.client.update_group_member(
                int(row["Id"]), {"GroupMemberStatus": MEMBER_ACTIVE}
            )
            row["GroupMemberStatus"] = MEMBER_ACTIVE
            return {
                "group_member_id": int(row["Id"]),
                "created": False,
                "previous_status": previous,
            }
        role = await self._default_role(gid)
        member_id = await self.client.add_group_member(gid, pid, role)
        self._rosters[gid].append(
            {"Id": member_id, "GroupId": gid, "PersonId": pid, "GroupRoleId": role,
             "GroupMemberStatus": MEMBER_ACTIVE}
        )  # fmt: skip
        return {"group_member_id": member_id, "role_id": role, "created": True}

    async def remove_member(self, group: GroupRef, person_id: RecordId) -> Mapping[str, Any]:
        """Inactivate (or delete) the person's active membership; not a member is success."""
        gid, pid = group.rock_group_id, int(person_id)
        async with self._group_write(gid):
            return await self._remove(gid, pid)

    async def _remove(self, gid: int, pid: int) -> Mapping[str, Any]:
        active = [
            r
            for r in await self._members(gid)
            if int(r["PersonId"]) == pid and r.get("GroupMemberStatus") == MEMBER_ACTIVE
        ]
        for row in active:
            if self.remove_mode == "delete":
                await self.client.remove_group_member(int(row["Id"]))
                self._rosters[gid].remove(row)
            else:
                await self.client.update_group_member(
                    int(row["Id"]), {"GroupMemberStatus": MEMBER_INACTIVE}
                )
                row["GroupMemberStatus"] = MEMBER_INACTIVE
        if not active:
            return {}
        return {
            "group_member_id": int(active[0]["Id"]),
            "role_id": active[0].get("GroupRoleId"),
            "status": MEMBER_ACTIVE,
            "removed_by": self.remove_mode,
        }


async def gather_members(source: PcoMemberships | RockMemberships, group: GroupRef) -> set[str]:
    """A roster as a set of id strings (handy for comparing the two sides)."""
    return {str(pid) async for pid in source.fetch_members(group)}


if TYPE_CHECKING:  # mypy proves the adapters fit the engine's ports

    def _ports(
        pco: PcoMemberships, rock: RockMemberships
    ) -> tuple[MembershipSource, MembershipWriter, MembershipSource, MembershipWriter]:
        return pco, pco, rock, rock


__all__ = ["PcoMemberships", "RockMemberships", "gather_members", "position_id", "tag_id"]
