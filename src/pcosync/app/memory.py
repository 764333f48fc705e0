"""Handing freed heap memory back to the operating system between a run's phases.

A full read leaves much of the C heap free but mapped: glibc returns memory only from the top
of its heap on its own, and the response bodies of the read (the one-page team sweep alone
is ~72 MB at 100,000 people) left holes below records that stay. ``malloc_trim`` gives those
pages back, so the matcher and planner that follow start lower (issue 14). Elsewhere (musl,
macOS, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc's; musl has none
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Give the C heap's free pages back to the OS; True when the platform could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


__all__ = ["release_free_memory"]
