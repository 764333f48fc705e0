"""Folder import: PCO Services structure mirrored as Rock groups, and its removal (DESIGN §7).

Folder → service type → team → position, each a Rock group under the configured parent
group, carrying the group attributes ``PcoId`` (``Team:12``) and, for groups the import
created, ``PcoMarker``. Every group is recorded in the store's group links.

Both operations first build a plan from one read of each side, then apply it; a dry run
stops after the plan. Re-running the import against unchanged data plans nothing, so it
writes nothing. Only groups the import created (store flag *and* ``PcoMarker``) are ever
renamed, moved or removed; adopted and linked groups are only inactivated (their PCO team
was archived or deleted) and reactivated.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pcosync.adapters.sanitize import clean_label
from pcosync.app.progress import NO_PROGRESS, Progress
from pcosync.clients.pco import PcoClient
from pcosync.clients.pco.models import PcoFolder, PcoServiceType, PcoTagGroup, PcoTeam
from pcosync.clients.rock import RockClient
from pcosync.clients.rock.models import Guids, RockGroup
from pcosync.clients.rock.odata import guid as odata_guid
from pcosync.config import TeamsSettings
from pcosync.domain.identity import GroupKind
from pcosync.errors import (
    AmbiguousWriteError,
    ConfigError,
    NotFoundError,
    PermissionDenied,
    UsageError,
    ValidationError,
)
from pcosync.store import Store
from pcosync.store.links import GroupLink, GroupLinkStatus

log = logging.getLogger(__name__)

PCO_ID_KEY = "PcoId"
PCO_MARKER_KEY = "PcoMarker"
DEFAULT_ROOT_NAME = "Planning Center"
ROOT_KEY = "teams.parent_group"  # the Id of the top-level group the import made

KIND_PREFIX = {
    GroupKind.FOLDER: "Folder",
    GroupKind.SERVICE_TYPE: "ServiceType",
    GroupKind.TEAM: "Team",
    GroupKind.TEAM_POSITION: "TeamPosition",
    GroupKind.TAG_GROUP: "TagGroup",
    GroupKind.TAG: "Tag",
}
TAG_KINDS = frozenset({GroupKind.TAG_GROUP, GroupKind.TAG})
PREFIX_KIND = {v: k for k, v in KIND_PREFIX.items()}
STRUCTURE_KINDS = frozenset(KIND_PREFIX)


def pco_ref(kind: GroupKind, pco_id: str) -> str:
    """``GroupKind.TEAM, "12"`` → ``"Team:12"`` (the ``PcoId`` attribute value, DESIGN §3)."""
    return f"{KIND_PREFIX[kind]}:{pco_id}"


def parse_ref(ref: str) -> tuple[GroupKind, str] | None:
    prefix, _, raw = ref.partition(":")
    kind = PREFIX_KIND.get(prefix)
    return (kind, raw) if kind is not None and raw else None


# ---------------------------------------------------------------------------- PCO tree


@dataclass
class PcoNode:
    """One folder, service type, team or position, placed in the tree."""

    ref: str
    kind: GroupKind
    name: str
    parent_ref: str | None  # None: directly under the configured parent group
    live: bool = True
    why_not_live: str = ""
    folder_refs: frozenset[str] = frozenset()  # every folder above (for --folder)

    def __post_init__(self) -> None:
        self.name = clean_label(self.name)  # issue 12: no NUL or control character in Rock


def _dead_reason(archived_at: datetime | None, deleted_at: datetime | None) -> str:
    if deleted_at is not None:
        return f"deleted in Planning Center on {deleted_at:%Y-%m-%d} (restorable for 30 days)"
    if archived_at is not None:
        return f"archived in Planning Center on {archived_at:%Y-%m-%d}"
    return ""


def build_tree(
    folders: Sequence[PcoFolder],
    service_types: Sequence[PcoServiceType],
    teams: Sequence[PcoTeam],
) -> dict[str, PcoNode]:
    """Every PCO node by ref, in parent-before-child order; archived/deleted marked not live."""
    by_id = {f.id: f for f in folders}
    nodes: dict[str, PcoNode] = {}

    def folder_chain(folder_id: str | None) -> list[str]:
        chain: list[str] = []
        seen: set[str] = set()
        while folder_id is not None and folder_id in by_id and folder_id not in seen:
            seen.add(folder_id)
            chain.append(pco_ref(GroupKind.FOLDER, folder_id))
            folder_id = by_id[folder_id].parent_id
        return chain

    def depth(f: PcoFolder) -> int:
        return len(folder_chain(f.id))

    for f in sorted(folders, key=lambda f: (depth(f), f.name.lower(), f.id)):
        parent = f.parent_id if f.parent_id in by_id else None
        nodes[pco_ref(GroupKind.FOLDER, f.id)] = PcoNode(
            pco_ref(GroupKind.FOLDER, f.id),
            GroupKind.FOLDER,
            f.name,
            pco_ref(GroupKind.FOLDER, parent) if parent else None,
            folder_refs=frozenset(folder_chain(f.id)),
        )
    for st in sorted(service_types, key=lambda s: (s.name.lower(), s.id)):
        parent = st.folder_id if st.folder_id in by_id else None
        nodes[pco_ref(GroupKind.SERVICE_TYPE, st.id)] = PcoNode(
            pco_ref(GroupKind.SERVICE_TYPE, st.id),
            GroupKind.SERVICE_TYPE,
            st.name,
            pco_ref(GroupKind.FOLDER, parent) if parent else None,
            live=st.archived_at is None and st.deleted_at is None,
            why_not_live=_dead_reason(st.archived_at, st.deleted_at),
            folder_refs=frozenset(folder_chain(st.folder_id)),
        )
    for team in sorted(teams, key=lambda t: (t.name.lower(), t.id)):
        st_ref = pco_ref(GroupKind.SERVICE_TYPE, team.service_type_id or "")
        st_node = nodes.get(st_ref)
        live, why = team.live, _dead_reason(team.archived_at, team.deleted_at)
        if st_node is None:
            live, why = False, "its service type is not in Planning Center"
        elif not st_node.live:
            live, why = False, f"its service type was {st_node.why_not_live}"
        team_ref = pco_ref(GroupKind.TEAM, team.id)
        folders_above = st_node.folder_refs if st_node else frozenset()
        nodes[team_ref] = PcoNode(
            team_ref,
            GroupKind.TEAM,
            team.name,
            st_ref if st_node else None,
            live=live,
            why_not_live=why,
            folder_refs=folders_above,
        )
        for pos in sorted(team.positions, key=lambda p: (p.name.lower(), p.id)):
            pos_ref = pco_ref(GroupKind.TEAM_POSITION, pos.id)
            nodes[pos_ref] = PcoNode(
                pos_ref,
                GroupKind.TEAM_POSITION,
                pos.name,
                team_ref,
                live=live,
                why_not_live=f"its team was {why}" if why and not why.startswith("its") else why,
                folder_refs=folders_above,
            )
    return nodes


def add_tag_nodes(
    nodes: dict[str, PcoNode], groups: Sequence[PcoTagGroup], wanted: Sequence[str]
) -> None:
    """Services person tag groups (→ their tags) as top-level nodes (DESIGN §7, optional);
    ``wanted`` (names, case-insensitive, or ids) limits them."""
    chosen = list(groups)
    if wanted:
        chosen = []
        for want in wanted:
            hits = [g for g in groups if g.id == want or g.name.strip().lower() == want.lower()]
            if not hits:
                names = ", ".join(sorted(f"{g.name} ({g.id})" for g in groups)) or "none"
                raise ConfigError(
                    f"Planning Center has no person tag group named or numbered {want!r}; "
                    f"tag groups: {names}",
                    key="teams.tag_groups",
                )
            chosen.extend(h for h in hits if h not in chosen)
    for group in sorted(chosen, key=lambda g: (g.name.lower(), g.id)):
        group_ref = pco_ref(GroupKind.TAG_GROUP, group.id)
        nodes[group_ref] = PcoNode(group_ref, GroupKind.TAG_GROUP, group.name, None)
        for tag in sorted(group.tags, key=lambda t: (t.name.lower(), t.id)):
            tag_ref = pco_ref(GroupKind.TAG, tag.id)
            nodes[tag_ref] = PcoNode(tag_ref, GroupKind.TAG, tag.name, group_ref)


def _label_of(node: PcoNode, tree: dict[str, PcoNode]) -> str:
    """How output names a node: a position or a tag with its team or tag group."""
    parent = tree.get(node.parent_ref) if node.parent_ref else None
    if node.kind in (GroupKind.TEAM_POSITION, GroupKind.TAG) and parent is not None:
        return f"{parent.name} › {node.name}"
    return node.name


def select_folders(folders: Sequence[PcoFolder], wanted: Sequence[str]) -> frozenset[str]:
    """Folder refs named by ``--folder`` (a name, case-insensitive, or an id)."""
    out: set[str] = set()
    for want in wanted:
        hits = [f for f in folders if f.id == want or f.name.strip().lower() == want.lower()]
        if not hits:
            names = ", ".join(sorted(f"{f.name} ({f.id})" for f in folders)) or "none"
            raise UsageError(
                f"--folder {want!r}: Planning Center has no folder of that name or id; "
                f"its folders are: {names}"
            )
        out.update(pco_ref(GroupKind.FOLDER, f.id) for f in hits)
    return frozenset(out)


# ---------------------------------------------------------------------------- plans


class Action(StrEnum):
    CREATE = "create"
    ADOPT = "adopt"
    RENAME = "rename"
    MOVE = "move"
    MARK = "mark"  # write a missing PcoId / PcoMarker / store link
    INACTIVATE = "inactivate"
    REACTIVATE = "reactivate"
    UNCHANGED = "unchanged"


@dataclass
class ImportItem:
    """What the import does to one PCO node's Rock group."""

    ref: str
    kind: GroupKind
    name: str
    parent_group_id: int | None  # known at plan time
    parent_pending: str | None  # else: the ref of a parent this plan creates first
    group_id: int | None
    actions: list[Action]
    detail: list[str] = field(default_factory=list)
    created_by_import: bool = True
    link_id: int | None = None
    reason: str = ""  # why inactivated
    write_pco_id: bool = False
    write_marker: bool = False
    set_active: bool = False
    label: str = ""  # how output names it: "Band › Drums" for a position

    @property
    def changes(self) -> bool:
        return self.actions != [Action.UNCHANGED]


