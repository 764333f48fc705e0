"""Link ids on Planning Center records, written with the rate budget left over.

A link joins a Rock person and a Planning Center person. It lives in the state store and,
at once, on the Rock record (attribute ``PcoPersonId``: Rock publishes no rate limit). On the
Planning Center record it is ``remote_id`` = the Rock person Id, one request per person
under Planning Center's 100 requests per 20 s. A first sync that links 4,500 people would
spend 15 minutes on those alone, before or between the writes that carry people's data. So
the applier only *owes* them (:meth:`~pcosync.store.links.LinkRepo.owe_pco_link`), and they
are written here:

- at the end of every run, with the requests the rate window takes right now without
  anyone waiting, minus a reserve for the next run's reads (:func:`write_owed`);
- between runs, by whoever has time to spend (``serve``, or ``pcosync people
  write-link-ids``), paced by the limiter until a deadline (:func:`write_link_ids`).

Meanwhile the store and Rock's ``PcoPersonId`` are the truth: matching never needs the
``remote_id`` (a Rock record whose ``PcoPersonId`` names an unlinked Planning Center person
without a ``remote_id`` is adopted, see :func:`pcosync.engine.scope.adopt_mutual`), and a
Planning Center create carries its ``remote_id`` in the create itself, so a lost answer is
still found again. Writing an id is idempotent; one that was owed when a process died is
still owed, and written again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pcosync.app.applier import safe
from pcosync.app.lease import RunLease
from pcosync.errors import ApiError, LeaseLost, NotFoundError, TransportError

if TYPE_CHECKING:
    from pcosync.app.people_sync import PeopleSync

log = logging.getLogger("pcosync.sync")

# a run leaves this share of the rate limit free for the next run's reads
RESERVE_SHARE = 0.2


@dataclass
class LinkIdsResult:
    written: int = 0
    pending: int = 0  # still owed afterwards
    notes: list[str] = field(default_factory=list)


async def write_owed(
    sync: PeopleSync,
    *,
    wait: bool = False,
    until: Callable[[], bool] | None = None,
    lease: RunLease | None = None,
) -> LinkIdsResult:
    """Write owed ``remote_id``s (the caller holds the run lease).

    ``wait=False`` (the end of a run): only while the rate window has room now, beyond a
    reserve of a fifth of the limit, so nobody's data ever waits for a link id.
    ``wait=True`` (between runs): paced by the limiter until ``until()`` says stop."""
    store = sync.store
    owed = store.links.owed_pco_links()
    out = LinkIdsResult()
    if not owed:
        return out
    out.pending = len(owed)
    limiter = sync.pco.client.limiter
    reserve = max(1, int(limiter.limit * RESERVE_SHARE))
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(owed)):
        queue.put_nowait(i)
    stop = False

    def may_send() -> bool:
        if stop or (until is not None and until()):
            return False
        return wait or limiter.free_now() > reserve

    async def worker() -> None:
        nonlocal stop
        while not queue.empty() and may_send():
            link = owed[queue.get_nowait()]
            if lease is not None:
                lease.check()
            try:
                await sync.pco.write_link(link.pco_person_id, link.rock_person_id)
            except NotFoundError:
                # merged or deleted: the next sync follows the merge (the survivor's id is
                # owed again) or retires the link; nothing to write on a record that is gone
                store.links.pco_link_written(link.id, link.pco_person_id)
                out.notes.append(
                    f"The Planning Center person {link.pco_person_id} no longer exists; "
                    "its link id was not written (the next sync follows the merge or "
                    "retires the link)."
                )
                continue
            except LeaseLost:
                stop = True
                raise
            except (ApiError, TransportError) as exc:
                stop = True  # a temporary problem or a refusal: the rest stays owed
                out.notes.append(
                    f"Writing link ids on Planning Center stopped: {safe(exc)}; the rest "
                    "stays owed and is written later."
                )
                return
            store.links.pco_link_written(link.id, link.pco_person_id)
            out.written += 1

    workers = min(sync.concurrency, len(owed))
    await asyncio.gather(*(worker() for _ in range(workers)))
    out.pending = len(store.links.owed_pco_links())
    log.info("sync.link_ids written=%s pending=%s", out.written, out.pending)
    return out


async def write_link_ids(
    sync: PeopleSync, *, seconds: float | None = None, wait_for_lease: bool = False
) -> LinkIdsResult:
    """Between runs (``serve``, ``pcosync people write-link-ids``): take the run lease and
    write owed link ids, paced by the rate limiter, for at most ``seconds`` (None: all).
    A run holding the lease refuses it (:class:`~pcosync.errors.RunInProgress`) unless
    ``wait_for_lease``."""
    deadline = None if seconds is None else time.monotonic() + seconds

    def until() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    async with RunLease(sync.store, "link ids", wait=wait_for_lease, sleep=sync.sleep) as lease:
        return await write_owed(sync, wait=True, until=until, lease=lease)


__all__ = ["LinkIdsResult", "write_link_ids", "write_owed"]
