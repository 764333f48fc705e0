"""Matching unlinked people across the two sides (DESIGN §3), never guessing.

Evidence, strongest first: same email + same last name; same mobile number + same last name;
same first + last name + birthdate. Names compare case- and accent-insensitively, emails
case-insensitively, phones in E.164. For each unlinked record the strongest tier that finds
anyone decides its candidates.

Links are made only when the evidence is unique both ways: two unlinked records, each the
other's only candidate, and nobody else claiming either of them. Everything else touching
those records becomes one :class:`MatchIssue` for the admin (kind ``ambiguous``,
``already_linked`` or ``contested``), and nothing in it is linked or created.

Two safety decisions beyond DESIGN §3, because a wrong link merges two people's data:

- **Contradiction veto.** A candidate is ignored when both records have birthdates and they
  differ, or when both have first names/nicknames and the two name sets do not intersect.
  Families share one email and last name all the time; without this, a spouse or child
  would link to whoever holds the family email on the other side. The cost: the same person
  spelled "Jon" on one side and "John" on the other, without a nickname bridging them, is
  created as a new person instead of linked (the admin can merge and link by hand).
- **Nickname does not stand in for the first name in the name + birthdate tier.** That tier
  has no contact evidence, twins share last name and birthdate, and nicknames collide
  across different names ("Chris" for Christopher and Christina). Nicknames only help the
  veto above recognise "Bob" and "Robert" as compatible.

And one below it (issue 12), on by default (``name_only=True``, ``[sync]
possible_duplicates``): a record no tier matched whose first and last name equal those of a
record no tier matched on the other side, with nothing to tell them apart (no differing email,
mobile number or birthdate), is not created across but reported as a **possible duplicate**
(kind ``possible_duplicate``): the admin links them, or says "create anyway"
(``pcosync people issues create``), which makes every pair of the issue a never-link pair.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from pcosync.domain.identity import PcoPersonId, RockPersonId, Side
from pcosync.domain.normalize import fold_name
from pcosync.domain.person import Person

RecordId = RockPersonId | PcoPersonId
NodeKey = tuple[Side, RecordId]


class Evidence(StrEnum):
    EMAIL_LAST_NAME = "email_last_name"
    MOBILE_LAST_NAME = "mobile_last_name"
    NAME_BIRTHDATE = "name_birthdate"
    NAME_ONLY = "name_only"  # never links: a possible duplicate for the admin to settle

    @property
    def label(self) -> str:
        return _EVIDENCE_LABELS[self]


_EVIDENCE_LABELS = {
    Evidence.EMAIL_LAST_NAME: "email and last name",
    Evidence.MOBILE_LAST_NAME: "mobile number and last name",
    Evidence.NAME_BIRTHDATE: "first name, last name and birthdate",
    Evidence.NAME_ONLY: "first and last name only",
}
TIERS: tuple[Evidence, ...] = (
    Evidence.EMAIL_LAST_NAME,
    Evidence.MOBILE_LAST_NAME,
    Evidence.NAME_BIRTHDATE,
)


ISSUE_KEY_MAX = 400  # the state store's match_issues.key column


class IssueKind(StrEnum):
    AMBIGUOUS = "ambiguous"  # one record matches several on the other side
    ALREADY_LINKED = "already_linked"  # the only match is already synced with someone else
    CONTESTED = "contested"  # several records on one side match the same record
    POSSIBLE_DUPLICATE = "possible_duplicate"  # the same name and nothing else to go on
    # one side merged two linked people; the other side still holds both records
    MERGED_DUPLICATE = "merged_duplicate"


# the kinds the matcher reports (a full matching pass resolves those it no longer finds);
# the others are opened by the run itself and resolved when their cause is gone
MATCHER_KINDS = frozenset(
    {
        IssueKind.AMBIGUOUS,
        IssueKind.ALREADY_LINKED,
        IssueKind.CONTESTED,
        IssueKind.POSSIBLE_DUPLICATE,
    }
)


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """A person offered to the matcher. Linked records are offered too, so a match that
    lands on them is reported instead of silently creating a duplicate."""

    side: Side
    id: RecordId
    person: Person
    linked_to: RecordId | None = None  # the counterpart's id when already linked

    @property
    def node(self) -> NodeKey:
        return (self.side, self.id)


@dataclass(frozen=True, slots=True)
class MatchedPair:
    rock_id: RockPersonId
    pco_id: PcoPersonId
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class RecordIdentity:
    side: Side
    id: RecordId
    display_name: str
    linked_to: RecordId | None = None
    linked_to_name: str | None = None

    def describe(self) -> str:
        return _describe(self.side, self.id, self.display_name)


@dataclass(frozen=True, slots=True)
class EvidenceEdge:
    rock_id: RockPersonId
    pco_id: PcoPersonId
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class MatchIssue:
    kind: IssueKind
    records: tuple[RecordIdentity, ...]
    evidence: tuple[EvidenceEdge, ...]
    message: str

    @property
    def rock_ids(self) -> tuple[RockPersonId, ...]:
        return tuple(sorted(r.id for r in self.records if isinstance(r.id, int)))

    @property
    def pco_ids(self) -> tuple[PcoPersonId, ...]:
        return tuple(sorted(r.id for r in self.records if isinstance(r.id, str)))

    @property
    def key(self) -> str:
        """Stable across runs while the same records are involved (the store upserts on it).
        An issue naming too many records for the column gets a digest of that key instead."""
        rock = ",".join(str(i) for i in self.rock_ids)
        pco = ",".join(self.pco_ids)
        key = f"{self.kind.value}:rock={rock}:pco={pco}"
        if len(key) <= ISSUE_KEY_MAX:
            return key
        return f"{self.kind.value}:sha256={hashlib.sha256(key.encode()).hexdigest()}"


@dataclass
class MatchResult:
    links: list[MatchedPair] = field(default_factory=list)
    issues: list[MatchIssue] = field(default_factory=list)
    unmatched: list[MatchRecord] = field(default_factory=list)  # no candidate: create across


def _describe(side: Side, rid: RecordId, name: str) -> str:
    if side is Side.ROCK:
        return f"Rock person {name} (Id {rid})"
    return f"Planning Center person {name} (id {rid})"


# Names repeat a lot across a church (and folding is the matcher's main cost): cache them.
_fold = lru_cache(maxsize=1 << 16)(fold_name)


def _keys(person: Person) -> tuple[Hashable | None, Hashable | None, Hashable | None]:
    last = _fold(person.last_name)
    if last is None:
        return (None, None, None)
    email = person.email
    if email:
        folded = email.casefold()
        email = email if folded == email else folded  # most are already: no second copy
    first = _fold(person.first_name)
    return (
        (email, last) if email else None,
        (person.mobile_phone, last) if person.mobile_phone else None,
        (first, last, person.birthdate) if first and person.birthdate else None,
    )


def _given_names(person: Person) -> set[str]:
    names = {_fold(person.first_name), _fold(person.nickname)}
    return {n for n in names if n}


def contradicts(a: Person, b: Person) -> bool:
    """Evidence that two records are different people, whatever else they share."""
    if a.birthdate is not None and b.birthdate is not None and a.birthdate != b.birthdate:
        return True
    names_a = _given_names(a)
    names_b = _given_names(b)
    return bool(names_a and names_b and not names_a & names_b)


def _full_name(person: Person) -> tuple[str, str] | None:
    first, last = _fold(person.first_name), _fold(person.last_name)
    return (first, last) if first and last else None


def tells_apart(a: Person, b: Person) -> bool:
    """Anything that says two records of the same name are different people: both have an
    email, or a mobile number, or a birthdate, and they differ."""
    if a.email and b.email and a.email.casefold() != b.email.casefold():
        return True
    if a.mobile_phone and b.mobile_phone and a.mobile_phone != b.mobile_phone:
        return True
    return a.birthdate is not None and b.birthdate is not None and a.birthdate != b.birthdate


def evidence_between(a: Person, b: Person) -> Evidence | None:
    """The strongest tier on which two records agree (ignoring the veto)."""
    for tier, ka, kb in zip(TIERS, _keys(a), _keys(b), strict=True):
        if ka is not None and ka == kb:
            return tier
    return None


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[NodeKey, NodeKey] = {}

    def find(self, x: NodeKey) -> NodeKey:
        """Iterative, so a component of thousands (a shared office email) cannot overflow
        the recursion limit."""
        parent = self.parent
        root = parent.setdefault(x, x)
        while parent[root] != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: NodeKey, b: NodeKey) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def _index(records: Iterable[MatchRecord]) -> list[dict[Hashable, MatchRecord | list[MatchRecord]]]:
    """One side's records by each tier's key. A key held by one record (most are) maps to
    the record itself, not a list of one: at 100,000 people a side the lists were ~45 MiB
    of the matcher's peak (issue 14)."""
    index: list[dict[Hashable, MatchRecord | list[MatchRecord]]] = [{} for _ in TIERS]
    for rec in records:
        for t, key in enumerate(_keys(rec.person)):
            if key is not None:
                bucket = index[t]
                held = bucket.get(key)
                if held is None:
                    bucket[key] = rec
                elif isinstance(held, list):
                    held.append(rec)
                else:
                    bucket[key] = [held, rec]
    return index


