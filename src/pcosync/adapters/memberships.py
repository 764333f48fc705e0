"""Team-position rosters on both sides: ``MembershipSource`` + ``MembershipWriter``.

Membership syncs at the position level (DESIGN §5, §7): a Rock group linked to a PCO team
position (``GroupRef.pco_id`` = ``"TeamPosition:<id>"``) holds, as active GroupMembers, the
people who have a PersonTeamPositionAssignment on that position.

- PCO: one org-wide teams sweep per run (:meth:`PcoMemberships.refresh`, usually 1 request)
  answers every roster; a position on an archived or soft-deleted team has no members.
  Writes re-read that team's assignments first, so a retry after an ambiguous answer never
  creates a second assignment.
- Rock: active GroupMembers of the linked group; :meth:`RockMemberships.preload` reads many
  groups' rosters in one batched query. Removing inactivates the member by default (Rock
  keeps the history; revert re-activates), or deletes it with ``remove_mode="delete"``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pcosync.clients.pco import PcoClient
from pcosync.clients.pco.models import PcoAssignment, PcoTeam
from pcosync.clients.rock import RockClient
from pcosync.clients.rock.models import MEMBER_ACTIVE, MEMBER_INACTIVE
from pcosync.domain import GroupRef, Side
from pcosync.engine.ports import RecordId
from pcosync.errors import NotFoundError, SyncDataError, ValidationError

if TYPE_CHECKING:
    from pcosync.engine.ports import MembershipSource, MembershipWriter

POSITION_PREFIX = "TeamPosition:"


def position_id(group: GroupRef) -> str:
    """The PCO team position id of a linked group (``"TeamPosition:123"`` → ``"123"``)."""
    if not group.pco_id.startswith(POSITION_PREFIX):
        raise SyncDataError(
            f"{group.describe()} is not linked to a team position, so it has no roster to sync"
        )
    return group.pco_id[len(POSITION_PREFIX) :]


class PcoMemberships:
    """Rosters of PCO team positions (people with an assignment on a live team)."""

    side = Side.PCO

    def __init__(self, client: PcoClient, *, schedule_preference: str = "Every week") -> None:
        self.client = client
        self.schedule_preference = schedule_preference
        self._teams: dict[str, PcoTeam] | None = None
        self._team_of_position: dict[str, str] = {}

    async def refresh(self) -> None:
        """Read every team with its positions and assignments: one sweep per run."""
        teams = await self.client.teams(with_assignments=True)
        self._teams = {t.id: t for t in teams}
        self._team_of_position = {p.id: t.id for t in teams for p in t.positions}

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

    async def fetch_members(self, group: GroupRef) -> AsyncIterator[RecordId]:
        team = await self.team_of(group)
        if not team.live:
            return
        pos = position_id(group)
        seen: set[str] = set()
        for a in team.assignments:
            if a.team_position_id == pos and a.person_id and a.person_id not in seen:
                seen.add(a.person_id)
                yield a.person_id

    async def _fresh_assignments(self, team: PcoTeam, pos: str, person: str) -> list[PcoAssignment]:
        """The team's assignments as they are now (also refreshes the sweep's copy)."""
        team.assignments = await self.client.team_assignments(team.id)
        return [a for a in team.assignments if a.team_position_id == pos and a.person_id == person]

    async def add_member(self, group: GroupRef, person_id: RecordId) -> Mapping[str, Any]:
        """Assign the person to the position; already assigned is success. A person who is
        not yet in Services gets the Services app first (PCO answers 422 otherwise)."""
        team = await self.team_of(group)
        if not team.live:
            raise SyncDataError(
                f"{group.describe()}: the team is archived or deleted in Planning Center; "
                "nobody can be added to it"
            )
        if team.service_type_id is None:
            raise SyncDataError(f"{group.describe()}: the team has no service type")
        pos, person = position_id(group), str(person_id)
        existing = await self._fresh_assignments(team, pos, person)
        if existing:
            return {"assignment_id": existing[0].id, "created": False}
        try:
            created = await self.client.create_assignment(
                team.service_type_id, pos, person, schedule_preference=self.schedule_preference
            )
        except ValidationError:  # 422: not processed. Not a Services person yet? (spec §5.5)
            if await self._in_services(person):
                raise
            await self.client.add_person_to_services(person)
            created = await self.client.create_assignment(
                team.service_type_id, pos, person, schedule_preference=self.schedule_preference
            )
        team.assignments.append(created)
        return {"assignment_id": created.id, "created": True}

    async def _in_services(self, person_id: str) -> bool:
        try:
            await self.client.services_person(person_id)
        except NotFoundError:
            return False
        return True

    async def remove_member(self, group: GroupRef, person_id: RecordId) -> Mapping[str, Any]:
        """Delete the person's assignment(s) on the position; not assigned is success. The
        before-image keeps what a revert needs to assign them the same way again."""
        team = await self.team_of(group)
        pos, person = position_id(group), str(person_id)
        existing = await self._fresh_assignments(team, pos, person)
        if not existing or team.service_type_id is None:
            return {}
        for a in existing:
            with contextlib.suppress(NotFoundError):  # gone already: the outcome we wanted
                await self.client.delete_assignment(team.service_type_id, pos, a.id)
        team.assignments = [a for a in team.assignments if a not in existing]
        first = existing[0]
        return {
            "assignment_id": first.id,
            "schedule_preference": first.schedule_preference,
            "preferred_weeks": list(first.preferred_weeks),
        }


class RockMemberships:
    """Rosters of Rock groups linked to team positions: their active GroupMembers."""

    side = Side.ROCK

    def __init__(
        self, client: RockClient, *, remove_mode: Literal["inactivate", "delete"] = "inactivate"
    ) -> None:
        self.client = client
        self.remove_mode = remove_mode
        self._rosters: dict[int, list[dict[str, Any]]] = {}
        self._default_roles: dict[int, int] = {}

    async def preload(self, groups: Iterable[GroupRef]) -> None:
        """Read the rosters of many groups at once (batched ``or`` filters)."""
        ids = list(dict.fromkeys(g.rock_group_id for g in groups))
        rows = await self.client.query_any("GroupMembers", "GroupId", ids)
        self._rosters.update({gid: [] for gid in ids})
        for row in rows:
            self._rosters[int(row["GroupId"])].append(row)

    async def _members(self, group_id: int, *, fresh: bool = False) -> list[dict[str, Any]]:
        if fresh or group_id not in self._rosters:
            self._rosters[group_id] = await self.client.query(
                "GroupMembers", filter=f"GroupId eq {group_id}"
            )
        return self._rosters[group_id]

    async def fetch_members(self, group: GroupRef) -> AsyncIterator[RecordId]:
        seen: set[int] = set()
        for row in await self._members(group.rock_group_id):
            pid = int(row["PersonId"])
            if row.get("GroupMemberStatus") == MEMBER_ACTIVE and pid not in seen:
                seen.add(pid)
                yield pid

    async def _default_role(self, group_id: int) -> int:
        group = await self.client.group(group_id)
        type_id = group.group_type_id
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
        mine = [r for r in await self._members(gid, fresh=True) if int(r["PersonId"]) == pid]
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
        active = [
            r
            for r in await self._members(gid, fresh=True)
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


__all__ = ["PcoMemberships", "RockMemberships", "gather_members", "position_id"]
