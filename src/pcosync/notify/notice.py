"""What a notification says, built from a run's outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NOTIFY_STATUSES = frozenset({"held", "partial", "failed"})
CREDENTIAL_ERRORS = frozenset({"AuthenticationError", "PermissionDenied", "CredentialsRefused"})


@dataclass(frozen=True)
class Notice:
    run_id: int
    status: str
    subject: str
    text: str
    command: str
    counts: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The webhook body: ``text`` is what Slack and Teams display."""
        return {
            "text": self.text,
            "run_id": self.run_id,
            "status": self.status,
            "command": self.command,
            "counts": dict(self.counts),
        }


def _counts_line(counts: Mapping[str, Any]) -> str:
    created = counts.get("created") or {}
    updated = counts.get("updated") or {}
    return (
        f"People created: {created.get('rock', 0)} in Rock, {created.get('pco', 0)} in "
        f"Planning Center. Updated: {updated.get('rock', 0)} in Rock, "
        f"{updated.get('pco', 0)} in Planning Center. Parked: {counts.get('parked', 0)}. "
        f"Conflicts: {counts.get('conflicts', 0)}."
    )


def notice_for(
    run_id: int,
    status: str,
    *,
    counts: Mapping[str, Any] | None = None,
    hold_reasons: Sequence[str] = (),
    error_kind: str | None = None,
    credential: str | None = None,
    connection: str = "default",
) -> Notice | None:
    """A notice for a held, partial or failed run; None for any other outcome.

    Hold reasons come from the gate and carry counts only. A failure says what kind of
    error it was, never its text (which may name a record or a URL); a refused credential
    says which one (``credential``, from :func:`pcosync.app.refusal.credential_of`).
    """
    if status not in NOTIFY_STATUSES:
        return None
    c = dict(counts or {})
    safe_counts: dict[str, Any] = {
        k: c[k] for k in ("created", "updated", "linked", "parked", "conflicts") if k in c
    }
    where = f" ({connection})" if connection != "default" else ""
    if status == "held":
        command = f"pcosync review {run_id}"
        subject = f"pcosync{where}: run {run_id} is held for review"
        lines = [
            f"Run {run_id} was held for review before writing anything:",
            *(f"- {r}" for r in hold_reasons),
            _counts_line(c),
            f"Look at it with: {command}",
            f"Then: pcosync approve {run_id}   or   pcosync reject {run_id}",
        ]
    elif status == "partial" and c.get("mode") == "revert":
        command = f"pcosync runs show {run_id}"
        subject = f"pcosync{where}: revert run {run_id} left {c.get('parked', 0)} not undone"
        lines = [
            f"Revert run {run_id} finished, but {c.get('parked', 0)} change(s) could not be "
            "undone. They are not retried: see which, and set them back by hand.",
            f"Look at it with: {command}",
        ]
    elif status == "partial":
        command = f"pcosync runs show {run_id}"
        subject = f"pcosync{where}: run {run_id} finished with {c.get('parked', 0)} parked"
        lines = [
            f"Run {run_id} finished, but {c.get('parked', 0)} record(s) could not be written "
            "and were parked; they are retried on later runs.",
            _counts_line(c),
            f"Look at it with: {command}   (and: pcosync parked)",
        ]
    elif error_kind in CREDENTIAL_ERRORS or credential:
        command = "pcosync check"
        subject = f"pcosync{where}: run {run_id} failed: credentials or permissions refused"
        which = credential or (
            "Rock or Planning Center refused pcosync's credentials or permissions (a REST "
            "key or token revoked, a password changed, or rights removed)"
        )
        lines = [
            f"Run {run_id} failed because {which}. It stopped there: nothing was written "
            "after that point and nothing was parked; the next run writes the rest.",
            f"Find out what is refused with: {command}   then fix the key or the rights, or "
            "run `pcosync init` again.",
        ]
    else:
        command = f"pcosync runs show {run_id}"
        subject = f"pcosync{where}: run {run_id} failed"
        kind = f" ({error_kind})" if error_kind else ""
        lines = [
            f"Run {run_id} failed{kind}. Nothing after the failure was written; the next run "
            "continues where it stopped.",
            f"Look at it with: {command}   Check the connection with: pcosync check",
        ]
    return Notice(run_id, status, subject, "\n".join(lines), command, safe_counts)