def match_people(
    rock: Iterable[MatchRecord],
    pco: Iterable[MatchRecord],
    *,
    never_link: Collection[tuple[RockPersonId, PcoPersonId]] = (),
    name_only: bool = True,
) -> MatchResult:
    """Link what the evidence makes certain; report the rest; list who has no match at all.

    ``never_link`` holds pairs an admin unlinked on purpose: they are not evidence.
    ``name_only``: unmatched records sharing only a full name across the sides become
    possible-duplicate issues instead of being created again (see the module docstring).
    """
    records: dict[NodeKey, MatchRecord] = {}
    for rec in (*rock, *pco):
        if rec.node in records:
            raise ValueError(f"{rec.side.label} id {rec.id} offered twice to the matcher")
        records[rec.node] = rec
    excluded = set(never_link)

    def excluded_pair(a: MatchRecord, b: MatchRecord) -> bool:
        pair = (a.id, b.id) if a.side is Side.ROCK else (b.id, a.id)
        return pair in excluded

    # Each unlinked record's candidates at its strongest productive tier: Rock's records
    # against an index of Planning Center's, then the other way round. One side's index at
    # a time (three keys per record): at 100,000 people a side both at once were the
    # matcher's peak (issue 14). Records come Rock first, so ``best`` keeps their order.
    best: dict[NodeKey, tuple[Evidence, list[MatchRecord]]] = {}
    result = MatchResult()
    for side in (Side.ROCK, Side.PCO):
        other = _index(rec for rec in records.values() if rec.side is side.other)
        for node, rec in records.items():
            if rec.side is not side or rec.linked_to is not None:
                continue
            found: tuple[Evidence, list[MatchRecord]] | None = None
            for t, key in enumerate(_keys(rec.person)):
                if key is None:
                    continue
                held = other[t].get(key)
                if held is None:
                    continue
                cands = [
                    c
                    for c in (held if isinstance(held, list) else (held,))
                    if not contradicts(rec.person, c.person) and not excluded_pair(rec, c)
                ]
                if cands:
                    found = (TIERS[t], cands)
                    break
            if found is None:
                result.unmatched.append(rec)
            else:
                best[node] = found
        del other  # the candidates are chosen: this index goes before the next is built

    uf = _UnionFind()
    for node, (_tier, cands) in best.items():
        uf.find(node)
        for c in cands:
            uf.union(node, c.node)
    components: dict[NodeKey, list[NodeKey]] = defaultdict(list)
    for node in list(uf.parent):
        components[uf.find(node)].append(node)

    for members in components.values():
        members.sort(key=lambda n: (n[0].value, str(n[1])))
        if len(members) == 2:
            a, b = (records[n] for n in members)
            if a.side is not b.side and a.linked_to is None and b.linked_to is None:
                rock_rec, pco_rec = (a, b) if a.side is Side.ROCK else (b, a)
                tier = best[rock_rec.node][0]
                assert isinstance(rock_rec.id, int) and isinstance(pco_rec.id, str)
                result.links.append(MatchedPair(rock_rec.id, pco_rec.id, tier))
                continue
        result.issues.append(_issue(members, records, best))
    result.links.sort(key=lambda p: (p.rock_id, p.pco_id))
    if name_only:
        _possible_duplicates(result, excluded_pair)
    return result


