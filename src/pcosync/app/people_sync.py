"""The sync of one connection: what a run needs (adapters, store, policy, limits), and the
run itself (:func:`pcosync.app.pipeline.run_sync`).

:class:`PeopleSync` holds the dependencies; the steps live in :mod:`pcosync.app.pipeline`
(lease → settle → observe → plan → gate → apply → record), the one applier in
:mod:`pcosync.app.applier`, approving and reverting in :mod:`pcosync.app.review` and
:mod:`pcosync.app.revert`. Time and sleeping come in through the constructor, so a whole
run can go under a simulated clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pcosync.adapters.pco import PcoPeople
from pcosync.adapters.rock import RockPeople
from pcosync.app.applier import InDoubt, safe
from pcosync.app.inflight import DEFAULT_INTERVAL
from pcosync.app.memberships import MembershipSync
from pcosync.app.progress import NO_PROGRESS, Progress
from pcosync.app.summary import RunSummary, SyncOptions
from pcosync.domain.identity import Side
from pcosync.domain.policy import DEFAULT_POLICY, SyncPolicy
from pcosync.engine.gate import GateConfig, Threshold
from pcosync.store import Store
from pcosync.store.journal import JournaledOp

NO_THRESHOLDS = GateConfig(
    create=Threshold(None, None), update=Threshold(None, None), remove=Threshold(None, None)
)

Sleep = Callable[[float], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PeopleSync:
    """Runs syncs for one connection."""

    def __init__(
        self,
        store: Store,
        rock: RockPeople,
        pco: PcoPeople,
        *,
        policy: SyncPolicy = DEFAULT_POLICY,
        gate_config: GateConfig = NO_THRESHOLDS,
        lookback: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = _utcnow,
        sleep: Sleep = asyncio.sleep,
        progress: Progress | None = None,
        concurrency: int = 32,
        memberships: MembershipSync | None = None,
        inactivate_leavers: bool = False,
        recheck: timedelta = DEFAULT_INTERVAL,
        name_only_issues: bool = True,  # [sync] possible_duplicates = "report"
    ) -> None:
        self.name_only_issues = name_only_issues
        self.concurrency = concurrency
        self.inactivate_leavers = inactivate_leavers
        self.memberships = memberships
        self.store = store
        self.rock = rock
        self.pco = pco
        self.policy = policy
        self.gate_config = gate_config
        self.lookback = lookback
        self.clock = clock
        self.sleep = sleep
        self.recheck = recheck
        self.progress = progress or NO_PROGRESS  # structured progress events for a face

    def _side(self, side: Side) -> RockPeople | PcoPeople:
        return self.rock if side is Side.ROCK else self.pco

    async def run(self, options: SyncOptions | None = None) -> RunSummary:
        """One run under the connection's run lease (see :func:`pipeline.run_sync`)."""
        from pcosync.app.pipeline import run_sync

        return await run_sync(self, options)


_safe = safe  # older name, kept for callers outside this package

__all__ = ["InDoubt", "JournaledOp", "PeopleSync", "Progress", "RunSummary", "SyncOptions"]
