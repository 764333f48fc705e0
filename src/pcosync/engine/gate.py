"""The safety brake: hold a run whose plan is suspiciously big, or whose observation is.

Counts a plan's creates, updates and removals per side (people and memberships apart) and
compares them with the synced population on that side. A held run writes nothing until an
admin approves it. Pure: the orchestrator supplies the populations and what was observed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pcosync.domain.identity import Side
from pcosync.engine.plan import MEMBERSHIP_KINDS, GateCategory, Operation


class Decision(StrEnum):
    PROCEED = "proceed"
    HOLD = "hold"


class Subject(StrEnum):
    PEOPLE = "people"
    MEMBERSHIPS = "memberships"


@dataclass(frozen=True, slots=True)
class Threshold:
    """Hold when a category's count exceeds ``percent`` of the population or ``max_count``.

    ``percent=0`` holds every run that would write anything of that kind (an empty plan
    has nothing to approve, so it proceeds). None switches that limit off.
    """

    percent: float | None = 10.0
    max_count: int | None = None


@dataclass(frozen=True, slots=True)
class GateConfig:
    create: Threshold = Threshold(percent=10.0)
    update: Threshold = Threshold(percent=10.0)
    remove: Threshold = Threshold(percent=5.0)
    drop_percent: float = 20.0  # hold when a side returns this much fewer people than last time

    def threshold(self, category: GateCategory) -> Threshold:
        if category is GateCategory.CREATE:
            return self.create
        if category is GateCategory.UPDATE:
            return self.update
        return self.remove


@dataclass(frozen=True, slots=True)
class Population:
    """How many people (and memberships) are synced on one side: the denominators."""

    people: int
    memberships: int = 0

    def of(self, subject: Subject) -> int:
        return self.people if subject is Subject.PEOPLE else self.memberships


class HoldCode(StrEnum):
    THRESHOLD_PERCENT = "threshold_percent"
    THRESHOLD_COUNT = "threshold_count"
    EMPTY_SIDE = "empty_side"
    POPULATION_DROP = "population_drop"


@dataclass(frozen=True, slots=True)
class HoldReason:
    code: HoldCode
    side: Side
    message: str  # for the admin, e.g. in the "run held" notification
    category: GateCategory | None = None
    subject: Subject | None = None
    count: int = 0
    population: int = 0


@dataclass(frozen=True)
class GateResult:
    decision: Decision
    reasons: tuple[HoldReason, ...]
    counts: Mapping[tuple[Side, Subject, GateCategory], int] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        return self.decision is Decision.HOLD


_VERBS = {
    (Subject.PEOPLE, GateCategory.CREATE): "created",
    (Subject.PEOPLE, GateCategory.UPDATE): "updated",
    (Subject.PEOPLE, GateCategory.REMOVE): "unlinked or archived",
    (Subject.MEMBERSHIPS, GateCategory.CREATE): "added",
    (Subject.MEMBERSHIPS, GateCategory.UPDATE): "changed",
    (Subject.MEMBERSHIPS, GateCategory.REMOVE): "removed",
}


def count_operations(
    operations: Iterable[Operation],
) -> Counter[tuple[Side, Subject, GateCategory]]:
    counts: Counter[tuple[Side, Subject, GateCategory]] = Counter()
    for op in operations:
        subject = Subject.MEMBERSHIPS if op.kind in MEMBERSHIP_KINDS else Subject.PEOPLE
        counts[(op.side, subject, op.category)] += 1
    return counts


def gate(
    operations: Iterable[Operation],
    population: Mapping[Side, Population],
    config: GateConfig = GateConfig(),
    *,
    observed: Mapping[Side, int] | None = None,
    previous_observed: Mapping[Side, int] | None = None,
    synced_at_previous: Mapping[Side, int] | None = None,
) -> GateResult:
    """Decide ``proceed`` or ``hold``, with every reason that applies.

    ``observed`` is how many in-scope people each side returned on a *full* read (leave it
    out on incremental runs, where few changes are normal); ``previous_observed`` is the
    same number from the last full read, for the drop guard; ``synced_at_previous`` how many
    people were synced when that read was accepted.
    """
    counts = count_operations(operations)
    reasons: list[HoldReason] = []
    for (side, subject, category), count in sorted(counts.items()):
        if count == 0:
            continue
        limit = config.threshold(category)
        pop = population.get(side, Population(0)).of(subject)
        noun = "people" if subject is Subject.PEOPLE else "memberships"
        verb = _VERBS[(subject, category)]
        where = side.label
        if limit.percent is not None and count > pop * limit.percent / 100:
            share = f"{count * 100 / pop:.1f}% of {pop:,}" if pop else f"with {noun} at 0"
            reasons.append(
                HoldReason(
                    HoldCode.THRESHOLD_PERCENT,
                    side,
                    f"{where}: {count:,} {noun} would be {verb} ({share}), above the "
                    f"{limit.percent:g}% limit for {category.value}s.",
                    category,
                    subject,
                    count,
                    pop,
                )
            )
        if limit.max_count is not None and count > limit.max_count:
            reasons.append(
                HoldReason(
                    HoldCode.THRESHOLD_COUNT,
                    side,
                    f"{where}: {count:,} {noun} would be {verb}, above the limit of "
                    f"{limit.max_count:,} {category.value}s per run.",
                    category,
                    subject,
                    count,
                    pop,
                )
            )
    if observed is not None:
        for side, seen in sorted(observed.items()):
            before = (previous_observed or {}).get(side)
            synced = population.get(side, Population(0)).people
            # people synced since the last full read count as before: a side found empty
            # and approved so is not held again for the same emptiness because links to
            # people now out of scope remain (sim seed 86), but is when people were synced
            # after it (with no count on record, any synced person counts)
            then = (synced_at_previous or {}).get(side)
            grown = synced > (then if then is not None and before is not None else 0)
            if seen == 0 and ((before or 0) > 0 or grown):
                reasons.append(
                    HoldReason(
                        HoldCode.EMPTY_SIDE,
                        side,
                        f"{side.label} returned no people in scope, but "
                        f"{max(before or 0, synced):,} were synced before. Check the "
                        f"credentials' permissions and the {side.label} data before approving.",
                        population=synced,
                    )
                )
            elif before and seen < before * (1 - config.drop_percent / 100):
                drop = (before - seen) * 100 / before
                reasons.append(
                    HoldReason(
                        HoldCode.POPULATION_DROP,
                        side,
                        f"{side.label} returned {seen:,} people in scope, {drop:.0f}% fewer "
                        f"than the {before:,} of the last full read (limit "
                        f"{config.drop_percent:g}%).",
                        count=seen,
                        population=before,
                    )
                )
    decision = Decision.HOLD if reasons else Decision.PROCEED
    return GateResult(decision, tuple(reasons), dict(counts))