def _possible_duplicates(
    result: MatchResult, excluded_pair: Callable[[MatchRecord, MatchRecord], bool]
) -> None:
    """Move unmatched records that share a full name with one on the other side (and
    nothing tells them apart) from ``unmatched`` into possible-duplicate issues."""
    by_name: dict[tuple[Side, tuple[str, str]], list[MatchRecord]] = defaultdict(list)
    for rec in result.unmatched:
        name = _full_name(rec.person)
        if name is not None and rec.linked_to is None:
            by_name[(rec.side, name)].append(rec)
    uf = _UnionFind()
    edges: list[EvidenceEdge] = []
    for (side, name), recs in by_name.items():
        if side is not Side.ROCK:
            continue
        for r in recs:
            for p in by_name.get((Side.PCO, name), ()):
                if tells_apart(r.person, p.person) or excluded_pair(r, p):
                    continue
                assert isinstance(r.id, int) and isinstance(p.id, str)
                edges.append(EvidenceEdge(r.id, p.id, Evidence.NAME_ONLY))
                uf.union(r.node, p.node)
    if not edges:
        return
    records = {rec.node: rec for rec in result.unmatched}
    groups: dict[NodeKey, list[NodeKey]] = defaultdict(list)
    for node in list(uf.parent):
        groups[uf.find(node)].append(node)
    for members in groups.values():
        members.sort(key=lambda n: (n[0].value, str(n[1])))
        mine = tuple(e for e in edges if (Side.ROCK, e.rock_id) in members)
        result.issues.append(_duplicate_issue([records[n] for n in members], mine))
    taken = set(uf.parent)
    result.unmatched = [rec for rec in result.unmatched if rec.node not in taken]


