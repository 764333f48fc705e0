"""The run lease as a run uses it: taken before observing, renewed while working, released
at the end (DESIGN §6.0). One run per connection at a time, across processes and machines.

A second process is refused with :class:`~pcosync.errors.RunInProgress` (exit 75), or waits
with ``wait=True``. A holder that died stops renewing; its lease expires after ``ttl`` (at
once when it ran on this host and its process is gone), and the next run takes it over and
settles what the dead run left (``app.recover``). A holder whose lease was taken over while
it was still working (say, a machine that slept for minutes) learns it at its next renewal
or write and stops writing (:class:`~pcosync.errors.LeaseLost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pcosync.errors import LeaseLost, RunInProgress, StoreBusy
from pcosync.store import Store
from pcosync.store.leases import LeaseHolder

log = logging.getLogger("pcosync.lease")

LEASE_TTL = timedelta(seconds=60)
RENEW_EVERY = 15.0  # seconds: four chances to renew before the lease expires
WAIT_POLL = 2.0  # seconds between tries while waiting for another run to end

Sleep = Callable[[float], Awaitable[None]]


def this_host() -> str:
    return socket.gethostname() or "unknown host"


def _process_gone(holder: LeaseHolder, host: str, pid: int) -> bool:
    """A holder on this host whose process no longer exists died without releasing."""
    if holder.host != host or holder.pid is None or holder.pid == pid:
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def describe_holder(holder: LeaseHolder) -> str:
    """One sentence for the person who has to wait: which run, since when, where."""
    when = f"{holder.acquired_at:%Y-%m-%d %H:%M} UTC" if holder.acquired_at else "a moment ago"
    where = f"on host {holder.host}" if holder.host else "on another machine"
    if holder.pid is not None:
        where += f", process {holder.pid}"
    what = f"Run {holder.run_id} is" if holder.run_id is not None else "Another pcosync command is"
    if holder.run_id is None and holder.purpose:
        what = f"Another pcosync command ({holder.purpose}) is"
    return f"{what} in progress on this connection (started at {when}, {where})."


class RunLease:
    """Hold the connection's run lease for the duration of an ``async with`` block."""

    def __init__(
        self,
        store: Store,
        purpose: str,
        *,
        wait: bool = False,
        on_wait: Callable[[str], None] | None = None,
        ttl: timedelta = LEASE_TTL,
        renew_every: float = RENEW_EVERY,
        poll: float = WAIT_POLL,
        sleep: Sleep = asyncio.sleep,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        self.store = store
        self.purpose = purpose
        self.wait = wait
        self.on_wait = on_wait
        self.ttl = ttl
        self.renew_every = renew_every
        self.poll = poll
        self.sleep = sleep
        self.host = host or this_host()
        self.pid = pid if pid is not None else os.getpid()
        self.token = uuid.uuid4().hex
        self.previous: LeaseHolder | None = None  # a dead holder we took over from
        self.lost = False
        self._renewer: asyncio.Task[None] | None = None
        self._held = False

    async def acquire(self) -> None:
        told = False
        while True:
            current = self.store.leases.current()
            dead = (
                frozenset({current.token})
                if current is not None and _process_gone(current, self.host, self.pid)
                else frozenset()
            )
            got = self.store.leases.try_acquire(
                self.token,
                ttl=self.ttl,
                purpose=self.purpose,
                host=self.host,
                pid=self.pid,
                dead=dead,
            )
            if got.ok:
                self.previous = got.holder
                break
            assert got.holder is not None
            message = describe_holder(got.holder)
            if not self.wait:
                raise RunInProgress(
                    f"{message} This {self.purpose} did nothing; try again when it has "
                    "finished, or add --wait to wait for it.",
                    run_id=got.holder.run_id,
                )
            if not told and self.on_wait is not None:
                self.on_wait(f"{message} Waiting for it to finish…")
                told = True
            await self.sleep(self.poll)
        self._held = True
        self._renewer = asyncio.ensure_future(self._renew_loop())
        log.info("lease.acquired purpose=%s took_over=%s", self.purpose, self.previous is not None)

    def attach(self, run_id: int) -> None:
        self.store.leases.attach_run(self.token, run_id)

    def check(self) -> None:
        """Call before each write: a run whose lease was taken over must stop writing."""
        if self.lost:
            raise LeaseLost(
                "This run's lease expired and another pcosync process took over the "
                "connection (was this machine asleep?). It stopped writing; the other run "
                "settles what it left."
            )

    async def _renew_loop(self) -> None:
        while True:
            await self.sleep(self.renew_every)
            try:
                if not self.store.leases.renew(self.token, self.ttl):
                    self.lost = True
                    log.warning("lease.lost purpose=%s", self.purpose)
                    return
            except StoreBusy:  # tried again at the next tick, well before the lease expires
                log.warning("lease.renew_busy purpose=%s", self.purpose)

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if self._held and not self.lost:
            self.store.leases.release(self.token)
        self._held = False

    async def __aenter__(self) -> RunLease:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()
