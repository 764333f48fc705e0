"""The emulator's data: records in dicts, indexes by parent, and every mutation.

All writes go through :class:`Store` methods so that three things can never be forgotten:
the indexes stay right, the record is marked dirty for the SQLite file (``--data``), and the
webhook event is queued (delivered after the request that caused it has finished).

Ids only grow, and each table's ``rows`` dict is kept in id order, so an unfiltered
collection page is a slice: no sorting of 100,000 people per request.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pcosync.emulators.pco.model import (
    Address,
    App,
    Assignment,
    Campus,
    Email,
    Folder,
    Household,
    Person,
    PersonApp,
    PersonMerger,
    PhoneNumber,
    ServicesPerson,
    ServiceType,
    Tag,
    TagGroup,
    Team,
    TeamLeader,
    TeamPosition,
    WebhookEvent,
    WebhookSubscription,
)

T = TypeVar("T")

SERVICES_APP_ID = 2
DELETED_TEAM_RETENTION = timedelta(days=30)

# First id of each table: distinct ranges, so an email id used as a person id 404s (#994).
ID_BASE: dict[str, int] = {
    "person": 110_000_001,
    "email": 220_000_001,
    "phone_number": 330_000_001,
    "address": 440_000_001,
    "campus": 77_001,
    "household": 5_500_001,
    "app": 1,
    "person_app": 660_000_001,
    "person_merger": 880_001,
    "folder": 3_300_001,
    "service_type": 1_200_001,
    "team": 6_600_001,
    "team_position": 44_000_001,
    "services_person": 110_000_001,
    "assignment": 990_000_001,
    "team_leader": 7_700_001,
    "tag_group": 1_100_001,
    "tag": 22_000_001,
    "webhook_subscription": 1_000_001,
    "webhook_event": 1,
    "webhook_delivery": 1,
}


def whole_seconds(when: datetime) -> datetime:
    return when.replace(microsecond=0)


class Table(Generic[T]):
    """Rows by id (in id order) plus an optional index of ids by a parent attribute."""

    def __init__(self, store: Store, kind: str, cls: type[T], parent: str | None = None) -> None:
        self.store = store
        self.kind = kind
        self.cls = cls
        self.parent = parent
        self.rows: dict[int, T] = {}
        self.by_parent: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[T]:
        return iter(self.rows.values())

    def get(self, rid: int | None) -> T | None:
        return None if rid is None else self.rows.get(rid)

    def values(self) -> list[T]:
        return list(self.rows.values())

    def _parent_of(self, row: T) -> int | None:
        if self.parent is None:
            return None
        value: int | None = getattr(row, self.parent)
        return value

    def add(self, row: T, *, load: bool = False) -> T:
        rid: int = getattr(row, "id")  # noqa: B009 - generic table over dataclasses
        if self.rows and rid < next(reversed(self.rows)):
            # out-of-order insert (only when loading a file): rebuild in id order
            self.rows[rid] = row
            self.rows = dict(sorted(self.rows.items()))
        else:
            self.rows[rid] = row
        parent = self._parent_of(row)
        if parent is not None:
            bisect.insort(self.by_parent.setdefault(parent, []), rid)
        if not load:
            self.store.mark(self.kind, rid)
        return row

    def remove(self, row: T) -> None:
        rid: int = getattr(row, "id")  # noqa: B009
        if self.rows.pop(rid, None) is None:
            return
        parent = self._parent_of(row)
        if parent is not None:
            ids = self.by_parent.get(parent, [])
            i = bisect.bisect_left(ids, rid)
            if i < len(ids) and ids[i] == rid:
                del ids[i]
            if not ids:
                self.by_parent.pop(parent, None)
        self.store.mark_removed(self.kind, rid)

    def reparent(self, row: T, new_parent: int) -> None:
        assert self.parent is not None
        rid: int = getattr(row, "id")  # noqa: B009
        old = self._parent_of(row)
        if old is not None:
            ids = self.by_parent.get(old, [])
            if rid in ids:
                ids.remove(rid)
            if not ids:
                self.by_parent.pop(old, None)
        setattr(row, self.parent, new_parent)
        bisect.insort(self.by_parent.setdefault(new_parent, []), rid)
        self.store.mark(self.kind, rid)

    def children(self, parent: int) -> list[T]:
        rows = self.rows
        return [rows[i] for i in self.by_parent.get(parent, ())]

    def clear(self) -> None:
        self.rows.clear()
        self.by_parent.clear()


@dataclass
class Organization:
    id: int
    name: str
    time_zone: str
    country_code: str = "US"
    date_format: str = "%m/%d/%Y"


@dataclass(frozen=True)
class QueuedEvent:
    """A webhook event waiting for its request to finish: name, resource kind and id."""

    name: str
    kind: str
    rid: int
    person_id: int | None = None


class Store:
    """Everything the emulator knows, with the mutations the API and the control plane use."""

    def __init__(self, org: Organization) -> None:
        self.org = org
        self.pat_user_id: int | None = None
        self.next_ids: dict[str, int] = dict(ID_BASE)
        self.dirty: set[tuple[str, int]] = set()
        self.removed: set[tuple[str, int]] = set()
        self.outbox: list[QueuedEvent] = []
        self.meta_dirty = False
        # People
        self.people: Table[Person] = Table(self, "person", Person)
        self.emails: Table[Email] = Table(self, "email", Email, "person_id")
        self.phones: Table[PhoneNumber] = Table(self, "phone_number", PhoneNumber, "person_id")
        self.addresses: Table[Address] = Table(self, "address", Address, "person_id")
        self.campuses: Table[Campus] = Table(self, "campus", Campus)
        self.households: Table[Household] = Table(self, "household", Household)
        self.apps: Table[App] = Table(self, "app", App)
        self.person_apps: Table[PersonApp] = Table(self, "person_app", PersonApp, "person_id")
        self.mergers: Table[PersonMerger] = Table(
            self, "person_merger", PersonMerger, "person_to_remove_id"
        )
        # Services
        self.folders: Table[Folder] = Table(self, "folder", Folder, "parent_id")
        self.service_types: Table[ServiceType] = Table(
            self, "service_type", ServiceType, "folder_id"
        )
        self.teams: Table[Team] = Table(self, "team", Team, "service_type_id")
        self.positions: Table[TeamPosition] = Table(self, "team_position", TeamPosition, "team_id")
        self.services_people: Table[ServicesPerson] = Table(self, "services_person", ServicesPerson)
        self.assignments: Table[Assignment] = Table(self, "assignment", Assignment, "person_id")
        self.assignments_by_position: dict[int, list[int]] = {}
        self.leaders: Table[TeamLeader] = Table(self, "team_leader", TeamLeader, "team_id")
        self.tag_groups: Table[TagGroup] = Table(self, "tag_group", TagGroup)
        self.tags: Table[Tag] = Table(self, "tag", Tag, "tag_group_id")
        # Webhooks
        self.subscriptions: Table[WebhookSubscription] = Table(
            self, "webhook_subscription", WebhookSubscription
        )
        self.events: Table[WebhookEvent] = Table(
            self, "webhook_event", WebhookEvent, "subscription_id"
        )
        self.households_by_person: dict[int, list[int]] = {}

    # ---- bookkeeping -------------------------------------------------------------------

    def tables(self) -> dict[str, Table[Any]]:
        """Tables persisted to the SQLite file (webhook events are transient)."""
        return {
            t.kind: t
            for t in (
                self.people,
                self.emails,
                self.phones,
                self.addresses,
                self.campuses,
                self.households,
                self.apps,
                self.person_apps,
                self.mergers,
                self.folders,
                self.service_types,
                self.teams,
                self.positions,
                self.services_people,
                self.assignments,
                self.leaders,
                self.tag_groups,
                self.tags,
                self.subscriptions,
            )
        }

    def mark(self, kind: str, rid: int) -> None:
        self.dirty.add((kind, rid))
        self.removed.discard((kind, rid))

    def mark_removed(self, kind: str, rid: int) -> None:
        self.removed.add((kind, rid))
        self.dirty.discard((kind, rid))

    def new_id(self, kind: str) -> int:
        rid = self.next_ids[kind]
        self.next_ids[kind] = rid + 1
        self.meta_dirty = True
        return rid

    def emit(self, name: str, kind: str, rid: int, person_id: int | None = None) -> None:
        self.outbox.append(QueuedEvent(name, kind, rid, person_id))

    def rebuild_indexes(self) -> None:
        """Derived indexes that are not a Table's own parent index."""
        self.assignments_by_position = {}
        for a in self.assignments:
            bisect.insort(self.assignments_by_position.setdefault(a.team_position_id, []), a.id)
        self.households_by_person = {}
        for h in self.households:
            for pid in h.member_ids:
                self.households_by_person.setdefault(pid, []).append(h.id)

    # ---- people ------------------------------------------------------------------------

    def merged_into(self, person_id: int) -> int | None:
        ids = self.mergers.by_parent.get(person_id)
        if not ids:
            return None
        return self.mergers.rows[ids[-1]].person_to_keep_id

    def touch_person(self, person: Person, now: datetime) -> None:
        person.updated_at = whole_seconds(now)
        self.mark("person", person.id)

    def create_person(self, values: dict[str, Any], now: datetime) -> Person:
        now = whole_seconds(now)
        person = Person(
            id=self.new_id("person"),
            first_name=None,
            last_name=None,
            created_at=now,
            updated_at=now,
        )
        for key, value in values.items():
            setattr(person, key, value)
        self.people.add(person)
        self.emit("people.v2.events.person.created", "person", person.id)
        return person

    def update_person(
        self, person: Person, values: dict[str, Any], now: datetime, *, emit: bool = True
    ) -> bool:
        """Apply canonical values; bump ``updated_at`` unless only medical notes changed."""
        changed = [k for k, v in values.items() if getattr(person, k) != v]
        for key in changed:
            setattr(person, key, values[key])
        if not changed:
            return False
        self.mark("person", person.id)
        if any(k != "medical_notes" for k in changed):  # medical notes live apart (#604)
            self.touch_person(person, now)
        sp = self.services_people.get(person.id)
        if sp is not None and set(changed) & _SERVICES_VISIBLE:
            sp.updated_at = whole_seconds(now)
            self.mark("services_person", sp.id)
        if emit:
            self.emit("people.v2.events.person.updated", "person", person.id)
        return True

    def delete_person(self, person: Person, *, emit: bool = True) -> None:
        for kind in ("email", "phone_number", "address"):
            table = self._contact_table(kind)
            for row in table.children(person.id):
                table.remove(row)
        for pa in self.person_apps.children(person.id):
            self.person_apps.remove(pa)
        self._drop_services_person(person.id)
        for hid in self.households_by_person.pop(person.id, []):
            h = self.households.get(hid)
            if h is not None and person.id in h.member_ids:
                h.member_ids.remove(person.id)
                if h.primary_contact_id == person.id:
                    h.primary_contact_id = h.member_ids[0] if h.member_ids else None
                self.mark("household", h.id)
        self.people.remove(person)
        if emit:
            self.emit("people.v2.events.person.destroyed", "person", person.id)

    # contact records: emails, phone numbers, addresses share one shape of mutation

    def _contact_table(self, kind: str) -> Table[Any]:
        tables: dict[str, Table[Any]] = {
            "email": self.emails,
            "phone_number": self.phones,
            "address": self.addresses,
        }
        return tables[kind]

    def add_contact(self, kind: str, person: Person, row: Any, now: datetime) -> Any:
        table = self._contact_table(kind)
        if getattr(row, "primary", False):
            self._clear_primary(table, person.id, keep=None, now=now)
        table.add(row)
        self.touch_person(person, now)
        self.emit(f"people.v2.events.{kind}.created", kind, row.id, person.id)
        return row

    def update_contact(
        self, kind: str, row: Any, values: dict[str, Any], person: Person, now: datetime
    ) -> None:
        table = self._contact_table(kind)
        changed = [k for k, v in values.items() if getattr(row, k) != v]
        for key in changed:
            setattr(row, key, values[key])
        if "number" in changed:
            row.computed = None
        if values.get("primary") is True:
            self._clear_primary(table, person.id, keep=row.id, now=now)
        if changed:
            row.updated_at = whole_seconds(now)
            table.store.mark(kind, row.id)
            self.touch_person(person, now)
            self.emit(f"people.v2.events.{kind}.updated", kind, row.id, person.id)

    def delete_contact(self, kind: str, row: Any, person: Person | None, now: datetime) -> None:
        self._contact_table(kind).remove(row)
        if person is not None:
            self.touch_person(person, now)
        self.emit(f"people.v2.events.{kind}.destroyed", kind, row.id, row.person_id)

    def _clear_primary(
        self, table: Table[Any], person_id: int, keep: int | None, now: datetime
    ) -> None:
        for other in table.children(person_id):
            if other.id != keep and other.primary:
                other.primary = False
                other.updated_at = whole_seconds(now)
                self.mark(table.kind, other.id)

    # person apps and the Services person behind the Services app

    def add_person_app(self, person: Person, app_id: int, now: datetime) -> PersonApp:
        now = whole_seconds(now)
        for pa in self.person_apps.children(person.id):
            if pa.app_id == app_id:
                return pa
        pa = PersonApp(self.new_id("person_app"), person.id, app_id, now, now)
        self.person_apps.add(pa)
        if app_id == SERVICES_APP_ID and self.services_people.get(person.id) is None:
            self.services_people.add(ServicesPerson(person.id, now, now))
        return pa

    def remove_person_app(self, pa: PersonApp) -> None:
        self.person_apps.remove(pa)
        if pa.app_id == SERVICES_APP_ID:
            self._drop_services_person(pa.person_id)

    def _drop_services_person(self, person_id: int) -> None:
        """ "Remove" from Services deletes the person's scheduling history with them."""
        for a in self.assignments.children(person_id):
            self.delete_assignment(a)
        for leader in [lead for lead in self.leaders if lead.person_id == person_id]:
            self.leaders.remove(leader)
        sp = self.services_people.get(person_id)
        if sp is not None:
            self.services_people.remove(sp)

    def merge(self, keep: Person, remove: Person, now: datetime) -> PersonMerger:
        """What the web UI's merge does: the survivor gains the other's records."""
        now = whole_seconds(now)
        merger = PersonMerger(self.new_id("person_merger"), keep.id, remove.id, now)
        for kind, same in (
            ("email", lambda a, b: a.address.lower() == b.address.lower()),
            ("phone_number", lambda a, b: _digits(a.number) == _digits(b.number)),
            ("address", lambda a, b: (a.street_line_1, a.zip) == (b.street_line_1, b.zip)),
        ):
            table = self._contact_table(kind)
            mine = table.children(keep.id)
            has_primary = any(r.primary for r in mine)
            for row in table.children(remove.id):
                if any(same(row, m) for m in mine):
                    table.remove(row)
                    continue
                if has_primary:
                    row.primary = False
                row.updated_at = now
                table.reparent(row, keep.id)
        for attr in _MERGE_FILL:
            if getattr(keep, attr) is None and getattr(remove, attr) is not None:
                setattr(keep, attr, getattr(remove, attr))
        # apps, Services person, assignments, leaders, tags
        for pa in self.person_apps.children(remove.id):
            if any(p.app_id == pa.app_id for p in self.person_apps.children(keep.id)):
                self.person_apps.remove(pa)
            else:
                self.person_apps.reparent(pa, keep.id)
        gone = self.services_people.get(remove.id)
        if gone is not None:
            survivor = self.services_people.get(keep.id)
            if survivor is None:
                survivor = ServicesPerson(
                    keep.id, gone.created_at, now, gone.archived_at, gone.permissions
                )
                self.services_people.add(survivor)
            survivor.tag_ids |= gone.tag_ids
            held = {a.team_position_id for a in self.assignments.children(keep.id)}
            for a in self.assignments.children(remove.id):
                if a.team_position_id in held:
                    self.delete_assignment(a)
                else:
                    a.updated_at = now
                    self.assignments.reparent(a, keep.id)
            for leader in [lead for lead in self.leaders if lead.person_id == remove.id]:
                leader.person_id = keep.id
                self.mark("team_leader", leader.id)
            self.services_people.remove(gone)
            survivor.updated_at = now
            self.mark("services_person", survivor.id)
        for hid in self.households_by_person.pop(remove.id, []):
            h = self.households.get(hid)
            if h is None:
                continue
            h.member_ids = [keep.id if m == remove.id else m for m in h.member_ids]
            h.member_ids = list(dict.fromkeys(h.member_ids))
            if h.primary_contact_id == remove.id:
                h.primary_contact_id = keep.id
            if hid not in self.households_by_person.setdefault(keep.id, []):
                self.households_by_person[keep.id].append(hid)
            self.mark("household", h.id)
        self.people.remove(remove)
        self.mergers.add(merger)
        self.touch_person(keep, now)
        self.emit("people.v2.events.person_merger.created", "person_merger", merger.id)
        self.emit("people.v2.events.person.destroyed", "person", remove.id)
        self.emit("people.v2.events.person.updated", "person", keep.id)
        return merger

    def create_household(
        self, name: str, member_ids: list[int], primary_contact_id: int, now: datetime
    ) -> Household:
        now = whole_seconds(now)
        h = Household(
            self.new_id("household"),
            name,
            primary_contact_id,
            list(member_ids),
            now,
            now,
            member_count_known=False,
        )
        self.households.add(h)
        for pid in member_ids:
            self.households_by_person.setdefault(pid, []).append(h.id)
        self.emit("people.v2.events.household.created", "household", h.id)
        return h

    # ---- services ----------------------------------------------------------------------

    def team_of_position(self, position: TeamPosition) -> Team | None:
        return self.teams.get(position.team_id)

    def create_assignment(
        self,
        person_id: int,
        position: TeamPosition,
        preference: str,
        weeks: list[str],
        now: datetime,
    ) -> Assignment:
        now = whole_seconds(now)
        a = Assignment(
            self.new_id("assignment"), person_id, position.id, preference, weeks, now, now
        )
        self.assignments.add(a)
        bisect.insort(self.assignments_by_position.setdefault(position.id, []), a.id)
        return a

    def update_assignment(self, a: Assignment, values: dict[str, Any], now: datetime) -> None:
        changed = [k for k, v in values.items() if getattr(a, k) != v]
        for key in changed:
            setattr(a, key, values[key])
        if changed:
            a.updated_at = whole_seconds(now)
            self.mark("assignment", a.id)

    def delete_assignment(self, a: Assignment) -> None:
        ids = self.assignments_by_position.get(a.team_position_id, [])
        if a.id in ids:
            ids.remove(a.id)
        self.assignments.remove(a)

    def assignments_on_position(self, position_id: int) -> list[Assignment]:
        rows = self.assignments.rows
        return [rows[i] for i in self.assignments_by_position.get(position_id, ()) if i in rows]

    def assignments_on_team(self, team_id: int) -> list[Assignment]:
        out: list[Assignment] = []
        for pos in self.positions.children(team_id):
            out.extend(self.assignments_on_position(pos.id))
        out.sort(key=lambda a: a.id)
        return out

    def set_team_state(self, team: Team, state: str, now: datetime) -> None:
        now = whole_seconds(now)
        if state == "archived":
            team.archived_at = now
        elif state == "deleted":
            team.deleted_at = now
        elif state == "restored":
            team.archived_at = None
            team.deleted_at = None
        team.updated_at = now
        self.mark("team", team.id)

    def purge_expired_teams(self, now: datetime) -> list[int]:
        """Soft-deleted teams are kept 30 days, then gone with their positions and members."""
        purged: list[int] = []
        for team in [t for t in self.teams if t.deleted_at is not None]:
            assert team.deleted_at is not None
            if now - team.deleted_at < DELETED_TEAM_RETENTION:
                continue
            for pos in self.positions.children(team.id):
                for a in self.assignments_on_position(pos.id):
                    self.delete_assignment(a)
                self.positions.remove(pos)
            for leader in self.leaders.children(team.id):
                self.leaders.remove(leader)
            self.teams.remove(team)
            purged.append(team.id)
        return purged

    def assign_tags(self, sp: ServicesPerson, tag_ids: Iterable[int]) -> None:
        sp.tag_ids = set(tag_ids)
        self.mark("services_person", sp.id)

    # ---- generic -----------------------------------------------------------------------

    def find(self, rows: Iterable[T], pred: Callable[[T], bool]) -> T | None:
        for row in rows:
            if pred(row):
                return row
        return None


_SERVICES_VISIBLE = frozenset(
    {"first_name", "last_name", "given_name", "middle_name", "nickname", "birthdate",
     "anniversary", "status", "inactivated_at", "site_administrator",
     "passed_background_check"}
)  # fmt: skip

_MERGE_FILL = (
    "given_name", "nickname", "middle_name", "birthdate", "anniversary", "gender", "grade",
    "graduation_year", "school_type", "membership", "medical_notes", "remote_id",
    "primary_campus_id",
)  # fmt: skip


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())[-10:]
