"""An asyncio event loop on virtual time: when every task waits, time jumps to the next timer.

Nothing in the simulation touches a socket, so the loop never has real I/O to wait for.
``asyncio.sleep`` (in the engine, the rate limiter, retries, the emulators' injected latency
and timeouts) therefore costs no wall time at all, and a whole scenario of hours of virtual
time runs in well under a second. When every task waits on something no timer will ever
complete, the simulation is stuck: :class:`SimDeadlock` says so instead of hanging. So it
does when virtual time runs past :data:`HORIZON` (a scenario plays well under an hour): tasks
that only ever wait on timers, such as a process polling for a run lease that a stuck run
keeps renewing, would otherwise spin for ever (seed 123 of the sim tier did).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")

EPOCH = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
HORIZON = 12 * 3600.0  # virtual seconds: far beyond any scenario, quiescing included


class SimDeadlock(RuntimeError):
    """Every task waits and no timer is set: nothing can ever happen again."""


class _VirtualSelector(selectors.BaseSelector):
    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.loop: VirtualLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise SimDeadlock("every task waits and nothing is scheduled")
        assert self.loop is not None
        self.loop.vtime += timeout
        if self.loop.vtime > HORIZON:
            raise SimDeadlock(
                f"still running after {HORIZON / 3600:.0f} hours of virtual time: tasks wait on "
                "timers only, and nothing they wait for ever happens"
            )
        return []

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Any:
        return self._real.get_map()


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.vtime = 0.0
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        return self.vtime

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.vtime)


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on a fresh virtual loop; tasks left waiting (dead processes) are
    abandoned, not cancelled: a killed process runs no cleanup."""
    loop = VirtualLoop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        for task in asyncio.all_tasks(loop):
            task._log_destroy_pending = False  # type: ignore[attr-defined]
        asyncio.set_event_loop(None)
        loop.close()
