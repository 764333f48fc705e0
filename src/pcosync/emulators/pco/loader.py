"""Load a seeded church (:mod:`pcosync.emulators.seed`) into a fresh :class:`Store`.

Only the people with ``in_pco`` are loaded, from their ``.pco`` facts. Everything the seed
does not decide (ids, timestamps, membership labels, who else has the Services app, team
leaders) is drawn from a separate ``random.Random`` so the seed's own output is untouched.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from pcosync.emulators.pco.model import (
    Address,
    App,
    Campus,
    Email,
    Folder,
    Household,
    Person,
    PersonApp,
    PhoneNumber,
    ServicesPerson,
    ServiceType,
    Tag,
    TagGroup,
    Team,
    TeamLeader,
    TeamPosition,
)
from pcosync.emulators.pco.store import (
    ID_BASE,
    SERVICES_APP_ID,
    Store,
    whole_seconds,
)
from pcosync.emulators.seed import SeedChurch

APPS = [
    (1, "Calendar"), (SERVICES_APP_ID, "Services"), (3, "Check-Ins"), (4, "Giving"),
    (5, "Groups"), (6, "People"), (7, "Registrations"), (8, "Resources"), (9, "Publishing"),
]  # fmt: skip

MEMBERSHIPS = ["Member", "Member", "Regular Attender", "Visitor", "Participant", None]
_EPOCH = datetime(2016, 1, 4, 15, 0, tzinfo=UTC)
_SEED_END = datetime(2025, 6, 30, 22, 0, tzinfo=UTC)


def _national(e164: str) -> str:
    """How a person types a US number into the web UI: ``(214) 555-0123``."""
    if e164.startswith("+1") and len(e164) == 12:
        d = e164[2:]
        return f"({d[:3]}) {d[3:6]}-{d[6:]}"
    return e164


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randint(0, max(span, 0)))


def load_church(store: Store, church: SeedChurch, now: datetime) -> dict[int, int]:
    """Fill ``store`` from ``church``; returns seed person key → PCO person id."""
    rng = random.Random(f"pco-emulator:{church.seed}")
    now = whole_seconds(now)
    ids: dict[int, int] = {}

    for app_id, name in APPS:
        store.apps.add(
            App(app_id, name, f"https://{name.lower()}.planningcenteronline.com"), load=True
        )
    campus_ids: dict[str, int] = {}
    for name in church.campuses:
        cid = store.new_id("campus")
        store.campuses.add(
            Campus(cid, name, _EPOCH, _EPOCH, time_zone=store.org.time_zone), load=True
        )
        campus_ids[name] = cid

    households: dict[int, list[int]] = {}
    for sp in church.pco_people():
        f = sp.pco
        pid = ID_BASE["person"] + sp.key
        ids[sp.key] = pid
        created = _moment(rng, _EPOCH, _SEED_END - timedelta(days=30))
        updated = _moment(rng, created, _SEED_END)
        person = Person(
            id=pid,
            first_name=f.first_name,
            last_name=f.last_name,
            created_at=created,
            updated_at=updated,
            nickname=f.nickname,
            middle_name=f.middle_name,
            birthdate=f.birthdate,
            anniversary=f.anniversary,
            gender=f.gender,
            child=f.child,
            membership=rng.choice(MEMBERSHIPS) if not f.child else "Child",
            status="active" if f.active else "inactive",
            inactivated_at=None if f.active else updated,
            primary_campus_id=campus_ids.get(f.campus) if f.campus else None,
        )
        store.people.add(person, load=True)
        households.setdefault(sp.household, []).append(pid)
        contact_time = _moment(rng, created, updated)
        if f.email:
            store.emails.add(
                Email(
                    store.new_id("email"), pid, f.email, "Home", True, contact_time, contact_time
                ),
                load=True,
            )
        first_phone = True
        for number, location in (
            (f.mobile, "Mobile"),
            (f.home_phone, "Home"),
            (f.work_phone, "Work"),
        ):
            if number:
                store.phones.add(
                    PhoneNumber(
                        store.new_id("phone_number"),
                        pid,
                        _national(number),
                        location,
                        first_phone,
                        contact_time,
                        contact_time,
                    ),
                    load=True,
                )
                first_phone = False
        if f.address:
            a = f.address
            store.addresses.add(
                Address(
                    store.new_id("address"),
                    pid,
                    a.street_line_1,
                    a.street_line_2 or None,
                    a.city,
                    a.state,
                    a.zip,
                    "Home",
                    True,
                    contact_time,
                    contact_time,
                ),
                load=True,
            )
    store.next_ids["person"] = max(ids.values(), default=ID_BASE["person"] - 1) + 1

    for members in households.values():
        first = store.people.rows[members[0]]
        hid = store.new_id("household")
        store.households.add(
            Household(
                hid,
                f"{first.last_name} Household",
                members[0],
                members,
                first.created_at,
                first.created_at,
            ),
            load=True,
        )

    _load_services(store, church, ids, rng, now)
    _choose_api_user(store, church, ids)
    store.rebuild_indexes()
    store.dirty.clear()
    store.removed.clear()
    store.outbox.clear()
    return ids


def _load_services(
    store: Store, church: SeedChurch, ids: dict[int, int], rng: random.Random, now: datetime
) -> None:
    folder_ids: dict[int, int] = {}
    for folder in church.folders:  # parents come first in the seed
        fid = store.new_id("folder")
        folder_ids[folder.key] = fid
        store.folders.add(
            Folder(
                fid,
                folder.name,
                folder_ids[folder.parent] if folder.parent else None,
                _EPOCH,
                _EPOCH,
            ),
            load=True,
        )
    st_ids: dict[int, int] = {}
    for n, st in enumerate(church.service_types):
        sid = store.new_id("service_type")
        st_ids[st.key] = sid
        store.service_types.add(
            ServiceType(
                sid, st.name, folder_ids[st.folder] if st.folder else None, n, _EPOCH, _EPOCH
            ),
            load=True,
        )
    team_ids: dict[int, int] = {}
    for n, team in enumerate(church.teams):
        tid = store.new_id("team")
        team_ids[team.key] = tid
        created = _moment(rng, _EPOCH, _EPOCH + timedelta(days=400))
        record = Team(tid, team.name, st_ids[team.service_type], n, created, created)
        if team.archived:
            record.archived_at = record.updated_at = _moment(rng, created, _SEED_END)
        if team.deleted:  # deleted a few days ago: inside PCO's 30-day retention window
            record.deleted_at = record.updated_at = now - timedelta(days=3 + n % 5)
        store.teams.add(record, load=True)
    pos_ids: dict[int, int] = {}
    for n, pos in enumerate(church.positions):
        pid = store.new_id("team_position")
        pos_ids[pos.key] = pid
        owner = store.teams.rows[team_ids[pos.team]]
        store.positions.add(
            TeamPosition(pid, owner.id, pos.name, n, owner.created_at, owner.created_at), load=True
        )

    _load_tags(store, church)
    # Services people: everyone serving, plus some who once were (archived or not)
    services_keys = {a.person for a in church.assignments}
    for sp in church.pco_people():
        if sp.key in services_keys or (not sp.pco.child and rng.random() < 0.1):
            pid = ids[sp.key]
            person = store.people.rows[pid]
            since = _moment(rng, person.created_at, _SEED_END)
            services = ServicesPerson(pid, since, since)
            if sp.key not in services_keys and rng.random() < 0.3:
                services.archived_at = services.updated_at = _moment(rng, since, _SEED_END)
            for group, tag in sp.tags:
                services.tag_ids.add(_tag_id(store, church, group, tag))
            store.person_apps.add(_person_app(store, pid, since), load=True)
            store.services_people.add(services, load=True)

    for a in church.assignments:
        position = store.positions.rows[pos_ids[a.position]]
        created = _moment(rng, position.created_at, _SEED_END)
        store.create_assignment(
            ids[a.person], position, a.schedule_preference, list(a.preferred_weeks), created
        )

    # one leader per team, drawn from its members
    for row in store.teams:
        members = sorted({a.person_id for a in store.assignments_on_team(row.id)})
        if members:
            leader = rng.choice(members)
            store.leaders.add(
                TeamLeader(
                    store.new_id("team_leader"), leader, row.id, row.created_at, row.created_at
                ),
                load=True,
            )


def _load_tags(store: Store, church: SeedChurch) -> None:
    for gname, tags in church.tag_groups.items():
        gid = store.new_id("tag_group")
        store.tag_groups.add(TagGroup(gid, gname, "person", _EPOCH, _EPOCH), load=True)
        for tname in tags:
            store.tags.add(Tag(store.new_id("tag"), gid, tname, _EPOCH, _EPOCH), load=True)


def _tag_id(store: Store, church: SeedChurch, group: str, tag: str) -> int:
    g = store.find(store.tag_groups, lambda r: r.name == group)
    assert g is not None
    t = store.find(store.tags.children(g.id), lambda r: r.name == tag)
    assert t is not None
    return t.id


def _person_app(store: Store, pid: int, since: datetime) -> PersonApp:
    return PersonApp(store.new_id("person_app"), pid, SERVICES_APP_ID, since, since)


def _choose_api_user(store: Store, church: SeedChurch, ids: dict[int, int]) -> None:
    """The personal access token belongs to a real, active adult: the church's admin."""
    for sp in church.pco_people():
        f = sp.pco
        if f.active and not f.child and f.email and sp.duplicate_of is None:
            person = store.people.rows[ids[sp.key]]
            person.site_administrator = True
            person.people_permissions = "Manager"
            store.pat_user_id = person.id
            now = person.updated_at
            if store.services_people.get(person.id) is None:
                store.person_apps.add(_person_app(store, person.id, now), load=True)
                store.services_people.add(ServicesPerson(person.id, now, now), load=True)
            services = store.services_people.rows[person.id]
            services.permissions = "Administrator"
            return
