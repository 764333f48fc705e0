"""The client contract, written once and run against each emulator over real HTTP.

A leg subclasses :class:`ClientContract` and provides fixtures and a few hooks: how to build
a client, list everything, fetch a missing record, create a record and find it again. The
suite then checks what every pcosync client must do: complete paging with the fewest
requests, typed errors, bounded retries through 5xx storms, timeouts and dropped
connections, 429s whose ``Retry-After`` is negative or missing (as real ones have been), a
refused write that leaves nothing behind, and — the one that matters most — a timed-out
create that is reported as ambiguous, never resent, and applied exactly once.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from pcosync.clients.http import RetryPolicy, SystemClock
from pcosync.errors import (
    AmbiguousWriteError,
    ApiError,
    AuthenticationError,
    NotFoundError,
    RetriesExhausted,
)

FAST_RETRY = RetryPolicy(max_attempts=5, max_total_seconds=30, base_seconds=0.05, cap_seconds=0.2)


def control(url: str, path: str, payload: Any = None) -> Any:
    with httpx.Client(base_url=url, timeout=10) as http:
        if payload is None:
            resp = http.get(f"/__emulator__/{path}")
        else:
            resp = http.post(f"/__emulator__/{path}", json=payload)
        resp.raise_for_status()
        return resp.json() if resp.content else None


def set_faults(url: str, *faults: dict[str, Any]) -> None:
    control(url, "faults", {"faults": list(faults), "seed": 1})


def request_count(url: str) -> int:
    return int(control(url, "stats")["requests"])


class RecordingClock(SystemClock):
    """The real clock, remembering every sleep asked of it (a negative one is a bug)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await super().sleep(seconds)


