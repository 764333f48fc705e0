"""The one boundary every value read from Rock or Planning Center passes (issue 12).

Both adapters call :func:`screen` on the raw values of a person before mapping them. A value
holding a character neither the state store nor the other side can hold (a NUL, another C0
control character, an unpaired surrogate: see :mod:`pcosync.domain.text`) is never copied
anywhere: :func:`screen` raises :class:`~pcosync.domain.InvalidValue` naming the field, the
adapter keeps the person as a :class:`~pcosync.adapters.common.RejectedRecord` (parked,
naming person and field, shown with :func:`scrub`), and the run goes on. Names of groups
read from an API (folders, teams, positions, tags) are shown and written through
:func:`clean_label`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pcosync.domain import InvalidValue
from pcosync.domain.text import problem, scrub, scrub_json, strip_unsafe

__all__ = ["clean_label", "problem", "screen", "scrub", "scrub_json"]


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def screen(values: Mapping[str, object]) -> None:
    """Raise :class:`InvalidValue` for the first field whose raw value (a text, or a tuple
    or mapping of texts such as an address) holds a character that cannot be kept."""
    for field, value in values.items():
        for text in _texts(value):
            reason = problem(text)
            if reason is not None:
                raise InvalidValue(field, reason, value)


def clean_label(name: str) -> str:
    """A group, team or tag name fit to write and keep: the characters :func:`screen`
    refuses are dropped (a name pcosync writes is its own, not a person's field to park)."""
    if problem(name) is None:
        return name
    return " ".join(strip_unsafe(name).split()) or "(unnamed)"
