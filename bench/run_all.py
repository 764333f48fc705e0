"""Run every benchmark in turn (``make bench``); each prints its table and writes its JSON.

The full set takes about 45 minutes, most of it the initial people sync, which is paced by
Planning Center's 100 requests / 20 s. Name benchmarks to run only those:
``.venv/bin/python -m bench.run_all planner rock_read``.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    "planner",
    "pco_emulator_page",
    "rock_emulator_page",
    "pco_read_people",
    "pco_read_deep",
    "rock_read",
    "sync_memory",
    "sync_initial",
    "membership_sync",
]


def main() -> int:
    chosen = sys.argv[1:] or BENCHMARKS
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    failed = []
    for name in chosen:
        print(f"\n== bench.{name}", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
