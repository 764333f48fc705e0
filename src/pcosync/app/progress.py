"""Progress of long work: events the application layer emits and a face renders.

The app layer says what it is doing in a few structured events, at phase boundaries and in
the apply loop; the CLI draws them as a Rich progress bar (phase, n of total, rate, time
left), a dashboard could draw the same. Nothing here prints.

    PhaseStarted(name, total, unit)   a phase begins; ``total`` when the amount is known
    Advanced(count)                   ``count`` more units of the phase are done
    Waiting(service, seconds, why)    the run waits on a service, e.g. Planning Center's rate
                                      limit (the shared limiter tells when it pauses)

It also gives the time estimate shown before a first sync (:func:`estimate_first_sync`,
:func:`estimate_plan`): Planning Center's rate limit is what bounds a first sync, so the
estimate is its requests divided by the limit's rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pcosync.domain.identity import Side

PCO_LIMIT = 100  # requests per period, per Planning Center login (spec §2.3)
PCO_PERIOD = 20.0  # seconds
ROCK_RATE = 20.0  # requests a second Rock answers with 8 in flight (no published limit)


@dataclass(frozen=True, slots=True)
class PhaseStarted:
    name: str
    total: int | None = None
    unit: str = "changes"  # "changes" are advanced by the app; "requests" counted by the face


@dataclass(frozen=True, slots=True)
class Advanced:
    count: int = 1


@dataclass(frozen=True, slots=True)
class Waiting:
    service: str
    seconds: float
    why: str = "rate limit"


ProgressEvent = PhaseStarted | Advanced | Waiting
Listener = Callable[[ProgressEvent], None]


class Progress:
    """Where the app layer reports progress; without a listener it costs nothing."""

    def __init__(self, listener: Listener | None = None) -> None:
        self.listener = listener
        self.requests: Callable[[], int] = lambda: 0  # requests made so far (set by the app)

    def emit(self, event: ProgressEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    def phase(self, name: str, total: int | None = None, unit: str = "changes") -> None:
        self.emit(PhaseStarted(name, total, unit))

    def advance(self, count: int = 1) -> None:
        self.emit(Advanced(count))

    def waiting(self, service: str, seconds: float, why: str = "rate limit") -> None:
        self.emit(Waiting(service, seconds, why))


NO_PROGRESS = Progress()


# ---------------------------------------------------------------------------- estimates


@dataclass(frozen=True, slots=True)
class Estimate:
    """How long a sync should take, and what it is made of (for the sentence shown)."""

    pco_requests: int
    rock_requests: int
    seconds: float
    basis: str  # what the numbers come from, in words

    def sentence(self) -> str:
        return (
            f"about {_duration(self.seconds)} ({self.pco_requests:,} Planning Center requests "
            f"at its limit of {PCO_LIMIT} every {PCO_PERIOD:.0f} seconds; {self.basis})"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5):.0f} seconds"
    minutes = seconds / 60
    if minutes < 90:
        return f"{round(minutes):.0f} minutes"
    return f"{minutes / 60:.1f} hours"


def _seconds(pco_requests: int, rock_requests: int) -> float:
    # both sides are written side by side; Planning Center's limit usually decides
    return max(pco_requests * PCO_PERIOD / PCO_LIMIT, rock_requests / ROCK_RATE)


def estimate_first_sync(
    *, pco_people: int, services_people: int, teams: int, rock_people: int
) -> Estimate:
    """Before anything was read: a first sync reads every Planning Center person (100 a
    request, emails, phones and addresses included), every Services person and team, and
    writes the link id on each serving person's record (one request each); Rock is read in
    pages of 1,000 and gets the link id of each serving person too."""
    reads = (
        math.ceil(pco_people / 100)
        + math.ceil(services_people / 100)
        + math.ceil(max(teams, 1) / 100)
        + 12  # the constant part: apps, campuses, mergers, service types, folders…
    )
    pco = reads + services_people
    rock = math.ceil(rock_people / 1000) + 2 * services_people
    return Estimate(
        pco,
        rock,
        _seconds(pco, rock),
        f"{pco_people:,} people in Planning Center, {services_people:,} of them in Services",
    )


# requests each planned operation costs on its side (a create also writes the link id back)
_OP_COST = {"create": 3, "update": 1, "link": 1, "unlink": 1, "add_member": 1}


def estimate_plan(
    operations: Iterable[tuple[Side, str]], *, pco_reads: int, rock_reads: int
) -> Estimate:
    """From a dry run's plan: the reads it made, plus each planned write's requests."""
    pco, rock = pco_reads, rock_reads
    for side, kind in operations:
        cost = _OP_COST.get(kind, 1)
        if side is Side.PCO:
            pco += cost
        else:
            rock += cost
    return Estimate(pco, rock, _seconds(pco, rock), "counted from this dry run's plan")


@dataclass
class RequestCounter:
    """Requests made by a set of clients (read when a face draws the progress)."""

    sources: list[Callable[[], int]] = field(default_factory=list)

    def __call__(self) -> int:
        return sum(source() for source in self.sources)


__all__ = [
    "NO_PROGRESS",
    "Advanced",
    "Estimate",
    "Listener",
    "PhaseStarted",
    "Progress",
    "ProgressEvent",
    "RequestCounter",
    "Waiting",
    "estimate_first_sync",
    "estimate_plan",
]
