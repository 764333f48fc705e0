"""The pure sync engine: merge, plan, match, gate, revert, and the ports to the outside.

Nothing here does I/O: no HTTP, no database, no clock reads. The orchestrator feeds it
observations and carries out its plans through :mod:`pcosync.engine.ports`.
"""

from __future__ import annotations

from pcosync.engine.gate import (
    Decision,
    GateConfig,
    GateResult,
    HoldReason,
    Population,
    Threshold,
    gate,
)
from pcosync.engine.match import (
    Evidence,
    IssueKind,
    MatchedPair,
    MatchIssue,
    MatchRecord,
    MatchResult,
    match_people,
)
from pcosync.engine.merge import Base, ConflictRule, Reason, conflict_winner, merge_value
from pcosync.engine.plan import (
    Conflict,
    OneSided,
    Operation,
    OpKind,
    PersonPair,
    SyncPlan,
    agreed_by,
    base_after_ops,
    held_reading,
    plan_leavers,
    plan_memberships,
    plan_people,
    settle_base,
    unapplied_fields,
)
from pcosync.engine.revert import RevertPlan, RevertSkip, plan_revert

__all__ = [
    "Base",
    "Conflict",
    "ConflictRule",
    "Decision",
    "Evidence",
    "GateConfig",
    "GateResult",
    "HoldReason",
    "IssueKind",
    "MatchIssue",
    "MatchRecord",
    "MatchResult",
    "MatchedPair",
    "OneSided",
    "OpKind",
    "Operation",
    "PersonPair",
    "Population",
    "Reason",
    "RevertPlan",
    "RevertSkip",
    "SyncPlan",
    "Threshold",
    "agreed_by",
    "base_after_ops",
    "conflict_winner",
    "gate",
    "held_reading",
    "match_people",
    "merge_value",
    "plan_leavers",
    "plan_memberships",
    "plan_people",
    "plan_revert",
    "settle_base",
    "unapplied_fields",
]
