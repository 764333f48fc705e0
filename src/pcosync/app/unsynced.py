"""Values pcosync reads but cannot sync, told once (issue 12): several phone numbers of one
kind. Each person's extra numbers are a topic in the store's ``notices`` table; a run notes
them when they are new or changed, and says nothing while they stay the same."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from pcosync.adapters.common import UnsyncedPhones
from pcosync.notify.repeat import fingerprint
from pcosync.store import Store
from pcosync.store.notices import NoticeState


class _Reports(Protocol):
    unsynced: list[UnsyncedPhones]


def report_unsynced(store: Store, sides: Iterable[_Reports], *, record: bool) -> list[str]:
    """Drain the adapters' reports; the notes for what is new or changed since last told.
    ``record`` False (a dry run): noted, not remembered, so the real run says it too."""
    notes: list[str] = []
    seen: set[str] = set()
    for side in sides:
        found, side.unsynced = side.unsynced, []
        for item in found:
            if item.topic in seen:
                continue
            seen.add(item.topic)
            mark = fingerprint("phones", item.ids)
            told = store.notices.get(item.topic)
            if told is not None and told.fingerprint == mark:
                continue
            notes.append(item.message)
            if record:
                now = datetime.now(UTC)
                store.notices.save(
                    NoticeState(item.topic, mark, "noted", item.message, now, now, now)
                )
    return notes