def _duplicate_issue(members: list[MatchRecord], edges: tuple[EvidenceEdge, ...]) -> MatchIssue:
    idents = tuple(RecordIdentity(r.side, r.id, r.person.display_name) for r in members)
    rocks = [i for i in idents if i.side is Side.ROCK]
    pcos = [i for i in idents if i.side is Side.PCO]
    if len(rocks) == 1 and len(pcos) == 1:
        how = f"link them with `pcosync people link {rocks[0].id} {pcos[0].id}`"
    else:
        how = "link the right pair with `pcosync people link ROCK_ID PCO_ID`"
    message = (
        f"Possible duplicate: {_join([i.describe() for i in idents])} have the same first "
        "and last name, and nothing else tells them apart or together (no email, mobile "
        "number or birthdate on both records to compare), so pcosync created no one. If they "
        "are the same person, "
        f"{how}; if not, create them anyway with `pcosync people issues create` and this "
        "issue's number (see `pcosync people issues`)."
    )
    return MatchIssue(
        IssueKind.POSSIBLE_DUPLICATE,
        idents,
        tuple(sorted(set(edges), key=lambda e: (e.rock_id, e.pco_id))),
        message,
    )


def _issue(
    members: list[NodeKey],
    records: dict[NodeKey, MatchRecord],
    best: dict[NodeKey, tuple[Evidence, list[MatchRecord]]],
) -> MatchIssue:
    edges: list[EvidenceEdge] = []
    claims: dict[NodeKey, list[NodeKey]] = defaultdict(list)  # candidate → single-claimants
    several: list[NodeKey] = []
    taken: list[NodeKey] = []  # claimants whose only candidate is linked elsewhere
    for node in members:
        if node not in best:
            continue
        tier, cands = best[node]
        rec = records[node]
        for c in cands:
            rock_id, pco_id = (rec.id, c.id) if rec.side is Side.ROCK else (c.id, rec.id)
            assert isinstance(rock_id, int) and isinstance(pco_id, str)
            edges.append(EvidenceEdge(rock_id, pco_id, tier))
        if len(cands) > 1:
            several.append(node)
        else:
            claims[cands[0].node].append(node)
            if cands[0].linked_to is not None:
                taken.append(node)
    contested = {c: cl for c, cl in claims.items() if len(cl) > 1}
    if taken:
        kind = IssueKind.ALREADY_LINKED
    elif contested:
        kind = IssueKind.CONTESTED
    else:
        kind = IssueKind.AMBIGUOUS

    def ident(node: NodeKey) -> RecordIdentity:
        rec = records[node]
        partner_name = None
        if rec.linked_to is not None:
            partner = records.get((rec.side.other, rec.linked_to))
            partner_name = partner.person.display_name if partner is not None else None
        return RecordIdentity(
            rec.side, rec.id, rec.person.display_name, rec.linked_to, partner_name
        )

    def say(node: NodeKey) -> str:
        return ident(node).describe()

    link_hint = "link the right pair with `pcosync people link ROCK_ID PCO_ID`"
    sentences: list[str] = []
    if kind is IssueKind.ALREADY_LINKED:
        for node in taken:
            tier, cands = best[node]
            target = records[cands[0].node]
            sentences.append(
                f"{say(node)} matches {say(target.node)} by {tier.label}, but "
                f"{target.side.label} person {target.id} is already being synced with "
                f"{_partner_phrase(target, ident(target.node).linked_to_name)}."
            )
        dup_side = records[taken[0]].side
        sentences.append(
            f"If they are the same person, merge the duplicates in {dup_side.label}; "
            f"otherwise {link_hint}, or unlink the existing pair with `pcosync people unlink`."
        )
    elif kind is IssueKind.CONTESTED:
        for claimed, claimants in contested.items():
            tier = best[claimants[0]][0]
            who = _join([say(n) for n in claimants])
            sentences.append(
                f"{who} all match {say(claimed)} (by {tier.label}), so pcosync linked none of them."
                if len(claimants) > 2
                else f"{who} both match {say(claimed)} (by {tier.label}), "
                f"so pcosync linked neither."
            )
        dup_side = records[next(iter(contested.values()))[0]].side
        sentences.append(
            f"If they are the same person, merge the duplicates in {dup_side.label}; "
            f"otherwise {link_hint}."
        )
    else:
        for node in several:
            tier, cands = best[node]
            other = records[node].side.other
            listed = _join([ident(c.node).describe() for c in cands])
            sentences.append(
                f"{say(node)} matches {len(cands)} {other.label} people by {tier.label}: "
                f"{listed}. pcosync will not guess which one."
            )
        dup_side = records[several[0]].side.other if several else Side.ROCK
        sentences.append(f"Merge the duplicates in {dup_side.label}, or {link_hint}.")
    records_out = tuple(ident(n) for n in members)
    # The same pair is seen from both of its records: keep each edge once, in a stable order.
    unique_edges = tuple(sorted(set(edges), key=lambda e: (e.rock_id, e.pco_id, e.evidence)))
    return MatchIssue(kind, records_out, unique_edges, " ".join(sentences))


def _partner_phrase(cand: MatchRecord, partner_name: str | None) -> str:
    assert cand.linked_to is not None
    side = cand.side.other
    label = "Rock person" if side is Side.ROCK else "Planning Center person"
    if partner_name:
        return f"{label} {cand.linked_to} ({partner_name})"
    return f"{label} {cand.linked_to}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f" and {items[-1]}"
