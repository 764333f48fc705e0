"""A deterministic, realistic church, shared by both emulators.

``generate_church(seed, people)`` builds one canonical population. The Planning Center
emulator loads the people with ``in_pco`` and the Rock emulator the people with ``in_rock``;
for the same seed and size both load the same church, so the sync has real matching work:

- most people exist on both sides (same name, email, phone, birthdate);
- some exist on one side only;
- some of the shared people have a different email or mobile number on one side
  (``pco`` / ``rock`` overrides), so matching must fall back to weaker evidence;
- a few duplicates: a second record of an existing person on one side, which must
  become a match issue, never a wrong link;
- some inactive people, children in families, people without email or birthdate.

Services structure: folders (one nested) → service types → teams → positions, with
assignments for the "serving" people, a few archived and deleted teams, and person tag
groups. Faker fills name and address pools once per seed; records draw from them with
``random.Random(seed)``, so 100,000 people generate in about a second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from faker import Faker

CAMPUSES = ["Main Campus", "North Campus", "Downtown Campus"]

TEAM_POSITIONS: dict[str, list[str]] = {
    "Band": ["Acoustic Guitar", "Electric Guitar", "Bass", "Drums", "Keys", "Music Director"],
    "Vocals": ["Worship Leader", "Vocalist", "Choir"],
    "Production": ["Sound", "Lighting", "ProPresenter", "Camera", "Stage Manager"],
    "Greeters": ["Door Greeter", "Welcome Center"],
    "Ushers": ["Usher", "Head Usher"],
    "Hospitality": ["Coffee", "Setup", "Cleanup"],
    "Kids Check-In": ["Check-In Host", "Security"],
    "Nursery": ["Nursery Lead", "Nursery Helper"],
    "Preschool": ["Lead Teacher", "Helper"],
    "Parking": ["Parking Lead", "Parking Attendant"],
    "Prayer": ["Prayer Partner"],
    "Communion": ["Communion Server"],
    "Small Group Hosts": ["Host"],
    "Student Leaders": ["Small Group Leader", "Coach"],
    "Media": ["Photographer", "Social Media"],
}

SCHEDULE_PREFERENCES = [
    "Every week",
    "Every other week",
    "Once a month",
    "Twice a month",
    "Every 3rd week",
    "Choose Weeks",
]

TAG_GROUPS: dict[str, list[str]] = {
    "Skills": ["Guitar", "Keys", "Drums", "Vocals", "Audio", "Video", "Teaching"],
    "Languages": ["Spanish", "Korean", "ASL"],
    "Availability": ["Early Service", "Late Service", "Midweek"],
}


@dataclass(frozen=True)
class SeedAddress:
    street_line_1: str
    street_line_2: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class SeedFacts:
    """What one system holds about a person. Both sides start from the same facts."""

    first_name: str
    nickname: str | None
    middle_name: str | None
    last_name: str
    gender: str | None  # "M" | "F" | None
    birthdate: date | None
    anniversary: date | None
    email: str | None
    mobile: str | None  # E.164
    home_phone: str | None
    work_phone: str | None
    address: SeedAddress | None
    campus: str | None
    active: bool
    child: bool


@dataclass
class SeedPerson:
    key: int
    household: int
    in_pco: bool
    in_rock: bool
    pco: SeedFacts
    rock: SeedFacts
    duplicate_of: int | None = None  # key of the person this record duplicates
    serving: bool = False
    tags: list[tuple[str, str]] = field(default_factory=list)  # (tag group, tag)


@dataclass(frozen=True)
class SeedFolder:
    key: int
    name: str
    parent: int | None
    campus: str | None = None


@dataclass(frozen=True)
class SeedServiceType:
    key: int
    name: str
    folder: int | None


@dataclass(frozen=True)
class SeedTeam:
    key: int
    name: str
    service_type: int
    archived: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class SeedPosition:
    key: int
    name: str
    team: int


@dataclass(frozen=True)
class SeedAssignment:
    person: int
    position: int
    schedule_preference: str
    preferred_weeks: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeedRockGroup:
    """A Rock group that has nothing to do with Planning Center (must never be touched)."""

    key: int
    name: str
    kind: str  # "small_group" | "serving_parent"
    members: tuple[int, ...] = ()


@dataclass
class SeedChurch:
    seed: int
    campuses: list[str]
    people: list[SeedPerson]
    folders: list[SeedFolder]
    service_types: list[SeedServiceType]
    teams: list[SeedTeam]
    positions: list[SeedPosition]
    assignments: list[SeedAssignment]
    tag_groups: dict[str, list[str]]
    rock_groups: list[SeedRockGroup]

    def pco_people(self) -> list[SeedPerson]:
        return [p for p in self.people if p.in_pco]

    def rock_people(self) -> list[SeedPerson]:
        return [p for p in self.people if p.in_rock]

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "people": len(self.people),
            "pco_people": sum(p.in_pco for p in self.people),
            "rock_people": sum(p.in_rock for p in self.people),
            "both": sum(p.in_pco and p.in_rock for p in self.people),
            "duplicates": sum(p.duplicate_of is not None for p in self.people),
            "serving": sum(p.serving for p in self.people),
            "teams": len(self.teams),
            "positions": len(self.positions),
            "assignments": len(self.assignments),
        }


@dataclass(frozen=True)
class _Pools:
    first_male: tuple[str, ...]
    first_female: tuple[str, ...]
    last: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[tuple[str, str, str], ...]  # city, state abbr, zip
    domains: tuple[str, ...]


@lru_cache(maxsize=8)
def _pools(seed: int) -> _Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    first_male = tuple(sorted({fake.first_name_male() for _ in range(600)}))
    first_female = tuple(sorted({fake.first_name_female() for _ in range(600)}))
    last = tuple(sorted({fake.last_name() for _ in range(1500)}))
    streets = tuple(sorted({fake.street_address() for _ in range(3000)}))
    cities = tuple(
        sorted(
            {
                (fake.city(), fake.state_abbr(include_territories=False), fake.postcode())
                for _ in range(200)
            }
        )
    )
    domains = ("example.com", "example.org", "example.net", "mail.example.com")
    return _Pools(first_male, first_female, last, streets, cities, domains)


def _phone(rng: random.Random) -> str:
    # NANP numbers in the 555-01xx fictional range stay valid for phonenumbers and harm nobody
    area = rng.choice(["214", "312", "404", "512", "615", "704", "816", "919"])
    exchange = rng.choice(["555", "556", "557", "558"])
    return f"+1{area}{exchange}{rng.randint(0, 9999):04d}"


def _email(first: str, last: str, n: int, rng: random.Random, pools: _Pools) -> str:
    style = rng.randrange(3)
    local = [f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[0]}{n % 97}"][style]
    local = "".join(ch for ch in local.lower() if ch.isalnum() or ch == ".")
    return f"{local}{n}@{rng.choice(pools.domains)}"


def generate_church(
    seed: int = 1,
    people: int = 200,
    *,
    both: float = 0.6,
    pco_only: float = 0.2,
    serving: float = 0.7,
    teams: int | None = None,
    positions_per_team: int | None = None,
    positions: int | None = None,
    pool_seed: int | None = None,
) -> SeedChurch:
    """Build the canonical church. ``people`` counts canonical people across both systems.

    ``both`` and ``pco_only`` are the shares of people on both sides and on PCO only (the
    rest are Rock only). ``serving`` is the share of PCO people with team assignments.
    ``positions`` (instead of ``positions_per_team``) is the total, spread evenly over teams.
    ``pool_seed`` seeds the Faker name and address pools (default ``seed``): building them
    takes most of a small church's time, so a simulation of many seeds shares a few pools.
    """
    if people < 0:
        raise ValueError("people must be >= 0")
    rng = random.Random(seed)
    pools = _pools(seed if pool_seed is None else pool_seed)
    today = date(2026, 1, 1)
    folks: list[SeedPerson] = []

    key = 0
    household = 0
    while key < people:
        household += 1
        size = min(people - key, rng.choices([1, 2, 3, 4, 5], weights=[30, 30, 18, 15, 7])[0])
        last = rng.choice(pools.last)
        street = rng.choice(pools.streets)
        city, state, zip_code = rng.choice(pools.cities)
        addr = SeedAddress(
            street, "" if rng.random() > 0.1 else f"Apt {rng.randint(1, 40)}", city, state, zip_code
        )
        has_addr = rng.random() < 0.85
        campus = rng.choice(CAMPUSES) if rng.random() < 0.9 else None
        home = _phone(rng) if rng.random() < 0.3 else None
        roll = rng.random()
        presence = (
            (True, True)
            if roll < both
            else (True, False)
            if roll < both + pco_only
            else (False, True)
        )
        wedding = today - timedelta(days=rng.randint(365, 40 * 365)) if size >= 2 else None
        for member in range(size):
            child = member >= 2
            male = rng.random() < 0.5
            first = rng.choice(pools.first_male if male else pools.first_female)
            age_days = rng.randint(2 * 365, 16 * 365) if child else rng.randint(19 * 365, 85 * 365)
            facts = SeedFacts(
                first_name=first,
                nickname=(first[:3] if rng.random() < 0.12 and len(first) > 4 else None),
                middle_name=(
                    rng.choice(pools.first_male if male else pools.first_female)
                    if rng.random() < 0.25
                    else None
                ),
                last_name=last,
                gender=("M" if male else "F") if rng.random() < 0.97 else None,
                birthdate=today - timedelta(days=age_days) if rng.random() < 0.8 else None,
                anniversary=wedding if member < 2 and wedding and rng.random() < 0.7 else None,
                email=None
                if (child or rng.random() < 0.08)
                else _email(first, last, key, rng, pools),
                mobile=None if child and rng.random() < 0.8 else _phone(rng),
                home_phone=home,
                work_phone=_phone(rng) if not child and rng.random() < 0.1 else None,
                address=addr if has_addr else None,
                campus=campus,
                active=rng.random() > 0.05,
                child=child,
            )
            pco_facts = facts
            rock_facts = facts
            if presence == (True, True):
                r = rng.random()
                if r < 0.08 and facts.email:  # changed email on one side only
                    newer = _email(first, last, key + 100_000, rng, pools)
                    if rng.random() < 0.5:
                        rock_facts = replace(facts, email=newer)
                    else:
                        pco_facts = replace(facts, email=newer)
                elif r < 0.14 and facts.mobile:  # different mobile on one side
                    rock_facts = replace(facts, mobile=_phone(rng))
                elif r < 0.17:  # nickname known on one side only
                    pco_facts = replace(facts, nickname=first[:3] if len(first) > 3 else None)
            folks.append(
                SeedPerson(
                    key=key,
                    household=household,
                    in_pco=presence[0],
                    in_rock=presence[1],
                    pco=pco_facts,
                    rock=rock_facts,
                )
            )
            key += 1

    # duplicates: a second record of an existing person on one side
    shared = [p for p in folks if p.in_pco and p.in_rock and p.pco.email and not p.pco.child]
    n_dups = min(len(shared), max(2, people // 100) if people >= 40 else 0)
    for i, original in enumerate(rng.sample(shared, n_dups) if n_dups else []):
        on_pco = i % 2 == 0
        facts = original.pco if on_pco else original.rock
        dup_facts = replace(facts, mobile=None, home_phone=None, work_phone=None)
        folks.append(
            SeedPerson(
                key=len(folks),
                household=original.household,
                in_pco=on_pco,
                in_rock=not on_pco,
                pco=dup_facts,
                rock=dup_facts,
                duplicate_of=original.key,
            )
        )

    # Services structure
    folders = [
        SeedFolder(1, "Weekend Services", None),
        SeedFolder(2, "Student Ministry", None),
        SeedFolder(3, "Middle School", 2),
        SeedFolder(4, "Special Events", None),
    ]
    service_types = [
        SeedServiceType(1, "Sunday Morning", 1),
        SeedServiceType(2, "Saturday Night", 1),
        SeedServiceType(3, "Wednesday Students", 2),
        SeedServiceType(4, "Middle School Sundays", 3),
        SeedServiceType(5, "Easter", 4),
        SeedServiceType(6, "Christmas Eve", 4),
    ]
    team_names = list(TEAM_POSITIONS)
    n_teams = teams if teams is not None else max(8, min(60, people // 25))
    seed_teams: list[SeedTeam] = []
    seed_positions: list[SeedPosition] = []
    for t in range(n_teams):
        st = service_types[t % len(service_types)]
        base = team_names[(t // len(service_types) + t) % len(team_names)]
        round_no = t // (len(service_types) * len(team_names))
        name = base if round_no == 0 else f"{base} {round_no + 1}"
        archived = n_teams >= 8 and t % 17 == 5
        deleted = n_teams >= 8 and t % 23 == 7
        seed_teams.append(SeedTeam(t + 1, name, st.key, archived=archived, deleted=deleted))
        names = TEAM_POSITIONS[base]
        count = positions_per_team or len(names)
        if positions is not None:
            count = positions // n_teams + (t < positions % n_teams)
        for j in range(count):
            pname = names[j % len(names)] + ("" if j < len(names) else f" {j // len(names) + 1}")
            seed_positions.append(SeedPosition(len(seed_positions) + 1, pname, t + 1))

    assignments: list[SeedAssignment] = []
    pco_people = [p for p in folks if p.in_pco and p.duplicate_of is None]
    for p in pco_people:
        if rng.random() >= serving or not p.pco.active:
            continue
        p.serving = True
        for pos in rng.sample(
            seed_positions, min(len(seed_positions), rng.choice([1, 1, 1, 2, 3]))
        ):
            pref = rng.choice(SCHEDULE_PREFERENCES)
            weeks = (
                tuple(sorted(rng.sample(["1", "2", "3", "4", "5"], 2)))
                if pref == "Choose Weeks"
                else ()
            )
            assignments.append(SeedAssignment(p.key, pos.key, pref, weeks))
        for group, tags in TAG_GROUPS.items():
            if rng.random() < 0.3:
                p.tags.append((group, rng.choice(tags)))

    rock_members = [p.key for p in folks if p.in_rock]
    rock_groups = [SeedRockGroup(1, "Serving Teams", "serving_parent")]
    for g, name in enumerate(
        ["Tuesday Men's Group", "Young Adults", "Moms Together", "Financial Peace"], start=2
    ):
        k = min(len(rock_members), rng.randint(4, 12))
        rock_groups.append(
            SeedRockGroup(g, name, "small_group", tuple(sorted(rng.sample(rock_members, k))))
        )

    return SeedChurch(
        seed=seed,
        campuses=list(CAMPUSES),
        people=folks,
        folders=folders,
        service_types=service_types,
        teams=seed_teams,
        positions=seed_positions,
        assignments=assignments,
        tag_groups={k: list(v) for k, v in TAG_GROUPS.items()},
        rock_groups=rock_groups,
    )
