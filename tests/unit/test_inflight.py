"""The in-flight re-read (app.inflight) on a virtual clock: a slow read is read again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from pcosync.app.inflight import InFlight
from pcosync.domain.identity import Side
from pcosync.engine.ports import ObservedPerson
from tests.sim.vloop import EPOCH, run_virtual


def test_a_read_that_took_longer_than_the_interval_is_read_again() -> None:
    """Simulation seed 149 (test tier): the re-read before a write waited 60 s on a timeout
    and a retry; an edit made meanwhile was missed by the parts of it already answered, and
    the write overwrote it. Now a read older than the interval when it ends is read again
    (from where it started), a few times at most."""

    async def main() -> list[tuple[datetime, float]]:
        loop = asyncio.get_running_loop()
        calls: list[tuple[datetime, float]] = []

        def now() -> datetime:
            return EPOCH + timedelta(seconds=loop.time())

        async def read(since: datetime) -> Sequence[ObservedPerson]:
            calls.append((since, loop.time()))
            await asyncio.sleep(60 if len(calls) == 1 else 0.2)
            return []

        flight = InFlight(
            {Side.ROCK: read},
            lambda side, records: None,
            since={Side.ROCK: now()},
            clock=now,
            interval=timedelta(seconds=1.5),
            margin=timedelta(seconds=5),
        )
        await flight.ensure_fresh(Side.ROCK)
        await flight.ensure_fresh(Side.ROCK)  # fresh now: no third read
        return calls

    calls = run_virtual(main())
    assert len(calls) == 2
    (_first_since, first_at), (second_since, second_at) = calls
    assert second_at >= first_at + 60
    # the second read covers everything since the first one started (minus the margin)
    assert second_since == EPOCH + timedelta(seconds=first_at) - timedelta(seconds=5)


def test_reads_are_bounded_when_every_read_is_slow() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        calls = 0

        def now() -> datetime:
            return EPOCH + timedelta(seconds=loop.time())

        async def read(since: datetime) -> Sequence[ObservedPerson]:
            nonlocal calls
            calls += 1
            await asyncio.sleep(10)
            return []

        flight = InFlight(
            {Side.PCO: read}, lambda side, records: None, since={Side.PCO: now()}, clock=now
        )
        await flight.ensure_fresh(Side.PCO)
        return calls

    assert run_virtual(main()) == 3
