"""Planning Center Services permission levels (spec §5.5), lowest first.

Each linked position carries the level a person the sync assigns there should have at least
(DESIGN §7): "Scheduled Viewer" unless an admin chooses otherwise. The sync only ever raises
a level, never lowers one (staff keep theirs).
"""

from __future__ import annotations

SERVICES_PERMISSIONS = ("Scheduled Viewer", "Viewer", "Scheduler", "Editor", "Administrator")
DEFAULT_SERVICES_PERMISSION = SERVICES_PERMISSIONS[0]


def permission_rank(level: str | None) -> int:
    """Position in :data:`SERVICES_PERMISSIONS`; -1 for none or one we do not know."""
    if level is None:
        return -1
    folded = level.strip().casefold()
    for rank, name in enumerate(SERVICES_PERMISSIONS):
        if name.casefold() == folded:
            return rank
    return -1


def parse_permission(text: str) -> str | None:
    """The level as Planning Center spells it (any case, ``scheduled_viewer`` too), or None."""
    folded = text.strip().replace("_", " ").replace("-", " ").casefold()
    for name in SERVICES_PERMISSIONS:
        if name.casefold() == folded:
            return name
    return None


def needs_raise(current: str | None, wanted: str) -> bool:
    """True when ``current`` is below ``wanted`` (an unknown current level is left alone:
    it may be one above every level we know)."""
    have = permission_rank(current)
    return have >= 0 and have < permission_rank(wanted)


__all__ = [
    "DEFAULT_SERVICES_PERMISSION",
    "SERVICES_PERMISSIONS",
    "needs_raise",
    "parse_permission",
    "permission_rank",
]
