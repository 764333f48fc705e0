"""Credentials or permissions refused mid-run (issue 12): stop, say which, never park.

A 401 or 403 is not a problem with one record: every later write would be refused the same
way, and parking each would report a credential problem as a pile of bad records. So the
first refusal while a run writes stops the run: operations already in flight finish (each
is journaled as applied or refused), nothing else is sent (journaled as skipped), nothing is
parked, and the run fails with :class:`~pcosync.errors.CredentialsRefused`, whose message
says which credential was refused and to run ``pcosync check``. The next run, once the
credential works again, plans the rest afresh.
"""

from __future__ import annotations

from pcosync.engine.plan import Operation
from pcosync.errors import (
    ApiError,
    AuthenticationError,
    CredentialsRefused,
    PermissionDenied,
)
from pcosync.store import OpStatus, Store

REFUSALS = (AuthenticationError, PermissionDenied)


def credential_of(exc: ApiError) -> str:
    """Which credential a refusal points at, in the words of the config file and the UIs."""
    if exc.service == "rock":  # Rock answers 401 both for a bad key and for missing rights
        return (
            "Rock refused pcosync's REST key (rock.api_key): it was removed or disabled, or "
            "its REST user lost the rights pcosync needs"
        )
    if isinstance(exc, PermissionDenied):
        return (
            "Planning Center refused a write: the user of pcosync's app id (pco.app_id) lost "
            "a permission pcosync needs (People Editor, Services Scheduler or more)"
        )
    return (
        "Planning Center refused pcosync's app id and secret (pco.app_id, pco.secret): the "
        "personal access token was revoked or its secret changed"
    )


def refusal_message(exc: ApiError, *, run_id: int | None = None, written: int = 0) -> str:
    """One paragraph: which credential, what happened to the run, what to run."""
    what = f"{credential_of(exc)} ({exc.method} {exc.path} → {exc.status})."
    if run_id is None:
        done = " Nothing more was written."
    else:
        done = (
            f" Run {run_id} stopped there: {written} change(s) were written before it and are "
            f"kept (pcosync runs show {run_id}); nothing was parked, and the next run writes "
            "the rest."
        )
    return (
        f"{what}{done} Find out what is refused with: pcosync check — then fix the key or "
        "the rights (or run `pcosync init` again)."
    )


def refused(exc: ApiError, *, run_id: int | None = None, written: int = 0) -> CredentialsRefused:
    return CredentialsRefused(
        refusal_message(exc, run_id=run_id, written=written),
        credential=credential_of(exc),
        refused=exc,
    )


class Refusal:
    """The first refusal of a run's writes; once set, nothing else is sent."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.run_id = run_id
        self.first: ApiError | None = None

    @property
    def stopped(self) -> bool:
        return self.first is not None

    def refuse(self, op: Operation, exc: ApiError) -> None:
        """``op`` was refused: journaled as failed (it did not happen), never parked."""
        if self.first is None:
            self.first = exc
        journal = self.store.journal
        if journal.get(self.run_id, op.seq).status in (OpStatus.PLANNED, OpStatus.SENT):
            journal.mark_failed(self.run_id, op.seq, f"refused: {credential_of(exc)}")

    def skip(self, op: Operation) -> None:
        """Not sent: the run stopped at a refusal."""
        reason = "not sent: the run stopped when its credentials were refused"
        self.store.journal.mark_skipped(self.run_id, op.seq, reason)

    def raise_if_refused(self, written: int) -> None:
        if self.first is not None:
            raise refused(self.first, run_id=self.run_id, written=written) from self.first
