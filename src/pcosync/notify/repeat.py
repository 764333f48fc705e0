"""Telling the admin once, not every 15 minutes (issue 12): pure decisions, no I/O.

A scheduled sync repeats. One stuck parked record, a held plan nobody has looked at yet, a
Planning Center outage: every run would say the same again. So a notice is about a
**situation** (what is wrong, as a fingerprint that leaves out run ids and counts), and:

- a new or changed situation is told at once;
- the same situation again is not told, except as a **digest** once it has been quiet for a
  day ("still so, N more runs since …");
- when it clears, a **resolved** notice says so.

A run that ends *done* while records parked by earlier runs wait for their retry is not news:
it neither repeats the partial notice nor calls it resolved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from pcosync.notify.notice import Notice
from pcosync.store.notices import NoticeState

RUN_TOPIC = "run"
DIGEST_EVERY = timedelta(days=1)


class Tell(StrEnum):
    NOTHING = "nothing"  # no situation, none before
    NEW = "new"  # a new or changed situation: the notice as it is
    QUIET = "quiet"  # the same situation, told less than a day ago
    DIGEST = "digest"  # the same situation, quiet for a day: say it is still so
    RESOLVED = "resolved"  # the situation told before is over


@dataclass(frozen=True, slots=True)
class Situation:
    status: str  # held | partial | failed
    fingerprint: str


def fingerprint(*parts: str | Iterable[str]) -> str:
    """A stable digest of what makes a situation this one (sorted, so order never counts)."""
    flat: list[str] = []
    for part in parts:
        flat.extend([part] if isinstance(part, str) else sorted(part))
    return hashlib.sha256("\x1f".join(flat).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Decision:
    tell: Tell
    state: NoticeState | None  # what to keep afterwards (None: forget the topic)


def decide(
    previous: NoticeState | None,
    situation: Situation | None,
    *,
    now: datetime,
    run_id: int,
    run_done: bool,
    text: str = "",
    topic: str = RUN_TOPIC,
) -> Decision:
    """What to tell after a run, and the state to keep. ``text`` is the new notice's text
    (kept for digests); ``run_done``: the run itself ended done (not partial)."""
    if situation is None:
        return Decision(Tell.RESOLVED if previous else Tell.NOTHING, None)
    if previous is not None and previous.fingerprint == situation.fingerprint:
        if now - previous.last_sent_at >= DIGEST_EVERY:
            state = replace(previous, last_seen_at=now, last_sent_at=now, repeats=0)
            return Decision(Tell.DIGEST, replace(state, last_run_id=run_id))
        seen = replace(previous, last_seen_at=now, repeats=previous.repeats + 1)
        return Decision(Tell.QUIET, replace(seen, last_run_id=run_id))
    if run_done and situation.status == "partial":
        # records parked earlier, still waiting: not news; an earlier failure or hold is over
        if previous is not None and previous.status != "partial":
            return Decision(Tell.RESOLVED, None)
        return Decision(Tell.QUIET, previous)
    fresh = NoticeState(
        topic, situation.fingerprint, situation.status, text, now, now, now, 0, run_id
    )
    return Decision(Tell.NEW, fresh)


def digest_notice(previous: NoticeState, current: Notice | None, run_id: int) -> Notice:
    """The daily reminder of an unchanged situation."""
    runs = previous.repeats + 1
    since = f"{previous.first_seen_at:%Y-%m-%d %H:%M} UTC"
    command = current.command if current is not None else "pcosync runs"
    body = current.text if current is not None else previous.summary
    lines = [
        f"Daily digest: unchanged since {since}. {runs} run(s) since the last message "
        f"ended the same way (the latest: run {run_id}); pcosync sends this at most once a "
        "day while nothing changes, and says so when it is resolved.",
        "",
        body,
    ]
    counts = dict(current.counts) if current is not None else {}
    return Notice(
        run_id,
        previous.status,
        f"pcosync: still {previous.status} since {previous.first_seen_at:%Y-%m-%d} "
        f"({runs} more run(s))",
        "\n".join(lines),
        command,
        counts,
    )


def resolved_notice(previous: NoticeState, run_id: int, connection: str = "default") -> Notice:
    """The situation told before is over."""
    where = f" ({connection})" if connection != "default" else ""
    since = f"{previous.first_seen_at:%Y-%m-%d %H:%M} UTC"
    lines = [
        f"Resolved: run {run_id} finished without the problem reported since {since} "
        f"(the run was {previous.status} then). Nothing more needs doing for it.",
        "",
        "What was reported:",
        previous.summary,
    ]
    return Notice(
        run_id,
        "resolved",
        f"pcosync{where}: resolved (run {run_id}): no longer {previous.status}",
        "\n".join(lines),
        f"pcosync runs show {run_id}",
        {},
    )
