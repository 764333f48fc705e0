"""Freed heap handed back between a run's phases (:mod:`pcosync.app.memory`)."""

from __future__ import annotations

import platform
import sys

from pcosync.app.memory import release_free_memory


def test_release_free_memory_runs_where_glibc_has_malloc_trim() -> None:
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert release_free_memory() is glibc
