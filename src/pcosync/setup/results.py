"""The outcome of one setup check: ok, warning or failed, with what to do about it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"


@dataclass(frozen=True)
class Check:
    """``detail`` says what was found; ``fix`` what to do next (empty when nothing)."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def warning(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, Status.WARNING, detail, fix)


def failed(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, Status.FAILED, detail, fix)


def all_passed(checks: Iterable[Check]) -> bool:
    """True when nothing failed (warnings allowed)."""
    return all(c.status is not Status.FAILED for c in checks)