@dataclass
class ImportPlan:
    root_group_id: int
    root_name: str
    group_type_id: int
    marker: str
    items: list[ImportItem]
    dry_run: bool = False
    applied: bool = False
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the admin should know, in words
    create_root: bool = False  # the top-level group "Planning Center" is made by this import

    def count(self, action: Action) -> int:
        return sum(1 for i in self.items if action in i.actions)

    @property
    def tree_items(self) -> list[ImportItem]:
        return [i for i in self.items if Action.INACTIVATE not in i.actions]

    @property
    def inactivated(self) -> list[ImportItem]:
        return [i for i in self.items if Action.INACTIVATE in i.actions]

    def to_json(self) -> dict[str, Any]:
        return {
            "root_group_id": self.root_group_id,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "items": [
                {
                    "pco_id": i.ref,
                    "kind": i.kind.value,
                    "name": i.name,
                    "parent_group_id": i.parent_group_id,
                    "parent_pco_id": i.parent_pending,
                    "rock_group_id": i.group_id,
                    "actions": [a.value for a in i.actions],
                    "detail": i.detail,
                    "reason": i.reason,
                }
                for i in self.items
            ],
            "errors": self.errors,
            "notes": self.notes,
        }


class RemoveAction(StrEnum):
    DELETE = "delete"
    ARCHIVE = "archive"
    KEEP = "keep"


