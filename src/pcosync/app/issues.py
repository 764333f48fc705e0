"""Settling a match issue by saying "these are different people: create them" (issue 12).

The matcher reports a person it cannot place safely (a possible duplicate known only by name,
or several candidates) and creates no one. Linking the right pair is ``pcosync people link``;
:func:`create_anyway` is the other answer: every pair the issue names becomes a never-link
pair (as ``pcosync people unlink`` makes one), the issue is resolved, and the next sync
creates whoever is in scope on the other side.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcosync.errors import PcoSyncError
from pcosync.store import IssueStatus, Store, StoredIssue


class IssueError(PcoSyncError):
    """The issue cannot be settled this way (no such issue, already resolved)."""


@dataclass(frozen=True, slots=True)
class CreateAnyway:
    issue: StoredIssue
    excluded: list[tuple[int, str]]


def create_anyway(store: Store, issue_id: int) -> CreateAnyway:
    """Mark the records of an open issue as different people and resolve it."""
    issue = store.issues.get(issue_id)
    if issue is None:
        raise IssueError(
            f"There is no match issue #{issue_id}. List them with: pcosync people issues"
        )
    if issue.status is not IssueStatus.OPEN:
        raise IssueError(f"Match issue #{issue_id} is already resolved; nothing to do.")
    linked = {(lk.rock_person_id, lk.pco_person_id) for lk in store.links.all()}
    pairs = [(int(e["rock_id"]), str(e["pco_id"])) for e in issue.evidence or ()]
    if not pairs:  # an issue stored without its evidence: every pair it names
        pairs = [(r, p) for r in issue.rock_ids for p in issue.pco_ids]
    excluded = []
    with store.transaction():
        for pair in dict.fromkeys(pairs):
            if pair in linked:  # a pair synced today stays synced
                continue
            store.links.exclude(*pair, note=f"create anyway: match issue #{issue_id}")
            excluded.append(pair)
        store.issues.resolve(issue_id)
    return CreateAnyway(issue, excluded)
