"""The run lease: one holder per connection, renewals, expiry, takeover, release."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from pcosync.app.lease import RunLease, describe_holder
from pcosync.errors import LeaseLost, RunInProgress
from pcosync.store import Store
from tests.store.conftest import FakeClock

TTL = timedelta(seconds=60)


def _take(store: Store, token: str, **kw: object) -> bool:
    got = store.leases.try_acquire(
        token, ttl=TTL, purpose="sync", host=str(kw.get("host", "here")), pid=int(kw.get("pid", 1))
    )
    return got.ok


def test_one_holder_at_a_time_until_release(store: Store) -> None:
    assert _take(store, "a")
    assert not _take(store, "b")
    holder = store.leases.current()
    assert holder is not None and holder.token == "a"
    store.leases.attach_run("a", 7)
    refused = store.leases.try_acquire("b", ttl=TTL, purpose="sync", host="there", pid=2)
    assert not refused.ok and refused.holder is not None and refused.holder.run_id == 7
    assert "Run 7 is in progress" in describe_holder(refused.holder)
    store.leases.release("a")
    assert store.leases.current() is None
    assert _take(store, "b")


def test_an_expired_lease_is_taken_over_and_the_old_holder_learns_it(
    store: Store, clock: FakeClock
) -> None:
    assert _take(store, "a")
    clock.advance(seconds=30)
    assert store.leases.renew("a", TTL)  # renewed: good for another minute
    clock.advance(seconds=59)
    assert not _take(store, "b")
    clock.advance(seconds=2)
    got = store.leases.try_acquire("b", ttl=TTL, purpose="sync", host="there", pid=2)
    assert got.ok and got.holder is not None and got.holder.token == "a"  # the dead one
    assert not store.leases.renew("a", TTL)  # a woke up: it is no longer the holder
    store.leases.release("a")  # and cannot release someone else's lease
    assert store.leases.current() is not None


def test_a_holder_known_dead_is_taken_over_at_once(store: Store) -> None:
    assert _take(store, "a")
    got = store.leases.try_acquire(
        "b", ttl=TTL, purpose="sync", host="here", pid=2, dead=frozenset({"a"})
    )
    assert got.ok


def test_connections_have_their_own_lease(store: Store) -> None:
    other = store.for_connection("second church")
    assert _take(store, "a")
    assert _take(other, "b")


async def test_run_lease_refuses_waits_and_stops_a_holder_that_lost_it(
    store: Store, clock: FakeClock
) -> None:
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock.advance(seconds=seconds)
        await asyncio.sleep(0)

    first = RunLease(store, "sync", sleep=sleep, host="here", pid=1)
    await first.acquire()
    with pytest.raises(RunInProgress, match="--wait"):
        await RunLease(store, "sync", sleep=sleep, host="there", pid=2).acquire()
    told: list[str] = []
    waiter = RunLease(store, "sync", wait=True, on_wait=told.append, sleep=sleep, pid=2)
    waiting = asyncio.ensure_future(waiter.acquire())
    await asyncio.sleep(0)
    await first.release()
    await waiting
    assert told and "Waiting for it to finish" in told[0]
    # the waiter's lease runs out while it is stuck (its renewals fail): it must stop
    await waiter.release()
    lost = RunLease(store, "sync", sleep=sleep, pid=3)
    await lost.acquire()
    store.leases.release(lost.token)
    assert _take(store, "thief")
    for _ in range(3):
        await asyncio.sleep(0)
    clock.advance(seconds=20)
    await asyncio.sleep(0)
    naps.clear()
    # one renewal tick: it finds the lease taken
    await lost._renew_loop()
    with pytest.raises(LeaseLost):
        lost.check()
    await lost.release()
