"""What a run did (or would do), as counts a person and a script can read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pcosync.engine.plan import Operation, OpKind
from pcosync.store.runs import RunMode, RunStatus


@dataclass
class SyncOptions:
    full: bool = False
    dry_run: bool = False
    hold: bool = False
    wait: bool = False  # another run in progress: wait for it instead of exiting 75
    hold_reason: str | None = None  # why it is held, when not --hold (a first sync asked)


@dataclass
class RunSummary:
    run_id: int
    status: RunStatus
    mode: RunMode
    dry_run: bool
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)  # revert: records it had created
    members_added: Counter[str] = field(default_factory=Counter)
    members_removed: Counter[str] = field(default_factory=Counter)
    inactivated: Counter[str] = field(default_factory=Counter)  # opt-in: left every team
    groups_inactivated: int = 0
    groups_reactivated: int = 0
    linked: int = 0
    conflicts: int = 0
    parked: int = 0
    match_issues: int = 0
    in_doubt: int = 0
    replanned: int = 0  # people re-planned because someone edited them while the run worked
    # Planning Center link ids (remote_id): owed by this run's new links, written this run
    # (with the rate budget left over), still owed by all links once the run ended
    link_ids_owed: int = 0
    link_ids_written: int = 0
    link_ids_pending: int = 0
    hold_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    planned: int = 0
    # a full run: people in scope in Planning Center (the drop guard's next baseline)
    observed_pco: int | None = None

    @property
    def exit_code(self) -> int:
        if self.status is RunStatus.HELD:
            return 4
        if self.status is RunStatus.FAILED:
            return 1
        if self.status is RunStatus.PARTIAL:
            return 3
        return 0

    def count_operation(self, op: Operation) -> None:
        """Count one planned (dry, held) or applied operation."""
        side = op.side.value
        kind = op.kind
        if kind is OpKind.CREATE:
            self.created[side] += 1
        elif kind is OpKind.UPDATE:
            self.updated[side] += 1
        elif kind is OpKind.DELETE:
            self.deleted[side] += 1
        elif kind is OpKind.ADD_MEMBER:
            self.members_added[side] += 1
        elif kind is OpKind.REMOVE_MEMBER:
            self.members_removed[side] += 1
        elif kind is OpKind.ARCHIVE:
            self.inactivated[side] += 1
        elif kind is OpKind.INACTIVATE_GROUP:
            self.groups_inactivated += 1
        elif kind is OpKind.REACTIVATE_GROUP:
            self.groups_reactivated += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "mode": self.mode.value,
            "dry_run": self.dry_run,
            "created": {"rock": self.created["rock"], "pco": self.created["pco"]},
            "updated": {"rock": self.updated["rock"], "pco": self.updated["pco"]},
            "deleted": {"rock": self.deleted["rock"], "pco": self.deleted["pco"]},
            "memberships": {
                "added": {"rock": self.members_added["rock"], "pco": self.members_added["pco"]},
                "removed": {
                    "rock": self.members_removed["rock"],
                    "pco": self.members_removed["pco"],
                },
            },
            "inactivated": {"pco": self.inactivated["pco"]},
            "groups": {
                "inactivated": self.groups_inactivated,
                "reactivated": self.groups_reactivated,
            },
            "linked": self.linked,
            "conflicts": self.conflicts,
            "parked": self.parked,
            "match_issues": self.match_issues,
            "in_doubt": self.in_doubt,
            "replanned": self.replanned,
            "link_ids": {
                "owed": self.link_ids_owed,
                "written": self.link_ids_written,
                "pending": self.link_ids_pending,
            },
            "planned_operations": self.planned,
            "observed_pco": self.observed_pco,
            "hold_reasons": self.hold_reasons,
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
        }


def summary_of_applied(
    run_id: int, status: RunStatus, mode: RunMode, applied: Iterable[Operation]
) -> RunSummary:
    """The counts of a run rebuilt from its journal (a run whose process died)."""
    summary = RunSummary(run_id, status, mode, False)
    for op in applied:
        summary.count_operation(op)
        summary.planned += 1
        # a new pair: its Planning Center link id is owed in the commit that makes the link
        # (so it is applied first, even when the run died before the Rock write)
        new_pair = (
            op.kind is OpKind.LINK and op.reason.value == "new_link" and op.side.value == "pco"
        )
        if op.kind is OpKind.CREATE or new_pair:
            summary.linked += 1
    return summary


__all__ = ["RunSummary", "SyncOptions", "summary_of_applied"]
