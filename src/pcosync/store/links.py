"""Links between people (and groups), their bases, and pairs an admin keeps apart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from pcosync.domain.fields import FieldName
from pcosync.domain.identity import GroupKind, PcoPersonId, RockPersonId, Side
from pcosync.engine.merge import Base
from pcosync.engine.plan import agreed_by
from pcosync.errors import PcoSyncError
from pcosync.store.base import chunks, upsert
from pcosync.store.models import (
    GroupLinkRow,
    LinkExclusionRow,
    LinkRow,
    MembershipBaseRow,
    PersonBaseRow,
)

if TYPE_CHECKING:
    from pcosync.store.base import Store


class LinkStatus(StrEnum):
    ACTIVE = "active"
    ORPHANED = "orphaned"  # (before 0.2) one side's record was gone; such links are retired


class LinkConflict(PcoSyncError):
    """A link would join a record that is already linked to someone else."""


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    connection: str
    rock_person_id: RockPersonId
    rock_alias_id: int | None
    pco_person_id: PcoPersonId
    status: LinkStatus
    created_at: datetime
    updated_at: datetime

    def describe(self) -> str:
        return (
            f"Rock person {self.rock_person_id} ⇄ Planning Center person "
            f"{self.pco_person_id} (link {self.id})"
        )


def _link(row: LinkRow) -> Link:
    return Link(
        row.id,
        row.connection,
        row.rock_person_id,
        row.rock_alias_id,
        row.pco_person_id,
        LinkStatus(row.status),
        row.created_at,
        row.updated_at,
    )


class LinkRepo:
    """People links, their person bases and membership bases."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def _conn(self) -> str:
        return self._store.connection

    def _one(self, session: Session, **where: object) -> LinkRow | None:
        stmt = select(LinkRow).filter_by(connection=self._conn, **where)
        return session.scalars(stmt).first()

    # --- finding ------------------------------------------------------------------------

    def get(self, link_id: int) -> Link | None:
        with self._store.transaction() as s:
            row = self._one(s, id=link_id)
            return _link(row) if row else None

    def by_rock(self, rock_person_id: RockPersonId) -> Link | None:
        with self._store.transaction() as s:
            row = self._one(s, rock_person_id=rock_person_id)
            return _link(row) if row else None

    def by_pco(self, pco_person_id: PcoPersonId) -> Link | None:
        with self._store.transaction() as s:
            row = self._one(s, pco_person_id=pco_person_id)
            return _link(row) if row else None

    def by_alias(self, rock_alias_id: int) -> Link | None:
        """Follows a Rock merge: the old person's alias now belongs to the survivor."""
        with self._store.transaction() as s:
            row = self._one(s, rock_alias_id=rock_alias_id)
            return _link(row) if row else None

    def find(
        self,
        *,
        rock_person_id: RockPersonId | None = None,
        pco_person_id: PcoPersonId | None = None,
        rock_alias_id: int | None = None,
    ) -> Link | None:
        """The link holding any of the given ids (Rock id, then alias, then PCO id)."""
        if rock_person_id is not None and (link := self.by_rock(rock_person_id)):
            return link
        if rock_alias_id is not None and (link := self.by_alias(rock_alias_id)):
            return link
        if pco_person_id is not None:
            return self.by_pco(pco_person_id)
        return None

    def all(self, status: LinkStatus | None = None) -> list[Link]:
        with self._store.transaction() as s:
            stmt = select(LinkRow).filter_by(connection=self._conn).order_by(LinkRow.id)
            if status is not None:
                stmt = stmt.filter_by(status=status.value)
            return [_link(r) for r in s.scalars(stmt)]

    def count(self, status: LinkStatus | None = LinkStatus.ACTIVE) -> int:
        with self._store.transaction() as s:
            stmt = select(func.count()).select_from(LinkRow).filter_by(connection=self._conn)
            if status is not None:
                stmt = stmt.filter_by(status=status.value)
            return int(s.scalar(stmt) or 0)

    # --- changing -----------------------------------------------------------------------

    def add(
        self,
        rock_person_id: RockPersonId,
        pco_person_id: PcoPersonId,
        *,
        rock_alias_id: int | None = None,
    ) -> Link:
        """Link a pair. Idempotent for the same pair (refreshes the alias id); raises
        :class:`LinkConflict` if either record is linked to someone else."""
        now = self._store.now()
        with self._store.transaction() as s:
            by_rock = self._one(s, rock_person_id=rock_person_id)
            by_pco = self._one(s, pco_person_id=pco_person_id)
            if by_rock is not None and by_rock is by_pco:
                if rock_alias_id is not None and by_rock.rock_alias_id != rock_alias_id:
                    by_rock.rock_alias_id = rock_alias_id
                    by_rock.updated_at = now
                return _link(by_rock)
            for existing in (by_rock, by_pco):
                if existing is not None:
                    raise LinkConflict(
                        f"Cannot link Rock person {rock_person_id} with Planning Center person "
                        f"{pco_person_id}: {_link(existing).describe()} already exists. "
                        "Unlink it first."
                    )
            row = LinkRow(
                connection=self._conn,
                rock_person_id=rock_person_id,
                rock_alias_id=rock_alias_id,
                pco_person_id=pco_person_id,
                status=LinkStatus.ACTIVE.value,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            return _link(row)

    def repoint(
        self,
        link_id: int,
        *,
        rock_person_id: RockPersonId | None = None,
        rock_alias_id: int | None = None,
        pco_person_id: PcoPersonId | None = None,
    ) -> Link:
        """Move a link to a merge survivor. If the survivor is already linked (both
        duplicates were synced), raises :class:`LinkConflict` naming the other link."""
        now = self._store.now()
        with self._store.transaction() as s:
            row = self._one(s, id=link_id)
            if row is None:
                raise LookupError(f"link {link_id} does not exist")
            if rock_person_id is not None and rock_person_id != row.rock_person_id:
                other = self._one(s, rock_person_id=rock_person_id)
                if other is not None:
                    raise LinkConflict(
                        f"Rock person {rock_person_id} (the merge survivor) is already in "
                        f"{_link(other).describe()}; link {link_id} cannot follow the merge."
                    )
                row.rock_person_id = rock_person_id
            if pco_person_id is not None and pco_person_id != row.pco_person_id:
                other = self._one(s, pco_person_id=pco_person_id)
                if other is not None:
                    raise LinkConflict(
                        f"Planning Center person {pco_person_id} (the merge survivor) is "
                        f"already in {_link(other).describe()}; link {link_id} cannot follow "
                        "the merge."
                    )
                row.pco_person_id = pco_person_id
            if rock_alias_id is not None:
                row.rock_alias_id = rock_alias_id
            if rock_person_id is not None or pco_person_id is not None:
                row.pco_link_owed = True  # the survivor's record needs the id (again)
            row.updated_at = now
            s.flush()
            return _link(row)

    # --- link ids owed to Planning Center ---------------------------------------------

    def owe_pco_link(self, link_ids: Iterable[int]) -> None:
        """These links' Planning Center records still need their ``remote_id``."""
        ids = list(link_ids)
        with self._store.transaction() as s:
            for part in chunks(ids, 500):
                s.execute(
                    update(LinkRow)
                    .where(LinkRow.connection == self._conn, LinkRow.id.in_(part))
                    .values(pco_link_owed=True)
                )

    def pco_link_written(self, link_id: int, pco_person_id: PcoPersonId) -> None:
        """The ``remote_id`` landed on this Planning Center record (a link repointed since
        to another record stays owed)."""
        with self._store.transaction() as s:
            s.execute(
                update(LinkRow)
                .where(
                    LinkRow.connection == self._conn,
                    LinkRow.id == link_id,
                    LinkRow.pco_person_id == pco_person_id,
                )
                .values(pco_link_owed=False)
            )

    def owed_pco_links(self, limit: int | None = None) -> list[Link]:
        """Active links whose Planning Center record still lacks its ``remote_id``, oldest
        first."""
        with self._store.transaction() as s:
            stmt = (
                select(LinkRow)
                .filter_by(
                    connection=self._conn, status=LinkStatus.ACTIVE.value, pco_link_owed=True
                )
                .order_by(LinkRow.id)
            )
            if limit is not None:
                stmt = stmt.limit(limit)
            return [_link(r) for r in s.scalars(stmt)]

    def owed_pco_link_ids(self) -> set[int]:
        with self._store.transaction() as s:
            stmt = select(LinkRow.id).filter_by(connection=self._conn, pco_link_owed=True)
            return set(s.scalars(stmt))

    def set_status(self, link_id: int, status: LinkStatus) -> Link:
        with self._store.transaction() as s:
            row = self._one(s, id=link_id)
            if row is None:
                raise LookupError(f"link {link_id} does not exist")
            row.status = status.value
            row.updated_at = self._store.now()
            return _link(row)

    def remove(self, link_id: int) -> tuple[Link, Base | None]:
        """Unlink: delete the link with its bases; returns both for the journal."""
        with self._store.transaction() as s:
            row = self._one(s, id=link_id)
            if row is None:
                raise LookupError(f"link {link_id} does not exist")
            link = _link(row)
            base_row = s.get(PersonBaseRow, link_id)
            base = Base.from_json(base_row.fields) if base_row is not None else None
            s.execute(delete(MembershipBaseRow).where(MembershipBaseRow.link_id == link_id))
            s.execute(delete(PersonBaseRow).where(PersonBaseRow.link_id == link_id))
            s.delete(row)
            return link, base

    # --- person bases -------------------------------------------------------------------

    def load_bases(self, link_ids: Iterable[int] | None = None) -> dict[int, Base]:
        """Bases by link id: all of this connection's, or just the given links'."""
        with self._store.transaction() as s:
            stmt = (
                select(PersonBaseRow.link_id, PersonBaseRow.fields)
                .join(LinkRow, LinkRow.id == PersonBaseRow.link_id)
                .where(LinkRow.connection == self._conn)
            )
            if link_ids is None:
                return {lid: Base.from_json(raw) for lid, raw in s.execute(stmt)}
            out: dict[int, Base] = {}
            for part in chunks(sorted(set(link_ids))):
                for lid, raw in s.execute(stmt.where(PersonBaseRow.link_id.in_(part))):
                    out[lid] = Base.from_json(raw)
            return out

    def bases_saved_since(self, link_ids: Iterable[int], since: datetime) -> set[int]:
        """The links among these whose base was saved after ``since``: a run synced them."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        out: set[int] = set()
        with self._store.transaction() as s:
            stmt = (
                select(PersonBaseRow.link_id, PersonBaseRow.updated_at)
                .join(LinkRow, LinkRow.id == PersonBaseRow.link_id)
                .where(LinkRow.connection == self._conn)
            )
            for part in chunks(sorted(set(link_ids))):
                for lid, saved in s.execute(stmt.where(PersonBaseRow.link_id.in_(part))):
                    if saved.tzinfo is None:
                        saved = saved.replace(tzinfo=UTC)
                    if saved > since:
                        out.add(lid)
        return out

    def save_bases(self, bases: Mapping[int, Base]) -> None:
        """Insert or replace the bases of these links, in one statement per chunk."""
        if not bases:
            return
        now = self._store.now()
        rows = [
            {"link_id": lid, "fields": base.to_json(), "updated_at": now}
            for lid, base in bases.items()
        ]
        table = PersonBaseRow.__table__
        with self._store.transaction() as s:
            for part in chunks(rows, 1000):
                stmt = upsert(s, table)  # type: ignore[arg-type]
                stmt = stmt.on_conflict_do_update(
                    index_elements=["link_id"],
                    set_={"fields": stmt.excluded.fields, "updated_at": stmt.excluded.updated_at},
                )
                s.execute(stmt, part)

    def save_base(self, link_id: int, base: Base) -> None:
        self.save_bases({link_id: base})

    def set_held(
        self, marks: Mapping[int, Iterable[tuple[FieldName, Side, int]]], run_id: int
    ) -> None:
        """Store these links' notes (``Base.held``) as held run ``run_id``, the last held
        run to read them (``Base.held_by``), left them. The base's saved time stays: no run
        synced them (an approval tells people synced since the hold by it)."""
        if not marks:
            return
        table = PersonBaseRow.__table__
        with self._store.transaction() as s:
            for part in chunks(sorted(marks), 1000):
                stmt = select(PersonBaseRow.link_id, PersonBaseRow.fields).where(
                    PersonBaseRow.link_id.in_(part)
                )
                for lid, raw in s.execute(stmt).all():
                    base = Base.from_json(raw)
                    marked = base.with_held(marks[lid], run_id)
                    if marked is not base:
                        s.execute(
                            update(table)  # type: ignore[arg-type]
                            .where(table.c.link_id == lid)
                            .values(fields=marked.to_json())
                        )

    def agree_held(self, run_id: int) -> None:
        """Held run ``run_id`` was approved: the people it was the last held run to read
        keep only the notes it read itself (``engine.agreed_by``). Saved time stays."""
        changed = {}
        for lid, base in self.load_bases().items():
            if base.held_by == run_id:
                agreed = agreed_by(base, run_id)
                if agreed is not base:
                    changed[lid] = agreed
        if not changed:
            return
        table = PersonBaseRow.__table__
        with self._store.transaction() as s:
            for lid, base in changed.items():
                s.execute(
                    update(table)  # type: ignore[arg-type]
                    .where(table.c.link_id == lid)
                    .values(fields=base.to_json())
                )

    # --- membership bases ---------------------------------------------------------------

    def load_memberships(self, link_ids: Iterable[int] | None = None) -> set[tuple[int, int]]:
        """(link id, group link id) pairs whose base is "member" (on both sides)."""
        with self._store.transaction() as s:
            stmt = (
                select(MembershipBaseRow.link_id, MembershipBaseRow.group_link_id)
                .join(LinkRow, LinkRow.id == MembershipBaseRow.link_id)
                .where(LinkRow.connection == self._conn, MembershipBaseRow.split.is_(None))
            )
            if link_ids is None:
                return {(a, b) for a, b in s.execute(stmt)}
            out: set[tuple[int, int]] = set()
            for part in chunks(sorted(set(link_ids))):
                out.update(
                    (a, b) for a, b in s.execute(stmt.where(MembershipBaseRow.link_id.in_(part)))
                )
            return out

    def load_membership_splits(self) -> dict[tuple[int, int], str]:
        """Memberships a revert left differing: (link id, group link id) → the side
        ("rock" / "pco") that is a member."""
        with self._store.transaction() as s:
            stmt = (
                select(
                    MembershipBaseRow.link_id,
                    MembershipBaseRow.group_link_id,
                    MembershipBaseRow.split,
                )
                .join(LinkRow, LinkRow.id == MembershipBaseRow.link_id)
                .where(LinkRow.connection == self._conn, MembershipBaseRow.split.is_not(None))
            )
            return {(a, b): str(side) for a, b, side in s.execute(stmt)}

    def save_memberships(self, bases: Mapping[tuple[int, int], bool | str]) -> None:
        """Record membership bases: True stores the pair, False removes it, and a side
        ("rock" / "pco") records that only that side is a member, left so on purpose."""
        now = self._store.now()
        members = [
            {
                "link_id": lid,
                "group_link_id": gid,
                "updated_at": now,
                "split": is_member if isinstance(is_member, str) else None,
            }
            for (lid, gid), is_member in bases.items()
            if is_member
        ]
        gone = [key for key, is_member in bases.items() if not is_member]
        table = MembershipBaseRow.__table__
        with self._store.transaction() as s:
            for part in chunks(members, 1000):
                stmt = upsert(s, table)  # type: ignore[arg-type]
                stmt = stmt.on_conflict_do_update(
                    index_elements=["link_id", "group_link_id"],
                    set_={"updated_at": stmt.excluded.updated_at, "split": stmt.excluded.split},
                )
                s.execute(stmt, part)
            for lid, gid in gone:
                s.execute(
                    delete(MembershipBaseRow).where(
                        MembershipBaseRow.link_id == lid, MembershipBaseRow.group_link_id == gid
                    )
                )

    # --- pairs kept apart ---------------------------------------------------------------

    def exclude(
        self, rock_person_id: RockPersonId, pco_person_id: PcoPersonId, note: str | None = None
    ) -> None:
        """Never match this pair again (the admin unlinked it as a wrong match)."""
        with self._store.transaction() as s:
            stmt = upsert(s, LinkExclusionRow.__table__)  # type: ignore[arg-type]
            s.execute(
                stmt.values(
                    connection=self._conn,
                    rock_person_id=rock_person_id,
                    pco_person_id=pco_person_id,
                    note=note,
                    created_at=self._store.now(),
                ).on_conflict_do_nothing()
            )

    def allow(self, rock_person_id: RockPersonId, pco_person_id: PcoPersonId) -> None:
        with self._store.transaction() as s:
            s.execute(
                delete(LinkExclusionRow).where(
                    LinkExclusionRow.connection == self._conn,
                    LinkExclusionRow.rock_person_id == rock_person_id,
                    LinkExclusionRow.pco_person_id == pco_person_id,
                )
            )

    def exclusions(self) -> set[tuple[RockPersonId, PcoPersonId]]:
        with self._store.transaction() as s:
            stmt = select(LinkExclusionRow.rock_person_id, LinkExclusionRow.pco_person_id).where(
                LinkExclusionRow.connection == self._conn
            )
            return {(r, p) for r, p in s.execute(stmt)}


class GroupLinkStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # the PCO team was archived or deleted: not synced, kept for history
    SUSPENDED = "suspended"  # the Rock group was deleted, archived or inactivated by hand


@dataclass(frozen=True, slots=True)
class GroupLink:
    id: int
    connection: str
    rock_group_id: int
    pco_id: str
    kind: GroupKind
    created_by_import: bool
    status: GroupLinkStatus
    created_at: datetime
    updated_at: datetime
    name: str | None = None  # for output, e.g. "Band › Drums"
    services_permission: str | None = None  # None: the [teams] default

    def label(self) -> str:
        """For a person reading output: the name first, the ids after it."""
        ids = f"Rock group {self.rock_group_id}, Planning Center {self.pco_id}"
        return f"{self.name} ({ids})" if self.name else ids


def _group(row: GroupLinkRow) -> GroupLink:
    return GroupLink(
        row.id,
        row.connection,
        row.rock_group_id,
        row.pco_id,
        GroupKind(row.kind),
        row.created_by_import,
        GroupLinkStatus(row.status),
        row.created_at,
        row.updated_at,
        row.name,
        row.services_permission,
    )


class GroupLinkRepo:
    """Rock groups linked to PCO folders, service types, teams, positions and tags."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def upsert(
        self,
        rock_group_id: int,
        pco_id: str,
        kind: GroupKind,
        *,
        created_by_import: bool = False,
        name: str | None = None,
        services_permission: str | None = None,
    ) -> GroupLink:
        """Idempotent for the same pair; raises :class:`LinkConflict` if either is linked
        elsewhere. ``created_by_import`` only ever turns on (the import marker sticks);
        ``name`` and ``services_permission`` are updated when given."""
        now = self._store.now()
        conn = self._store.connection
        with self._store.transaction() as s:
            by_rock = s.scalars(
                select(GroupLinkRow).filter_by(connection=conn, rock_group_id=rock_group_id)
            ).first()
            by_pco = s.scalars(
                select(GroupLinkRow).filter_by(connection=conn, pco_id=pco_id)
            ).first()
            if by_rock is not None and by_rock is by_pco:
                by_rock.kind = kind.value
                by_rock.created_by_import = by_rock.created_by_import or created_by_import
                by_rock.status = GroupLinkStatus.ACTIVE.value
                by_rock.updated_at = now
                if name:
                    by_rock.name = name
                if services_permission:
                    by_rock.services_permission = services_permission
                return _group(by_rock)
            for existing in (by_rock, by_pco):
                if existing is not None:
                    raise LinkConflict(
                        f"Cannot link Rock group {rock_group_id} with Planning Center {pco_id}: "
                        f"Rock group {existing.rock_group_id} ⇄ {existing.pco_id} already exists."
                    )
            row = GroupLinkRow(
                connection=conn,
                rock_group_id=rock_group_id,
                pco_id=pco_id,
                kind=kind.value,
                created_by_import=created_by_import,
                status=GroupLinkStatus.ACTIVE.value,
                created_at=now,
                updated_at=now,
                name=name,
                services_permission=services_permission,
            )
            s.add(row)
            s.flush()
            return _group(row)

    def get(self, group_link_id: int) -> GroupLink | None:
        with self._store.transaction() as s:
            row = s.scalars(
                select(GroupLinkRow).filter_by(connection=self._store.connection, id=group_link_id)
            ).first()
            return _group(row) if row else None

    def by_rock(self, rock_group_id: int) -> GroupLink | None:
        with self._store.transaction() as s:
            row = s.scalars(
                select(GroupLinkRow).filter_by(
                    connection=self._store.connection, rock_group_id=rock_group_id
                )
            ).first()
            return _group(row) if row else None

    def by_pco(self, pco_id: str) -> GroupLink | None:
        with self._store.transaction() as s:
            row = s.scalars(
                select(GroupLinkRow).filter_by(connection=self._store.connection, pco_id=pco_id)
            ).first()
            return _group(row) if row else None

    def all(
        self,
        *,
        kind: GroupKind | None = None,
        status: GroupLinkStatus | None = None,
        imported_only: bool = False,
    ) -> list[GroupLink]:
        with self._store.transaction() as s:
            stmt = (
                select(GroupLinkRow)
                .filter_by(connection=self._store.connection)
                .order_by(GroupLinkRow.id)
            )
            if kind is not None:
                stmt = stmt.filter_by(kind=kind.value)
            if status is not None:
                stmt = stmt.filter_by(status=status.value)
            if imported_only:
                stmt = stmt.filter_by(created_by_import=True)
            return [_group(r) for r in s.scalars(stmt)]

    def set_status(self, group_link_id: int, status: GroupLinkStatus) -> None:
        with self._store.transaction() as s:
            s.execute(
                update(GroupLinkRow)
                .where(
                    GroupLinkRow.connection == self._store.connection,
                    GroupLinkRow.id == group_link_id,
                )
                .values(status=status.value, updated_at=self._store.now())
            )

    def set_name(self, group_link_id: int, name: str) -> None:
        self._set(group_link_id, name=name)

    def set_services_permission(self, group_link_id: int, level: str | None) -> None:
        self._set(group_link_id, services_permission=level)

    def _set(self, group_link_id: int, **values: Any) -> None:
        with self._store.transaction() as s:
            s.execute(
                update(GroupLinkRow)
                .where(
                    GroupLinkRow.connection == self._store.connection,
                    GroupLinkRow.id == group_link_id,
                )
                .values(**values, updated_at=self._store.now())
            )

    def remove(self, group_link_id: int) -> None:
        """Forget a group link and its membership bases (after removing an import).
        An id that belongs to another connection is left alone, with its bases."""
        with self._store.transaction() as s:
            mine = s.scalar(
                select(GroupLinkRow.id).filter_by(
                    connection=self._store.connection, id=group_link_id
                )
            )
            if mine is None:
                return
            s.execute(
                delete(MembershipBaseRow).where(MembershipBaseRow.group_link_id == group_link_id)
            )
            s.execute(delete(GroupLinkRow).where(GroupLinkRow.id == group_link_id))