class ClientContract:
    """Subclasses provide the fixtures ``emulator`` and the hooks below."""

    # ---- hooks -------------------------------------------------------------------------
    def make_client(self, emulator: Any, **kw: Any) -> Any:
        raise NotImplementedError

    def make_bad_client(self, emulator: Any) -> Any:
        raise NotImplementedError

    async def list_all(self, client: Any) -> list[str]:
        raise NotImplementedError

    def expected_total(self, emulator: Any) -> int:
        raise NotImplementedError

    def lower_bound_requests(self, total: int) -> int:
        raise NotImplementedError

    async def get_missing(self, client: Any) -> Any:
        raise NotImplementedError

    async def create_marked(self, client: Any, marker: str) -> str:
        raise NotImplementedError

    async def count_marked(self, client: Any, marker: str) -> int:
        raise NotImplementedError

    async def refused_create(self, client: Any, marker: str) -> None:
        """A create the server refuses (a value it cannot store); must raise."""
        raise NotImplementedError

    def rate_limit_fallback_seconds(self, emulator: Any) -> float:
        """Set up the emulator for a test of 429s without a usable ``Retry-After``; returns
        the least the client should then wait (its own pacing: PCO's announced period)."""
        return 0.0

    create_path: str = ""
    list_path: str = ""

    # ---- the contract ------------------------------------------------------------------
    async def test_lists_every_record_with_the_fewest_requests(self, emulator: Any) -> None:
        total = self.expected_total(emulator)
        async with self.make_client(emulator) as client:
            before = request_count(emulator.url)
            ids = await self.list_all(client)
            used = request_count(emulator.url) - before
        assert len(ids) == total
        assert len(set(ids)) == total
        assert used <= self.lower_bound_requests(total) + 1  # +1: the system lookup, if any

    async def test_bad_credentials_raise_authentication_error(self, emulator: Any) -> None:
        async with self.make_bad_client(emulator) as client:
            with pytest.raises(AuthenticationError) as info:
                await self.list_all(client)
        assert info.value.status == 401

    async def test_missing_record_raises_not_found(self, emulator: Any) -> None:
        async with self.make_client(emulator) as client:
            with pytest.raises(NotFoundError):
                await self.get_missing(client)

    async def test_5xx_storm_is_ridden_out(self, emulator: Any) -> None:
        async with self.make_client(emulator, retry=FAST_RETRY) as client:
            await self.list_all(client)  # warm system lookups
            set_faults(
                emulator.url, {"kind": "error", "status": 503, "count": 3, "path": self.list_path}
            )
            ids = await self.list_all(client)
        assert len(ids) == self.expected_total(emulator)
        assert control(emulator.url, "stats")["faults_fired"].get("error") == 3
        assert client.http.stats.retries >= 3

    async def test_endless_5xx_gives_up_with_retries_exhausted(self, emulator: Any) -> None:
        policy = RetryPolicy(
            max_attempts=3, max_total_seconds=10, base_seconds=0.01, cap_seconds=0.05
        )
        async with self.make_client(emulator, retry=policy) as client:
            await self.list_all(client)
            set_faults(emulator.url, {"kind": "error", "status": 500, "path": self.list_path})
            with pytest.raises(RetriesExhausted) as info:
                await self.list_all(client)
        assert info.value.attempts == 3

    async def test_read_timeout_on_a_read_is_retried(self, emulator: Any) -> None:
        async with self.make_client(emulator, retry=FAST_RETRY, timeout=0.5) as client:
            await self.list_all(client)
            set_faults(
                emulator.url, {"kind": "timeout", "seconds": 3, "count": 1, "path": self.list_path}
            )
            ids = await self.list_all(client)
        assert len(ids) == self.expected_total(emulator)

    async def test_dropped_connection_on_a_read_is_retried(self, emulator: Any) -> None:
        async with self.make_client(emulator, retry=FAST_RETRY) as client:
            await self.list_all(client)
            set_faults(emulator.url, {"kind": "drop", "count": 2, "path": self.list_path})
            ids = await self.list_all(client)
        assert len(ids) == self.expected_total(emulator)

    async def test_timed_out_create_is_ambiguous_and_happens_once(self, emulator: Any) -> None:
        marker = f"Ambiguous{int(time.time() * 1000) % 100000}"
        async with self.make_client(emulator, retry=FAST_RETRY, timeout=0.5) as client:
            await self.count_marked(client, marker)  # warm lookups before the fault
            set_faults(
                emulator.url,
                {
                    "kind": "timeout",
                    "method": "POST",
                    "seconds": 3,
                    "count": 1,
                    "after_apply": True,
                    "path": self.create_path,
                },
            )
            with pytest.raises(AmbiguousWriteError):
                await self.create_marked(client, marker)
            # re-read, then decide: the create did happen, exactly once
            assert await self.count_marked(client, marker) == 1

    async def test_dropped_create_is_ambiguous_not_resent(self, emulator: Any) -> None:
        marker = f"Dropped{int(time.time() * 1000) % 100000}"
        async with self.make_client(emulator, retry=FAST_RETRY) as client:
            await self.count_marked(client, marker)
            set_faults(
                emulator.url,
                {
                    "kind": "drop",
                    "method": "POST",
                    "count": 1,
                    "after_apply": True,
                    "path": self.create_path,
                },
            )
            with pytest.raises(AmbiguousWriteError):
                await self.create_marked(client, marker)
            assert await self.count_marked(client, marker) == 1

    async def test_rate_limit_storm_obeys_retry_after(self, emulator: Any) -> None:
        async with self.make_client(emulator, retry=FAST_RETRY) as client:
            await self.list_all(client)
            set_faults(
                emulator.url,
                {"kind": "rate_limit", "count": 2, "retry_after": 1, "path": self.list_path},
            )
            started = time.monotonic()
            ids = await self.list_all(client)
            waited = time.monotonic() - started
        assert len(ids) == self.expected_total(emulator)
        assert waited >= 1.0  # Retry-After was obeyed, not hammered through
        assert control(emulator.url, "stats")["throttled"] == 2

    # ---- strict answers (issue 13) -------------------------------------------------------

    @pytest.mark.parametrize("retry_after", [-5, None], ids=["negative", "missing"])
    async def test_429_without_usable_retry_after_is_ridden_out(
        self, emulator: Any, retry_after: int | None
    ) -> None:
        clock = RecordingClock()
        least = self.rate_limit_fallback_seconds(emulator)
        async with self.make_client(emulator, retry=FAST_RETRY, clock=clock) as client:
            await self.list_all(client)  # learn the announced limit and period
            set_faults(
                emulator.url,
                {"kind": "rate_limit", "count": 2, "retry_after": retry_after,
                 "path": self.list_path},
            )  # fmt: skip
            started = time.monotonic()
            ids = await self.list_all(client)
            waited = time.monotonic() - started
        assert len(ids) == self.expected_total(emulator)
        assert control(emulator.url, "stats")["throttled"] == 2
        assert clock.slept and min(clock.slept) >= 0  # never a negative sleep
        assert waited >= least  # paced by the client's own fallback, not hammered

    async def test_endless_429_with_negative_retry_after_gives_up(self, emulator: Any) -> None:
        policy = RetryPolicy(
            max_attempts=3, max_total_seconds=30, base_seconds=0.01, cap_seconds=0.05
        )
        clock = RecordingClock()
        self.rate_limit_fallback_seconds(emulator)
        async with self.make_client(emulator, retry=policy, clock=clock) as client:
            await self.list_all(client)
            set_faults(
                emulator.url, {"kind": "rate_limit", "retry_after": -1, "path": self.list_path}
            )
            with pytest.raises(RetriesExhausted) as info:
                await self.list_all(client)
        assert info.value.attempts == 3  # bounded, not a loop
        assert min(clock.slept) >= 0

    async def test_refused_create_leaves_nothing_behind(self, emulator: Any) -> None:
        marker = f"Refused{int(time.time() * 1000) % 100000}"
        async with self.make_client(emulator, retry=FAST_RETRY) as client:
            before = request_count(emulator.url)
            with pytest.raises(ApiError):
                await self.refused_create(client, marker)
            sent = request_count(emulator.url) - before
            # an error answer means nothing was stored: re-reading finds no trace of it
            assert await self.count_marked(client, marker) == 0
        assert sent == 1  # a refused write is not resent
