"""Edits made while a run works: re-read just before writing, at most once per interval.

A run plans from what it read when it started; a person may edit the same record minutes
later, before the run writes it. So before a write to a record that a person may be
editing (an update, or a revert's delete), the run makes sure it has read that side's
changes since its last look, no longer than ``interval`` ago. One read covers every record
of the side: Planning Center ``people?where[updated_at][gte]`` (one request, contacts
included: an email, phone or address edit bumps the person's ``updated_at``, spec §4.11),
Rock the same change queries an incremental run makes. Concurrent writers share one read.

The cost is bounded by time, not by writes: at most one read per side per ``interval``
while that side is being written, none when nothing is. What a re-read finds is handed to
``on_fresh``, which re-plans (a sync) or re-validates (an approval, a revert) the people it
touches. What remains (say it in docs/guarantees.md): an edit made less than ``interval``
(plus clock skew, up to ``margin``) before the write to that field of that record can still
be overwritten.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from pcosync.domain.identity import Side
from pcosync.engine.ports import ObservedPerson

log = logging.getLogger("pcosync.sync")


class Reader(Protocol):
    """Everyone changed on a side since a moment; with ``wanted``, a reader may read no
    further than their rows the people whose Ids (as text) it does not name."""

    def __call__(
        self, since: datetime, wanted: Callable[[], Collection[str]] | None = None, /
    ) -> Awaitable[Sequence[ObservedPerson]]: ...


OnFresh = Callable[[Side, Sequence[ObservedPerson]], None]
Wanted = Callable[[Side], Collection[str]]

DEFAULT_INTERVAL = timedelta(seconds=1.5)
# edits are looked up from a little before the previous read started: the servers' clocks
# and ours differ (pcosync check warns past a few seconds), and timestamps are whole seconds
DEFAULT_MARGIN = timedelta(seconds=5)
# reads per write at most: again while the last one took longer than the interval
MAX_READS = 3
# a read is repeated only when it took longer than this (and than the interval): a timeout
# and its retry, a 429's wait — not the few hundred milliseconds any read takes
SLOW_READ = timedelta(seconds=1)


class InFlight:
    """Re-reads each side's changes before writes to it (see the module docstring)."""

    def __init__(
        self,
        readers: dict[Side, Reader],
        on_fresh: OnFresh,
        *,
        since: dict[Side, datetime],
        clock: Callable[[], datetime],
        interval: timedelta = DEFAULT_INTERVAL,
        margin: timedelta = DEFAULT_MARGIN,
        first_readers: dict[Side, Reader] | None = None,
    ) -> None:
        self.readers = readers
        self.first_readers = first_readers or {}
        self.on_fresh = on_fresh
        self.since = dict(since)
        self.clock = clock
        self.interval = interval
        self.margin = margin
        self.last_read: dict[Side, datetime] = {}
        self.reads: dict[Side, int] = {Side.ROCK: 0, Side.PCO: 0}
        # the records whose changes still matter, per side (set by the applier, like
        # on_fresh): on_fresh ignores the others, so a reader need not read them in full
        self.wanted: Wanted | None = None
        self._locks = {side: asyncio.Lock() for side in Side}

    def _fresh_enough(self, side: Side) -> bool:
        last = self.last_read.get(side)
        return last is not None and self.clock() - last < self.interval

    def fresh_enough(self, side: Side) -> bool:
        """Whether a write to ``side`` may go now without another read."""
        return side not in self.readers or self._fresh_enough(side)

    async def ensure_fresh(self, side: Side) -> None:
        """Return once ``side``'s changes were read no longer than ``interval`` ago (reading
        them now if needed; writers waiting at the same time share that read)."""
        if self._fresh_enough(side) or side not in self.readers:
            return
        async with self._locks[side]:
            # a read that took long (retries after a timeout, a 429) is as old as its start:
            # read again, from where it started, a few times at most (simulation seed 149:
            # a 60 s read let a write overwrite an edit made while it waited)
            for n in range(MAX_READS):
                if self._fresh_enough(side):
                    return
                if n and self.clock() - self.last_read[side] < max(self.interval, SLOW_READ):
                    return  # an ordinary read, just longer than a very short interval: a
                    # repeat would take as long (and a write that then waits for its rate
                    # slot looks again anyway, see app.applier._OpGuard)
                await self._read(side)

    async def _read(self, side: Side) -> None:
        started = self.clock()
        since = self.since[side] - self.margin
        first = side not in self.last_read
        reader = self.first_readers.get(side) if first else None
        read = reader or self.readers[side]
        wanted = self.wanted
        if wanted is None:
            records = await read(since)
        else:
            records = await read(since, lambda: wanted(side))
        # (nothing awaits from here to on_fresh: what the reader last asked for is what
        # on_fresh sees)
        self.since[side] = started
        self.last_read[side] = started
        self.reads[side] += 1
        log.info("sync.recheck side=%s changed=%s", side.value, len(records))
        if records:
            self.on_fresh(side, records)


__all__ = ["DEFAULT_INTERVAL", "InFlight"]
