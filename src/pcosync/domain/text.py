"""Characters no store and no API can hold, and how to show text that carries them.

A NUL (PostgreSQL text and JSONB refuse it outright), the other C0 control characters (bell,
escape, form feed…; tab, line feed and carriage return are ordinary whitespace), and unpaired
UTF-16 surrogates (broken Unicode that cannot even be encoded as UTF-8). The adapters refuse
values holding one (:mod:`pcosync.adapters.sanitize`); :func:`scrub` makes any other text safe
to show and keep by replacing them with a visible stand-in, and the state store applies it to
everything it persists.
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or written (without quoting it), or None."""
    found = _UNSAFE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if code == 0:
        what = "a NUL character"
    elif code < 0x20:
        what = f"an invisible control character (U+{code:04X})"
    else:
        what = "broken Unicode (an unpaired surrogate)"
    return f"contains {what}, which pcosync cannot store or copy"


def _stand_in(found: re.Match[str]) -> str:
    code = ord(found.group())
    return chr(0x2400 + code) if code < 0x20 else "\ufffd"


def scrub(text: str) -> str:
    """``text`` with every character :func:`problem` objects to replaced by a visible
    stand-in: the control pictures ``␀``–``␟``, or ``\ufffd`` for a surrogate."""
    return _UNSAFE.sub(_stand_in, text) if _UNSAFE.search(text) else text


def strip_unsafe(text: str) -> str:
    """``text`` without the characters :func:`problem` objects to."""
    return _UNSAFE.sub("", text)


def scrub_json(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with every string scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_json(k): scrub_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_json(v) for v in value]
    return value
