"""Team-position rosters for one sync run (DESIGN §4, §5, §7): read both sides, build the
planner's :class:`~pcosync.domain.Membership` inputs, and skip positions whose team is gone.

PCO rosters come from the org-wide teams sweep the people sync already made this run
(:class:`PcoMemberships`); Rock rosters from one batched ``GroupMembers`` query for every
linked group. A position or team whose PCO team is archived, soft-deleted or no longer listed
is not synced: its Rock group is inactivated (the same writes the folder import makes) and the
run notes it. When the team is live again (PCO restores deleted teams for 30 days), the next
run reactivates the group and syncs it again. With tags on, groups linked to Services tags
sync who has the tag, read from the same run's Services people sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pcosync.adapters.memberships import PcoMemberships, RockMemberships
from pcosync.adapters.pco import ServicesSweep
from pcosync.app.teams import _dead_reason
from pcosync.clients.pco import PcoClient
from pcosync.clients.pco.models import PcoTeam
from pcosync.clients.rock import RockClient
from pcosync.clients.rock.odata import OR_BATCH
from pcosync.domain.identity import (
    GroupKind,
    GroupRef,
    PcoPersonId,
    PersonRef,
    RockPersonId,
    Side,
)
from pcosync.domain.membership import Membership, MembershipKey
from pcosync.domain.services import DEFAULT_SERVICES_PERMISSION
from pcosync.store import Store
from pcosync.store.links import GroupLink, GroupLinkStatus, Link

log = logging.getLogger("pcosync.sync")


@dataclass(frozen=True, slots=True)
class GroupChange:
    """A Rock group to inactivate (its team is archived or deleted in Planning Center) or
    reactivate (the team is live again): an operation of the run's plan, so a held run
    writes nothing."""

    link: GroupLink
    activate: bool
    name: str  # the team, as the admin knows it


@dataclass
class Rosters:
    """Who is a member of each live linked position, on each side, this run."""

    groups: list[GroupRef] = field(default_factory=list)
    rock: dict[int, set[RockPersonId]] = field(default_factory=dict)  # by group link id
    pco: dict[int, set[PcoPersonId]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # notes for the run summary
    changes: list[GroupChange] = field(default_factory=list)
    suspended: list[GroupLink] = field(default_factory=list)  # their Rock group is gone

    @property
    def rock_scope(self) -> set[RockPersonId]:
        """Rock people in scope through an active membership (DESIGN §4)."""
        return {pid for members in self.rock.values() for pid in members}


class MembershipSync:
    """Reads rosters and writes memberships for the people sync."""

    def __init__(
        self,
        store: Store,
        rock_client: RockClient,
        pco_client: PcoClient,
        *,
        tags: bool = False,
        services_permission: str = DEFAULT_SERVICES_PERMISSION,
    ) -> None:
        self.store = store
        self.rock_client = rock_client
        self.tags = tags
        self.services_permission = services_permission
        self.pco = PcoMemberships(pco_client)
        self.rock = RockMemberships(rock_client)
        self._permissions_loaded = False

    def writer(self, side: object) -> PcoMemberships | RockMemberships:
        if side == self.pco.side and not self._permissions_loaded:
            self._load_permissions()  # an approval or revert writes without a roster read
        return self.pco if side == self.pco.side else self.rock

    def _load_permissions(self) -> None:
        """Each linked position's Services permission, for the writer (issue 15)."""
        self.pco.permissions = {
            lk.id: lk.services_permission or self.services_permission
            for lk in self.store.groups.all(kind=GroupKind.TEAM_POSITION)
        }
        self._permissions_loaded = True

    def _links(self) -> list[GroupLink]:
        """Links the sync looks after: positions and teams (also inactive ones, whose team
        may come back, and suspended ones, whose Rock group may) and, when tags sync, tags."""
        kinds = {GroupKind.TEAM_POSITION, GroupKind.TEAM}
        if self.tags:
            kinds.add(GroupKind.TAG)
        return [lk for lk in self.store.groups.all() if lk.kind in kinds]

    def has_links(self) -> bool:
        return any(lk.kind is not GroupKind.TEAM for lk in self._links())

    async def read(self, *, dry_run: bool = False, sweep: ServicesSweep | None = None) -> Rosters:
        """Both rosters of every live linked position (and tag). Nothing is written to Rock
        or Planning Center: a group whose team was archived or deleted (or is live again)
        comes back as a :class:`GroupChange` for the plan. A linked Rock group that was
        deleted, archived or inactivated by hand suspends its link (reported; never a
        reason to unassign anyone in Planning Center) until it is back. ``sweep``: the
        teams (and tags) the people sync read this run, so they are not read twice."""
        rosters = Rosters()
        links = self._links()
        if not any(lk.kind is not GroupKind.TEAM for lk in links):
            return rosters
        links = await self._check_rock_groups(links, rosters, dry_run=dry_run)
        self._load_permissions()
        tag_links = [lk for lk in links if lk.kind is GroupKind.TAG]
        await self.pco.refresh(sweep, tags=bool(tag_links))
        stopped: dict[str, list[int]] = {}  # what happened (with the team's name) → group Ids
        restarted: dict[str, list[int]] = {}
        states = {link.id: self._state(link) for link in links}
        # a live team under an archived or deleted service type stays stopped (as the import
        # has it); service types are read only when a stopped group might come back
        if any(
            lk.status is GroupLinkStatus.INACTIVE and not states[lk.id][1]
            for lk in links
            if lk.kind is not GroupKind.TAG
        ):
            await self._dead_service_types(links, states)
        for link in links:
            name, why = states[link.id]
            if why:
                if link.status is GroupLinkStatus.ACTIVE:
                    rosters.changes.append(GroupChange(link, False, name))
                    stopped.setdefault(f"{name}: {why}", []).append(link.rock_group_id)
                continue
            if link.status is GroupLinkStatus.INACTIVE:
                rosters.changes.append(GroupChange(link, True, name))
                restarted.setdefault(name, []).append(link.rock_group_id)
            if link.kind is not GroupKind.TEAM:
                rosters.groups.append(GroupRef(link.id, link.rock_group_id, link.pco_id, link.name))
        would = "would be" if dry_run else "are"
        for what, group_ids in stopped.items():
            rosters.skipped.append(
                f"Memberships not synced for {what}. Its groups in Rock (Ids {_ids(group_ids)}) "
                f"{would} inactivated; the rest of the run goes on. If it is restored in "
                "Planning Center (deleted teams can be, for 30 days), a later sync "
                "reactivates them."
            )
        for what, group_ids in restarted.items():
            rosters.skipped.append(
                f"{what[0].upper()}{what[1:]} is live in Planning Center again (restored): its "
                f"groups in Rock (Ids {_ids(group_ids)}) {would} reactivated and its "
                "memberships sync again."
            )
        await self.rock.preload(rosters.groups)
        for ref in rosters.groups:
            assert ref.group_link_id is not None
            rosters.pco[ref.group_link_id] = {str(p) async for p in self.pco.fetch_members(ref)}
            rosters.rock[ref.group_link_id] = {int(p) async for p in self.rock.fetch_members(ref)}
        return rosters

    async def _check_rock_groups(
        self, links: list[GroupLink], rosters: Rosters, *, dry_run: bool
    ) -> list[GroupLink]:
        """Links whose Rock group is usable; the others are suspended (or resumed)."""
        ids = sorted({lk.rock_group_id for lk in links})
        found = await self._groups_by_id(ids)
        # the rosters are then read by group type (one paged query for all position groups)
        self.rock.know_group_types(
            {gid: int(r["GroupTypeId"]) for gid, r in found.items() if r.get("GroupTypeId")}
        )
        usable: list[GroupLink] = []
        would = "would be " if dry_run else ""
        for link in links:
            row = found.get(link.rock_group_id)
            gone = row is None
            inactive_by_hand = (
                row is not None
                and not row.get("IsActive", True)
                and link.status is not GroupLinkStatus.INACTIVE  # we inactivated those
            )
            what = f"{link.pco_id.partition(':')[0]} {link.pco_id.partition(':')[2]}"
            if gone or inactive_by_hand:
                if link.status is not GroupLinkStatus.SUSPENDED:
                    state = (
                        "was deleted or archived in Rock"
                        if gone
                        else "was made inactive in Rock by hand"
                    )
                    label = (
                        f"Rock group {row.get('Name')!r} (Id {link.rock_group_id})"
                        if row
                        else (f"Rock group Id {link.rock_group_id}")
                    )
                    rosters.skipped.append(
                        f"{label} {state}: its link to Planning Center {what} {would}suspended "
                        "and nothing is changed in Planning Center because of it. Restore or "
                        "reactivate the group to sync it again, or stop syncing it with "
                        f"`pcosync teams unlink {link.rock_group_id}`."
                    )
                    rosters.suspended.append(link)
                    if not dry_run:
                        self.store.groups.set_status(link.id, GroupLinkStatus.SUSPENDED)
                continue
            if link.status is GroupLinkStatus.SUSPENDED:
                assert row is not None
                rosters.skipped.append(
                    f"Rock group {row.get('Name')!r} (Id {link.rock_group_id}) is back in Rock: "
                    f"its link to Planning Center {what} {would}resumed."
                )
                resumed = GroupLinkStatus.ACTIVE
                if not dry_run:
                    self.store.groups.set_status(link.id, resumed)
                link = replace(link, status=resumed)
            usable.append(link)
        return usable

    async def _groups_by_id(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The linked Rock groups that exist (archived ones are hidden by Rock). Many groups:
        one ``or`` batch tells their type(s), then one paged query per type reads them all
        (3 requests for 1,300 imported groups instead of 87); whatever is left (another
        type, or gone) in ``or`` batches by Id, which also says who is gone."""
        columns = ["Id", "Name", "IsActive", "GroupTypeId"]
        client = self.rock_client
        found: dict[int, dict[str, Any]] = {}
        if len(ids) > 2 * OR_BATCH:
            sample = await client.query_any("Groups", "Id", ids[:OR_BATCH], select=columns)
            found.update({int(r["Id"]): r for r in sample})
            wanted = set(ids)
            for type_id in sorted({int(r["GroupTypeId"]) for r in sample if r.get("GroupTypeId")}):
                rows = await client.query(
                    "Groups", filter=f"GroupTypeId eq {type_id}", select=columns
                )
                found.update({int(r["Id"]): r for r in rows if int(r["Id"]) in wanted})
            rest = [gid for gid in ids[OR_BATCH:] if gid not in found]
        else:
            rest = ids
        if rest:
            rows = await client.query_any("Groups", "Id", rest, select=columns)
            found.update({int(r["Id"]): r for r in rows})
        return found

    def _state(self, link: GroupLink) -> tuple[str, str]:
        """(what the link stands for, why it is not synced or "" when it is)."""
        raw = link.pco_id.partition(":")[2]
        if link.kind is GroupKind.TAG:
            tag = (self.pco.tag_catalogue or {}).get(raw)
            if tag is None:
                return f"the Services tag {raw}", "no longer in Planning Center"
            return f"the Services tag {tag.name!r} ({raw})", ""
        team = self._team_of_link(link)
        if team is None:
            what = "team" if link.kind is GroupKind.TEAM else "team position"
            return f"the {what} {raw}", "no longer in Planning Center"
        return f"team {team.name!r} ({team.id})", (
            "" if team.live else _dead_reason(team.archived_at, team.deleted_at)
        )

    async def _dead_service_types(
        self, links: list[GroupLink], states: dict[int, tuple[str, str]]
    ) -> None:
        dead = {
            st.id: _dead_reason(st.archived_at, st.deleted_at)
            for st in await self.pco.client.service_types()
            if st.archived_at is not None or st.deleted_at is not None
        }
        for link in links:
            name, why = states[link.id]
            team = self._team_of_link(link)
            if not why and team is not None and team.service_type_id in dead:
                states[link.id] = (name, f"its service type was {dead[team.service_type_id]}")

    def _team_of_link(self, link: GroupLink) -> PcoTeam | None:
        raw = link.pco_id.partition(":")[2]
        if link.kind is GroupKind.TEAM:
            return self.pco.team(raw)
        if link.kind is GroupKind.TEAM_POSITION:
            team_id = self.pco.team_id_of_position(raw)
            return self.pco.team(team_id) if team_id is not None else None
        return None


def _ids(group_ids: list[int]) -> str:
    return ", ".join(str(g) for g in group_ids)


def membership_inputs(
    rosters: Rosters,
    links: Iterable[Link],
    bases: set[tuple[int, int]],
    *,
    fresh: Mapping[RockPersonId, PcoPersonId],
    creating_rock: set[RockPersonId],
    creating_pco: set[PcoPersonId],
    splits: Mapping[tuple[int, int], str] | None = None,
) -> list[Membership]:
    """One :class:`Membership` per (person, live position) that either side or the base
    mentions. ``fresh`` pairs were matched this run; ``creating_*`` are people created on the
    other side this run (their memberships wait for the create). Anyone else unlinked is
    left for a later run. ``splits``: memberships a revert left differing (link id, group
    link id) → the side that is a member."""
    splits = splits or {}
    by_id = {lk.id: lk for lk in links}
    by_rock = {lk.rock_person_id: lk for lk in by_id.values()}
    by_pco = {lk.pco_person_id: lk for lk in by_id.values()}
    fresh_by_pco = {p: r for r, p in fresh.items()}
    out: list[Membership] = []
    for group in rosters.groups:
        gid = group.group_link_id
        assert gid is not None
        rock_members = rosters.rock.get(gid, set())
        pco_members = rosters.pco.get(gid, set())
        refs: dict[PersonRef, bool | None] = {}
        for lid, g in bases:
            if g == gid and lid in by_id:
                lk = by_id[lid]
                refs[PersonRef(lk.id, lk.rock_person_id, lk.pco_person_id)] = True
        split_refs: dict[PersonRef, Side] = {}
        for (lid, g), side in splits.items():
            if g == gid and lid in by_id:
                lk = by_id[lid]
                ref = PersonRef(lk.id, lk.rock_person_id, lk.pco_person_id)
                split_refs[ref] = Side(side)
                refs.setdefault(ref, None)
        for rid in rock_members:
            if rid in by_rock:
                lk = by_rock[rid]
                ref = PersonRef(lk.id, lk.rock_person_id, lk.pco_person_id)
            elif rid in fresh:
                ref = PersonRef(None, rid, fresh[rid])
            elif rid in creating_rock:
                ref = PersonRef(None, rid, None)
            else:
                continue
            refs.setdefault(ref, None)
        for pid in pco_members:
            if pid in by_pco:
                lk = by_pco[pid]
                ref = PersonRef(lk.id, lk.rock_person_id, lk.pco_person_id)
            elif pid in fresh_by_pco:
                ref = PersonRef(None, fresh_by_pco[pid], pid)
            elif pid in creating_pco:
                ref = PersonRef(None, None, pid)
            else:
                continue
            refs.setdefault(ref, None)
        for ref, base in refs.items():
            out.append(
                Membership(
                    MembershipKey(ref, group),
                    base,
                    ref.rock_id is not None and ref.rock_id in rock_members,
                    ref.pco_id is not None and ref.pco_id in pco_members,
                    split_refs.get(ref),
                )
            )
    return out


__all__ = ["MembershipSync", "Rosters", "membership_inputs"]
