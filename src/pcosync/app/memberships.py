"""Team-position rosters for one sync run (DESIGN §4, §5, §7): read both sides, build the
planner's :class:`~pcosync.domain.Membership` inputs, and skip positions whose team is gone.

PCO rosters come from one org-wide teams sweep per run (:class:`PcoMemberships`); Rock
rosters from one batched ``GroupMembers`` query for every linked position group. A position
whose team is archived, soft-deleted or no longer listed is not synced: its Rock group is
inactivated (the same writes the folder import makes) and the run notes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pcosync.adapters.memberships import PcoMemberships, RockMemberships
from pcosync.app.teams import _dead_reason
from pcosync.clients.pco import PcoClient
from pcosync.clients.rock import RockClient
from pcosync.domain.identity import GroupKind, GroupRef, PcoPersonId, PersonRef, RockPersonId
from pcosync.domain.membership import Membership, MembershipKey
from pcosync.errors import ApiError, SyncDataError
from pcosync.store import Store
from pcosync.store.links import GroupLinkStatus, Link

log = logging.getLogger("pcosync.sync")


@dataclass
class Rosters:
    """Who is a member of each live linked position, on each side, this run."""

    groups: list[GroupRef] = field(default_factory=list)
    rock: dict[int, set[RockPersonId]] = field(default_factory=dict)  # by group link id
    pco: dict[int, set[PcoPersonId]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # notes for the run summary

    @property
    def rock_scope(self) -> set[RockPersonId]:
        """Rock people in scope through an active membership (DESIGN §4)."""
        return {pid for members in self.rock.values() for pid in members}


class MembershipSync:
    """Reads rosters and writes memberships for the people sync."""

    def __init__(self, store: Store, rock_client: RockClient, pco_client: PcoClient) -> None:
        self.store = store
        self.rock_client = rock_client
        self.pco = PcoMemberships(pco_client)
        self.rock = RockMemberships(rock_client)

    def writer(self, side: object) -> PcoMemberships | RockMemberships:
        return self.pco if side == self.pco.side else self.rock

    def has_links(self) -> bool:
        return bool(
            self.store.groups.all(kind=GroupKind.TEAM_POSITION, status=GroupLinkStatus.ACTIVE)
        )

    async def read(self, *, dry_run: bool = False) -> Rosters:
        """Both rosters of every active position link; gone teams are skipped (and their
        Rock group inactivated unless ``dry_run``)."""
        rosters = Rosters()
        links = self.store.groups.all(kind=GroupKind.TEAM_POSITION, status=GroupLinkStatus.ACTIVE)
        if not links:
            return rosters
        await self.pco.refresh()
        dead: dict[str, list[int]] = {}  # why (with the team's name) → Rock group Ids
        for link in links:
            ref = GroupRef(link.id, link.rock_group_id, link.pco_id)
            try:
                team = await self.pco.team_of(ref)
                why = "" if team.live else _dead_reason(team.archived_at, team.deleted_at)
                name = f"team {team.name!r} ({team.id})"
            except SyncDataError:
                why, name = "no longer in Planning Center", f"the team of {link.pco_id}"
            if why:
                await self._stop(link.id, link.rock_group_id, dry_run=dry_run)
                dead.setdefault(f"{name} is {why}", []).append(link.rock_group_id)
                continue
            rosters.groups.append(ref)
        for what, group_ids in dead.items():
            listed = ", ".join(str(g) for g in group_ids)
            done = "would be inactivated" if dry_run else "were inactivated"
            rosters.skipped.append(
                f"Team memberships not synced: {what}. Its position groups in Rock (Ids "
                f"{listed}) {done}; the rest of the run went on. If the team is restored in "
                "Planning Center, run `pcosync teams import` to reactivate them."
            )
        await self.rock.preload(rosters.groups)
        for ref in rosters.groups:
            assert ref.group_link_id is not None
            rosters.pco[ref.group_link_id] = {str(p) async for p in self.pco.fetch_members(ref)}
            rosters.rock[ref.group_link_id] = {int(p) async for p in self.rock.fetch_members(ref)}
        return rosters

    async def _stop(self, group_link_id: int, rock_group_id: int, *, dry_run: bool) -> None:
        """Inactivate the group as the import does for a dead team; never fails the run."""
        if dry_run:
            return
        try:
            await self.rock_client.update_group(rock_group_id, {"IsActive": False})
        except ApiError as exc:
            log.warning("sync.group_inactivate_failed group=%s error=%s", rock_group_id, exc)
        self.store.groups.set_status(group_link_id, GroupLinkStatus.INACTIVE)


def membership_inputs(
    rosters: Rosters,
    links: Iterable[Link],
    bases: set[tuple[int, int]],
    *,
    fresh: Mapping[RockPersonId, PcoPersonId],
    creating_rock: set[RockPersonId],
    creating_pco: set[PcoPersonId],
) -> list[Membership]:
    """One :class:`Membership` per (person, live position) that either side or the base
    mentions. ``fresh`` pairs were matched this run; ``creating_*`` are people created on the
    other side this run (their memberships wait for the create). Anyone else unlinked is
    left for a later run."""
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
                )
            )
    return out


__all__ = ["MembershipSync", "Rosters", "membership_inputs"]