@dataclass
class RemoveItem:
    link: GroupLink
    group_id: int
    name: str
    depth: int
    action: RemoveAction
    reason: str = ""
    done: bool = False


@dataclass
class RemovePlan:
    items: list[RemoveItem]
    dry_run: bool = False
    applied: bool = False
    errors: list[str] = field(default_factory=list)

    def count(self, action: RemoveAction) -> int:
        return sum(1 for i in self.items if i.action is action)


# ---------------------------------------------------------------------------- the service


class TeamImport:
    """The folder import, its removal, and manual group links, for one connection."""

    def __init__(
        self,
        store: Store,
        rock: RockClient,
        pco: PcoClient,
        settings: TeamsSettings,
        *,
        config_file: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.rock = rock
        self.pco = pco
        self.settings = settings
        self.config_file = config_file
        self.progress = progress or NO_PROGRESS

    # -- Rock lookups ------------------------------------------------------------------

    async def root_group(self) -> RockGroup | None:
        """The parent group ``[teams]`` names (None when it names none)."""
        s = self.settings
        if s.parent_group_id is not None:
            try:
                return await self.rock.group(s.parent_group_id)
            except NotFoundError:
                raise ConfigError(
                    f"Rock has no group with Id {s.parent_group_id}",
                    key="teams.parent_group_id",
                    file=self.config_file,
                ) from None
        if not s.parent_group_name:
            return None
        escaped = s.parent_group_name.replace("'", "''")
        found = await self.rock.groups(filter=f"Name eq '{escaped}'")
        if len(found) != 1:
            which = ", ".join(str(g.id) for g in found)
            raise ConfigError(
                f"Rock has {len(found)} groups named {s.parent_group_name!r}"
                + (f" (Ids {which}); set parent_group_id instead" if found else ""),
                key="teams.parent_group_name",
                file=self.config_file,
            )
        return found[0]

    async def default_root(self, type_id: int, *, dry_run: bool) -> tuple[RockGroup, str, bool]:
        """With no parent group in ``[teams]``: the top-level group "Planning Center" this
        connection's import made (or finds), made once. Returns (group, what to tell the
        admin, whether this import still has to create it)."""
        how = "to put imported teams elsewhere, set parent_group_id in the [teams] section" + (
            f" of {self.config_file}" if self.config_file else ""
        )
        saved = self.store.watermarks.get(ROOT_KEY)
        if saved is not None and saved.isdigit():
            with contextlib.suppress(NotFoundError):
                group = await self.rock.group(int(saved))
                if not group.is_archived:
                    return group, "", False
        escaped = DEFAULT_ROOT_NAME.replace("'", "''")
        found = [
            g
            for g in await self.rock.groups(filter=f"Name eq '{escaped}' and ParentGroupId eq null")
            if not g.is_archived
        ]
        if len(found) == 1:
            if not dry_run:
                self.store.watermarks.set(ROOT_KEY, str(found[0].id))
            note = (
                f"Imported groups go under the top-level Rock group {DEFAULT_ROOT_NAME!r} "
                f"(Id {found[0].id}), found in Rock; {how}."
            )
            return found[0], note, False
        placeholder = RockGroup(
            0, DEFAULT_ROOT_NAME, type_id, None, None, True, False, None, 0, None, None
        )
        verb = "would be created" if dry_run else "was created"
        note = (
            f"No parent group is set, so a top-level Rock group {DEFAULT_ROOT_NAME!r} {verb} "
            f"for the imported groups (once); {how}."
        )
        return placeholder, note, True

    async def _create_root(self, plan: ImportPlan) -> int:
        guid = str(uuid.uuid4())
        body = {
            "Name": DEFAULT_ROOT_NAME,
            "GroupTypeId": plan.group_type_id,
            "ParentGroupId": None,
            "IsActive": True,
            "IsPublic": False,
            "IsSystem": False,
            "IsSecurityRole": False,
            "Guid": guid,
            "Description": "Planning Center teams, imported by pcosync teams import",
        }
        try:
            group_id = await self.rock.create_group(body)
        except AmbiguousWriteError:
            rows = await self.rock.query("Groups", filter=f"Guid eq {odata_guid(guid)}", top=2)
            group_id = int(rows[0]["Id"]) if rows else await self.rock.create_group(body)
        self.store.watermarks.set(ROOT_KEY, str(group_id))
        return group_id

    async def group_type_id(self) -> int:
        value = self.settings.group_type.strip()
        if value.isdigit():
            return int(value)
        try:
            return await self.rock.id_for_guid("GroupTypes", value)
        except NotFoundError:
            raise ConfigError(
                f"Rock has no group type with GUID {value}",
                key="teams.group_type",
                file=self.config_file,
            ) from None

    async def _attribute_map(self, key: str, name: str, *, create: bool) -> dict[int, str]:
        """Group Id → value of a group attribute (creating the attribute when allowed)."""
        if create:
            attr_id = await self.rock.ensure_attribute(
                Guids.ENTITY_GROUP, key, name, "Written by pcosync (Planning Center sync)"
            )
        else:
            found = await self.rock.find_attribute(Guids.ENTITY_GROUP, key)
            if found is None:
                return {}
            attr_id = int(found["Id"])
        return {v.entity_id: v.value for v in await self.rock.attribute_values(attr_id)}

    async def _groups_by_id(self, ids: Iterable[int]) -> dict[int, RockGroup]:
        rows = await self.rock.query_any("Groups", "Id", sorted(set(ids)))
        return {g.id: g for g in (RockGroup.parse(r, self.rock.tz) for r in rows)}

    # -- import ------------------------------------------------------------------------

    async def plan_import(
        self, *, folders: Sequence[str] = (), adopt: bool = False, dry_run: bool = False
    ) -> ImportPlan:
        self.progress.phase("Reading Planning Center and Rock", unit="requests")
        type_id = await self.group_type_id()
        root = await self.root_group()
        root_note, create_root = "", False
        if root is None:
            root, root_note, create_root = await self.default_root(type_id, dry_run=dry_run)
        pco_folders = await self.pco.folders()
        tree = build_tree(
            pco_folders,
            await self.pco.service_types(),
            await self.pco.teams(with_assignments=False),
        )
        selected = select_folders(pco_folders, folders) if folders else None
        # tags (optional) belong to no folder: a whole import (no --folder) brings them
        with_tags = self.settings.tags and selected is None
        if with_tags:
            add_tag_nodes(tree, await self.pco.tag_groups(), self.settings.tag_groups)

        def in_scope(node: PcoNode) -> bool:
            return selected is None or bool(node.folder_refs & selected)

        # a dry run must not create the attributes; read them when they exist
        pco_ids = await self._attribute_map(PCO_ID_KEY, "PCO Id", create=not dry_run)
        markers = await self._attribute_map(PCO_MARKER_KEY, "PCO Marker", create=not dry_run)
        links = {link.pco_id: link for link in self.store.groups.all()}
        groups = await self._groups_by_id(
            [link.rock_group_id for link in links.values()] + list(pco_ids)
        )
        marker = f"pcosync import {self.store.now().astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        plan = ImportPlan(root.id, root.name, type_id, marker, [], dry_run=dry_run)
        plan.create_root = create_root
        if root_note:
            plan.notes.append(root_note)

        # Rock groups carrying a PcoId and no store link: an earlier import's (they carry
        # its PcoMarker: a fresh state database) are taken back; others (another tool's,
        # or linked by hand once) only with --adopt
        adoptable: dict[str, int] = {}
        foreign: set[str] = set()
        linked_groups = {link.rock_group_id for link in links.values()}
        for gid, value in sorted(pco_ids.items()):
            group = groups.get(gid)
            if group is None or group.is_archived or gid in linked_groups:
                continue
            if value in adoptable or value not in tree:
                continue
            if markers.get(gid) or adopt:
                adoptable[value] = gid
            else:
                foreign.add(value)
        if foreign:
            plan.notes.append(
                f"{len(foreign)} existing Rock group(s) carry the PcoId of a Planning Center "
                "team or folder but were not made by this import (another tool, or linked by "
                "hand): run the import with --adopt to use them instead of creating new ones."
            )

        # Rock group of each node: an existing linked group, or None while it is to be created
        planned_group: dict[str, int | None] = {
            ref: link.rock_group_id
            for ref, link in links.items()
            if link.rock_group_id in groups and link.status is GroupLinkStatus.ACTIVE
        }

        def parent_of(node: PcoNode) -> tuple[int | None, str | None]:
            """(known parent group Id, or the ref of a parent created earlier in this plan)."""
            if node.parent_ref is None or node.parent_ref not in planned_group:
                return root.id, None  # top level, or its parent folder is not imported
            gid = planned_group[node.parent_ref]
            return (gid, None) if gid is not None else (None, node.parent_ref)

        for node in tree.values():
            if not in_scope(node):
                continue
            link = links.get(node.ref)
            group = groups.get(link.rock_group_id) if link else None
            if link is not None and group is None:
                # the group was deleted or archived in Rock: forget the link, start afresh
                if not dry_run:
                    self.store.groups.remove(link.id)
                link = None
            if not node.live:
                planned_group.pop(node.ref, None)
                if link is not None and group is not None:
                    item = self._plan_dead(node, link, group)
                    if item is not None:
                        plan.items.append(item)
                continue
            parent_id, parent_pending = parent_of(node)
            if link is None and node.ref in adoptable:
                gid = adoptable[node.ref]
                planned_group[node.ref] = gid
                ours = bool(markers.get(gid))
                plan.items.append(
                    ImportItem(
                        node.ref,
                        node.kind,
                        groups[gid].name,
                        parent_id,
                        parent_pending,
                        gid,
                        [Action.ADOPT],
                        [
                            f"made by an earlier import (Rock group {gid})"
                            if ours
                            else f"existing Rock group {gid} carries PcoId {node.ref}"
                        ],
                        created_by_import=ours,
                        label=_label_of(node, tree),
                    )
                )
                continue
            if link is None or group is None:
                planned_group[node.ref] = None
                plan.items.append(
                    ImportItem(
                        node.ref,
                        node.kind,
                        node.name,
                        parent_id,
                        parent_pending,
                        None,
                        [Action.CREATE],
                        label=_label_of(node, tree),
                    )
                )
                continue
            planned_group[node.ref] = group.id
            existing = self._plan_existing(
                node,
                link,
                group,
                parent_id,
                parent_pending,
                pco_ids.get(group.id),
                markers.get(group.id),
            )
            existing.label = _label_of(node, tree)
            plan.items.append(existing)

        # imported groups whose PCO node has gone (404 / past the 30 days) or moved out of scope
        for ref, link in links.items():
            if ref in tree or link.kind not in STRUCTURE_KINDS:
                continue
            if link.kind in TAG_KINDS and not with_tags:
                continue  # tags are off (or a --folder import): their groups stay as they are
            group = groups.get(link.rock_group_id)
            if group is None or not self._rock_in_scope(group, links, groups, selected):
                continue
            kind_ref = parse_ref(ref)
            node = PcoNode(
                ref,
                link.kind,
                group.name,
                None,
                live=False,
                why_not_live="no longer in Planning Center",
            )
            if kind_ref is not None and kind_ref[0] is GroupKind.TEAM:
                node.why_not_live = await self._team_gone_reason(kind_ref[1])
            item = self._plan_dead(node, link, group)
            if item is not None:
                plan.items.append(item)
        return plan

    def _remember_names(self, plan: ImportPlan) -> None:
        """Keep each link's name current (output names groups by it; no Rock write)."""
        links = {link.pco_id: link for link in self.store.groups.all()}
        for item in plan.items:
            link = links.get(item.ref)
            if link is not None and item.label and link.name != item.label:
                self.store.groups.set_name(link.id, item.label)

    async def _team_gone_reason(self, team_id: str) -> str:
        try:
            team = await self.pco.team(team_id)
        except NotFoundError:
            return "no longer in Planning Center (404: deleted more than 30 days ago)"
        return _dead_reason(team.archived_at, team.deleted_at) or "not listed by Planning Center"

    def _rock_in_scope(
        self,
        group: RockGroup,
        links: dict[str, GroupLink],
        groups: dict[int, RockGroup],
        selected: frozenset[str] | None,
    ) -> bool:
        if selected is None:
            return True
        by_group = {link.rock_group_id: link.pco_id for link in links.values()}
        seen: set[int] = set()
        current: RockGroup | None = group
        while current is not None and current.id not in seen:
            seen.add(current.id)
            if by_group.get(current.id) in selected:
                return True
            current = groups.get(current.parent_group_id or -1)
        return False

    def _plan_dead(self, node: PcoNode, link: GroupLink, group: RockGroup) -> ImportItem | None:
        if link.status is GroupLinkStatus.INACTIVE:
            return None  # inactivated and reported on an earlier run (an admin may undo it)
        return ImportItem(
            node.ref,
            node.kind,
            group.name,
            group.parent_group_id,
            None,
            group.id,
            [Action.INACTIVATE],
            created_by_import=link.created_by_import,
            link_id=link.id,
            reason=node.why_not_live,
        )

    def _plan_existing(
        self,
        node: PcoNode,
        link: GroupLink,
        group: RockGroup,
        parent_group_id: int | None,
        parent_pending: str | None,
        pco_id_value: str | None,
        marker_value: str | None,
    ) -> ImportItem:
        ours = link.created_by_import
        item = ImportItem(
            node.ref,
            node.kind,
            node.name,
            parent_group_id,
            parent_pending,
            group.id,
            [],
            created_by_import=link.created_by_import,
            link_id=link.id,
        )
        if link.status is GroupLinkStatus.INACTIVE:
            # only what the import inactivated is reactivated; an admin's choice stays
            item.actions.append(Action.REACTIVATE)
            item.detail.append("restored in Planning Center")
            item.set_active = not group.is_active
        if ours and group.name != node.name:
            item.actions.append(Action.RENAME)
            item.detail.append(f"renamed from {group.name!r}")
        if ours and (parent_pending or group.parent_group_id != parent_group_id):
            item.actions.append(Action.MOVE)
            item.detail.append(f"moved from parent group {group.parent_group_id}")
        item.write_pco_id = pco_id_value != node.ref
        item.write_marker = ours and not marker_value
        if item.write_pco_id or item.write_marker:
            item.actions.append(Action.MARK)
            item.detail.append(
                "attributes repaired: "
                + ", ".join(
                    k
                    for k, on in (
                        (PCO_ID_KEY, item.write_pco_id),
                        (PCO_MARKER_KEY, item.write_marker),
                    )
                    if on
                )
            )
        if not item.actions:
            item.actions.append(Action.UNCHANGED)
        if not ours:
            item.name = group.name  # a group we did not create keeps its own name
        return item

    async def apply_import(self, plan: ImportPlan) -> ImportPlan:
        """Write the plan, parents before children; one failing group is reported, not fatal."""
        if plan.dry_run:
            return plan
        if plan.create_root:
            plan.root_group_id = await self._create_root(plan)
            plan.notes = [
                n.replace("was created", f"(Id {plan.root_group_id}) was created")
                for n in plan.notes
            ]
            for item in plan.items:
                if item.parent_group_id == 0:
                    item.parent_group_id = plan.root_group_id
            plan.create_root = False
        group_of: dict[str, int] = {
            i.ref: i.group_id
            for i in plan.items
            if i.group_id is not None and Action.INACTIVATE not in i.actions
        }
        self.progress.phase("Writing groups", total=len(plan.items))
        for item in plan.items:
            self.progress.advance()
            try:
                await self._apply_item(plan, item, group_of)
            except (NotFoundError, ValidationError, PermissionDenied) as exc:
                # one group Rock refuses is reported; the rest of the import goes on
                plan.errors.append(f"{item.ref} {item.name!r}: {exc}")
                log.warning("teams.import_failed ref=%s error=%s", item.ref, exc)
        self._remember_names(plan)
        plan.applied = True
        return plan

    async def _apply_item(
        self, plan: ImportPlan, item: ImportItem, group_of: dict[str, int]
    ) -> None:
        parent_id = (
            group_of.get(item.parent_pending) if item.parent_pending else item.parent_group_id
        )
        if Action.CREATE in item.actions:
            if parent_id is None:
                plan.errors.append(f"{item.ref} {item.name!r}: its parent group was not created")
                return
            item.group_id = await self._create_group(plan, item, parent_id)
            group_of[item.ref] = item.group_id
            link = self.store.groups.upsert(
                item.group_id, item.ref, item.kind, created_by_import=True, name=item.label
            )
            item.link_id = link.id
            await self.rock.set_attribute_value("Groups", item.group_id, PCO_ID_KEY, item.ref)
            await self.rock.set_attribute_value(
                "Groups", item.group_id, PCO_MARKER_KEY, plan.marker
            )
            return
        assert item.group_id is not None
        gid = item.group_id
        if Action.ADOPT in item.actions:
            # a group an earlier import made (PcoMarker) is managed as the import's again
            self.store.groups.upsert(
                gid,
                item.ref,
                item.kind,
                created_by_import=item.created_by_import,
                name=item.label,
            )
            return
        if Action.INACTIVATE in item.actions:
            await self.rock.update_group(gid, {"IsActive": False})
            if item.link_id is not None:
                self.store.groups.set_status(item.link_id, GroupLinkStatus.INACTIVE)
            return
        changes: dict[str, Any] = {}
        if item.set_active:
            changes["IsActive"] = True
        if Action.RENAME in item.actions:
            changes["Name"] = item.name
        if Action.MOVE in item.actions and parent_id is not None:
            changes["ParentGroupId"] = parent_id
        if changes:
            await self.rock.update_group(gid, changes)
        if Action.REACTIVATE in item.actions and item.link_id is not None:
            self.store.groups.set_status(item.link_id, GroupLinkStatus.ACTIVE)
        if item.write_pco_id:
            await self.rock.set_attribute_value("Groups", gid, PCO_ID_KEY, item.ref)
        if item.write_marker:
            await self.rock.set_attribute_value("Groups", gid, PCO_MARKER_KEY, plan.marker)

    async def _create_group(self, plan: ImportPlan, item: ImportItem, parent_id: int) -> int:
        """POST with our own Guid, so a lost answer is settled by reading that Guid back."""
        guid = str(uuid.uuid4())
        body = {
            "Name": item.name,
            "GroupTypeId": plan.group_type_id,
            "ParentGroupId": parent_id,
            "IsActive": True,
            "IsPublic": False,
            "IsSystem": False,
            "IsSecurityRole": False,
            "Guid": guid,
            "Description": f"Planning Center {item.ref} (created by pcosync teams import)",
        }
        try:
            return await self.rock.create_group(body)
        except AmbiguousWriteError:
            rows = await self.rock.query("Groups", filter=f"Guid eq {odata_guid(guid)}", top=2)
            if rows:
                return int(rows[0]["Id"])
            return await self.rock.create_group(body)

    # -- removal -----------------------------------------------------------------------

    async def plan_remove(
        self, *, folders: Sequence[str] = (), dry_run: bool = False
    ) -> RemovePlan:
        links = [link for link in self.store.groups.all(imported_only=True)]
        markers = await self._attribute_map(PCO_MARKER_KEY, "PCO Marker", create=False)
        groups = await self._groups_by_id([link.rock_group_id for link in links])
        ours = {
            link.rock_group_id: link
            for link in links
            if link.rock_group_id in groups and markers.get(link.rock_group_id)
        }
        if folders:
            wanted = {w.lower() for w in folders}
            roots = {
                gid
                for gid, link in ours.items()
                if link.kind is GroupKind.FOLDER
                and (
                    link.pco_id.partition(":")[2] in wanted
                    or groups[gid].name.strip().lower() in wanted
                )
            }
            if not roots:
                raise UsageError(
                    "--folder: no folder the import made matches "
                    + ", ".join(repr(f) for f in folders)
                    + "; `pcosync teams links` lists the imported folders"
                )

        def depth_and_scope(gid: int) -> tuple[int, bool]:
            depth, current, in_scope = 0, groups.get(gid), not folders
            seen: set[int] = set()
            while current is not None and current.id not in seen:
                seen.add(current.id)
                if folders and current.id in roots:
                    in_scope = True
                depth += 1
                current = groups.get(current.parent_group_id or -1)
            return depth, in_scope

        candidates: list[tuple[int, GroupLink]] = []
        for gid, link in ours.items():
            depth, in_scope = depth_and_scope(gid)
            if in_scope:
                candidates.append((depth, link))
        ids = [link.rock_group_id for _, link in candidates]
        members = await self.rock.group_members(group_ids=ids) if ids else []
        children = await self.rock.query_any("Groups", "ParentGroupId", ids, gap=0) if ids else []
        history = await self._group_history(ids)
        managed = self._managed_people(candidates)
        members_by_group: dict[int, list[int]] = {}
        for m in members:
            members_by_group.setdefault(m.group_id, []).append(m.person_id)
        children_by_group: dict[int, list[int]] = {}
        for row in children:
            if row.get("ParentGroupId") is not None:
                children_by_group.setdefault(int(row["ParentGroupId"]), []).append(int(row["Id"]))
        removing = {link.rock_group_id for _, link in candidates}

        items: list[RemoveItem] = []
        archived: set[int] = set()
        for depth, link in sorted(candidates, key=lambda c: (-c[0], c[1].rock_group_id)):
            gid = link.rock_group_id
            g = groups[gid]
            foreign_children = [c for c in children_by_group.get(gid, []) if c not in removing]
            foreign_members = [
                p for p in members_by_group.get(gid, []) if p not in managed.get(gid, set())
            ]
            foreign_history = [p for p in history.get(gid, []) if p not in managed.get(gid, set())]
            kept_children = [c for c in children_by_group.get(gid, []) if c in archived]
            if foreign_children:
                action = RemoveAction.KEEP
                listed = ", ".join(map(str, foreign_children))
                reason = f"holds groups the import did not create ({listed})"
            elif foreign_members:
                action, reason = RemoveAction.ARCHIVE, f"has {len(foreign_members)} member(s)"
            elif foreign_history:
                action, reason = RemoveAction.ARCHIVE, "has membership history"
            elif kept_children:
                action, reason = RemoveAction.ARCHIVE, "some of its groups were archived"
            else:
                action, reason = RemoveAction.DELETE, ""
            if action is not RemoveAction.DELETE:
                archived.add(gid)
            items.append(RemoveItem(link, gid, g.name, depth, action, reason))
        # a kept group keeps its ancestors too
        kept = {i.group_id for i in items if i.action is RemoveAction.KEEP}
        for item in sorted(items, key=lambda i: i.depth, reverse=True):
            if item.action is not RemoveAction.KEEP and any(
                c in kept for c in children_by_group.get(item.group_id, [])
            ):
                item.action, item.reason = RemoveAction.KEEP, "holds a group that is kept"
                kept.add(item.group_id)
        return RemovePlan(items, dry_run=dry_run)

    def _managed_people(self, candidates: Iterable[tuple[int, GroupLink]]) -> dict[int, set[int]]:
        """Rock person Ids whose membership the sync manages, per group."""
        by_link = {link.id: link.rock_group_id for _, link in candidates}
        if not by_link:
            return {}
        people = {link.id: link.rock_person_id for link in self.store.links.all()}
        out: dict[int, set[int]] = {}
        for link_id, group_link_id in self.store.links.load_memberships():
            gid = by_link.get(group_link_id)
            if gid is not None and link_id in people:
                out.setdefault(gid, set()).add(people[link_id])
        return out

    async def _group_history(self, group_ids: Sequence[int]) -> dict[int, list[int]]:
        """People with membership history in each group (Rock keeps it on the person)."""
        if not group_ids:
            return {}
        group_type = await self.rock.id_for_guid("EntityTypes", Guids.ENTITY_GROUP)
        rows = await self.rock.query_any(
            "Histories",
            "RelatedEntityId",
            group_ids,
            filter=f"RelatedEntityTypeId eq {group_type}",
            select=["Id", "EntityId", "RelatedEntityId"],
            gap=0,  # a group in a hole could hold any amount of history
        )
        out: dict[int, list[int]] = {}
        for row in rows:
            out.setdefault(int(row["RelatedEntityId"]), []).append(int(row["EntityId"]))
        return out

    async def apply_remove(self, plan: RemovePlan) -> RemovePlan:
        if plan.dry_run:
            return plan
        for item in plan.items:
            if item.action is RemoveAction.KEEP:
                continue
            try:
                if item.action is RemoveAction.DELETE:
                    await self.rock.delete("Groups", item.group_id)
                else:
                    await self.rock.update_group(item.group_id, {"IsArchived": True})
            except NotFoundError:
                pass  # already gone: the outcome we wanted
            self.store.groups.remove(item.link.id)
            item.done = True
        plan.applied = True
        return plan

    # -- manual links ------------------------------------------------------------------

    async def _group_or_usage(self, group_id: int) -> RockGroup:
        try:
            return await self.rock.group(group_id)
        except NotFoundError:
            raise UsageError(
                f"Rock has no group with Id {group_id}. Open the group in Rock and take the "
                "number after GroupId= in its address, then run the command again."
            ) from None

    async def link(
        self, group_id: int, team_position_id: str, *, services_permission: str | None = None
    ) -> GroupLink:
        """Link a group to a team position (an id, or ``TeamPosition:<id>``) or, with
        ``Tag:<id>``, to a Services person tag."""
        kind_ref = parse_ref(team_position_id)
        if kind_ref is not None and kind_ref[0] is GroupKind.TAG:
            return await self._link_tag(group_id, kind_ref[1])
        if kind_ref is not None and kind_ref[0] is GroupKind.TEAM_POSITION:
            team_position_id = kind_ref[1]
        elif kind_ref is not None or not team_position_id.isdigit():
            raise UsageError(
                f"{team_position_id!r} is not a team position id (e.g. 44000001) or a tag "
                "(Tag:<id>). `pcosync teams import --dry-run` lists the positions with their "
                "ids (TeamPosition:<id>)."
            )
        group = await self._group_or_usage(group_id)
        teams = await self.pco.teams(with_assignments=False)
        team = next((t for t in teams if any(p.id == team_position_id for p in t.positions)), None)
        if team is None:
            raise UsageError(
                f"Planning Center has no team position {team_position_id}. "
                "`pcosync teams import --dry-run` lists the positions with their ids "
                "(TeamPosition:<id>)."
            )
        if not team.live:
            raise UsageError(
                f"team {team.name!r} ({team.id}) is "
                + _dead_reason(team.archived_at, team.deleted_at)
                + "; restore it there first"
            )
        position = next(p for p in team.positions if p.id == team_position_id)
        ref = pco_ref(GroupKind.TEAM_POSITION, team_position_id)
        return await self._store_link(
            group.id,
            ref,
            GroupKind.TEAM_POSITION,
            name=f"{team.name} › {position.name}",
            services_permission=services_permission,
        )

    async def _link_tag(self, group_id: int, tag_id: str) -> GroupLink:
        group = await self._group_or_usage(group_id)
        groups = await self.pco.tag_groups()
        tags = {t.id: (g, t) for g in groups for t in g.tags}
        if tag_id not in tags:
            raise UsageError(
                f"Planning Center has no person tag {tag_id}. `pcosync teams import --dry-run` "
                "with tags = true in [teams] lists them with their ids (Tag:<id>)."
            )
        tag_group, tag = tags[tag_id]
        ref = pco_ref(GroupKind.TAG, tag_id)
        return await self._store_link(
            group.id, ref, GroupKind.TAG, name=f"{tag_group.name} › {tag.name}"
        )

    async def _store_link(
        self,
        group_id: int,
        ref: str,
        kind: GroupKind,
        *,
        name: str | None = None,
        services_permission: str | None = None,
    ) -> GroupLink:
        link = self.store.groups.upsert(
            group_id, ref, kind, name=name, services_permission=services_permission
        )
        await self.rock.ensure_attribute(
            Guids.ENTITY_GROUP, PCO_ID_KEY, "PCO Id", "Written by pcosync (Planning Center sync)"
        )
        await self.rock.set_attribute_value("Groups", group_id, PCO_ID_KEY, ref)
        return link

    async def unlink(self, group_id: int) -> GroupLink:
        link = self.store.groups.by_rock(group_id)
        if link is None:
            raise UsageError(
                f"Rock group {group_id} is not linked to Planning Center. "
                "`pcosync teams links` lists the linked groups."
            )
        self.store.groups.remove(link.id)
        with contextlib.suppress(NotFoundError):
            await self.rock.clear_attribute_value("Groups", group_id, PCO_ID_KEY)
        return link

    async def set_permission(self, group_id: int, level: str | None) -> list[GroupLink]:
        """The Services permission people the sync assigns through this group get at least:
        a position group's own, or (a team's group) every linked position of the team's.
        ``None`` goes back to ``[teams] services_permission``. Returns the links changed."""
        link = self.store.groups.by_rock(group_id)
        if link is None or link.kind not in (GroupKind.TEAM_POSITION, GroupKind.TEAM):
            what = "is not linked" if link is None else f"is linked to a {link.kind.value}"
            raise UsageError(
                f"Rock group {group_id} {what}: a Services permission belongs to a group "
                "linked to a team position (or a team: all its positions). "
                "`pcosync teams links` lists them."
            )
        targets = [link]
        if link.kind is GroupKind.TEAM:
            team = await self.pco.team(link.pco_id.partition(":")[2])
            wanted = {pco_ref(GroupKind.TEAM_POSITION, p.id) for p in team.positions}
            targets = [g for g in self.store.groups.all() if g.pco_id in wanted]
            if not targets:
                raise UsageError(
                    f"none of the positions of team {team.name!r} is linked to a Rock group "
                    "yet: run `pcosync teams import` first"
                )
        for target in targets:
            self.store.groups.set_services_permission(target.id, level)
        return [g for g in self.store.groups.all() if g.id in {t.id for t in targets}]

    async def links(self) -> list[tuple[GroupLink, RockGroup | None]]:
        links = self.store.groups.all()
        groups = await self._groups_by_id([link.rock_group_id for link in links]) if links else {}
        return [(link, groups.get(link.rock_group_id)) for link in links]


async def import_teams(
    teams: TeamImport,
    *,
    folders: Sequence[str] = (),
    adopt: bool = False,
    dry_run: bool = False,
    wait: bool = False,
) -> ImportPlan:
    """Plan and apply a folder import under the connection's run lease (a sync running
    meanwhile would read half-built groups)."""
    from pcosync.app.lease import RunLease

    async with RunLease(teams.store, "teams import", wait=wait):
        plan = await teams.plan_import(folders=folders, adopt=adopt, dry_run=dry_run)
        return await teams.apply_import(plan)


async def remove_import(
    teams: TeamImport, *, folders: Sequence[str] = (), wait: bool = False
) -> RemovePlan:
    """Remove what the import created, planned afresh under the run lease: what is true
    now is what gets removed."""
    from pcosync.app.lease import RunLease

    async with RunLease(teams.store, "teams remove-import", wait=wait):
        plan = await teams.plan_remove(folders=folders)
        return await teams.apply_remove(plan)
