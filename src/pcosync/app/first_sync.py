"""A connection's first sync, which an admin should see before it writes (issue 15).

In a terminal the CLI runs the first sync held (the plan is saved, nothing is written),
shows :func:`first_plan_lines`, asks, and then approves that held run with
:func:`pcosync.app.review.approve` (the same function ``pcosync approve`` uses: one read,
one applier) or rejects it. Without a terminal a first sync runs as any other, within the
``[safety]`` limits. Also here: how long a first sync should take, estimated from the
counts and Planning Center's rate limit, before it runs.
"""

from __future__ import annotations

from pcosync.app.people_sync import RunSummary
from pcosync.app.progress import Estimate, estimate_first_sync, estimate_plan
from pcosync.clients.pco import PcoClient
from pcosync.clients.pco.jsonapi import Query
from pcosync.store import Store
from pcosync.store.runs import RunMode, RunStatus

FIRST_SYNC_HOLD = (
    "First sync of this connection: shown to you before anything is written (`--yes` "
    "skips the question)."
)


def is_first_sync(store: Store) -> bool:
    """Nothing linked yet and no run ever wrote anything (a rejected or dry first run does
    not count)."""
    if store.links.count(None):
        return False
    for status in (RunStatus.DONE, RunStatus.PARTIAL):
        for run in store.runs.list(50, status=status):
            if not run.dry_run and run.mode is not RunMode.REVERT:
                return False
    return True


def first_plan_lines(summary: RunSummary) -> list[str]:
    """The held first sync's plan in a few plain lines (counts per side)."""
    created, updated = summary.created, summary.updated
    lines = [
        f"{summary.linked} people would be linked (the same person found in both systems, "
        "or created on the side that lacks them).",
        f"Rock: {created['rock']} people created, {updated['rock']} updated.",
        f"Planning Center: {created['pco']} people created, {updated['pco']} updated.",
    ]
    added, removed = summary.members_added, summary.members_removed
    if any(added.values()) or any(removed.values()):
        lines.append(
            f"Team memberships: {added['rock']} added and {removed['rock']} removed in Rock, "
            f"{added['pco']} added and {removed['pco']} removed in Planning Center."
        )
    if summary.match_issues:
        lines.append(
            f"{summary.match_issues} people could not be matched safely and are left alone "
            "(see `pcosync people issues`)."
        )
    lines.extend(r for r in summary.hold_reasons if r != FIRST_SYNC_HOLD)
    return lines


async def count_before_first_sync(pco: PcoClient) -> Estimate:
    """Three small reads (one record each) give the counts a first sync's time follows."""

    async def total(path: str) -> int:
        doc = await pco.get(path, Query(per_page=1))
        return doc.total_count or len(doc.data)

    return estimate_first_sync(
        pco_people=await total("/people/v2/people"),
        services_people=await total("/services/v2/people"),
        teams=await total("/services/v2/teams"),
        rock_people=0,
    )


def estimate_from_dry_run(store: Store, summary: RunSummary) -> Estimate:
    """A dry run made every read a real run makes: add the writes its plan lists."""
    ops = [(j.operation.side, j.operation.kind.value) for j in store.journal.list(summary.run_id)]
    return estimate_plan(
        ops,
        pco_reads=summary.requests.get("pco", 0),
        rock_reads=summary.requests.get("rock", 0),
    )


__all__ = [
    "FIRST_SYNC_HOLD",
    "count_before_first_sync",
    "estimate_from_dry_run",
    "first_plan_lines",
    "is_first_sync",
]
