"""Benchmark: peak memory of a full sync pass at 100,000 people (a dry run).

Both emulators run in their own processes with a church of 100,000 people on each side; the
sync reads everything, matches, plans and journals the plan (``--dry-run`` writes nothing to
either system). This measures the sync process's peak memory (RSS) and how long each phase
took. Pacing is not what is measured here, so the PCO emulator's limit is raised to 5,000
requests / 20 s (the other benchmarks keep the real 100).

    .venv/bin/python -m bench.sync_memory [--people 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.sync_initial import free_port, wait_for
from pcosync.app.context import open_connection
from pcosync.app.people_sync import SyncOptions
from pcosync.app.progress import PhaseStarted, Progress, ProgressEvent
from pcosync.config import load_settings, write_settings
from pcosync.emulators.credentials import DEFAULT_API_KEY, DEFAULT_APP_ID, DEFAULT_SECRET

RESULTS = Path(__file__).parent / "results"


def start(kind: str, people: int, port: int) -> subprocess.Popen[bytes]:
    extra = ", rate_limit=5000" if kind == "pco" else ""
    opts = f"seed=31, people={people}, both=1.0, pco_only=0.0, serving=0.9{extra}"
    code = (
        f"from pcosync.emulators.{kind}.app import create_app;"
        "from pcosync.emulators.server import serve_forever;"
        f"serve_forever(create_app({opts}), '127.0.0.1', {port})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def rss_mib() -> float:
    """The process's resident set now (Linux), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    pco_port, rock_port = free_port(), free_port()
    pco, rock = f"http://127.0.0.1:{pco_port}", f"http://127.0.0.1:{rock_port}"
    servers = [start("pco", args.people, pco_port), start("rock", args.people, rock_port)]
    try:
        wait_for(pco)
        wait_for(rock)
        work = Path(tempfile.mkdtemp(prefix="pcosync-mem-"))
        config = work / "pcosync.toml"
        write_settings(
            config,
            {
                "rock": {"url": rock, "api_key": DEFAULT_API_KEY},
                "pco": {"url": pco, "app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET},
                "state": {"url": "sqlite:///state.db"},
            },
        )
        phases: list[tuple[str, float]] = []
        rss_at: list[tuple[str, float]] = []  # RSS when each phase started
        started = time.perf_counter()

        async def go() -> dict[str, object]:
            def phase(event: ProgressEvent) -> None:
                if isinstance(event, PhaseStarted):
                    phases.append((event.name, time.perf_counter() - started))
                    rss_at.append((event.name, rss_mib()))

            async with open_connection(load_settings(config), progress=Progress(phase)) as conn:
                summary = await conn.people.run(SyncOptions(dry_run=True))
                return summary.as_dict()

        summary = asyncio.run(go())
        rss_at.append(("done", rss_mib()))
        wall = time.perf_counter() - started
        pco_people = httpx.get(
            f"{pco}/people/v2/people",
            params={"per_page": 1},
            auth=(DEFAULT_APP_ID, DEFAULT_SECRET),
        ).json()["meta"]["total_count"]
    finally:
        for s in servers:
            s.terminate()
            s.wait(timeout=10)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "people_per_side": pco_people,
        "planned_operations": summary["planned_operations"],
        "wall_s": round(wall, 1),
        "phases_s": [(m, round(t, 1)) for m, t in phases],
        "peak_rss_mib": round(peak, 1),
        "rss_at_phase_start_mib": rss_at,
        "requests": summary["requests"],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sync_memory.json").write_text(json.dumps(result, indent=2))
    print(
        f"| people per side | planned ops | wall s | peak RSS MiB | requests PCO/Rock |\n"
        f"|---|---|---|---|---|\n| {pco_people} | {summary['planned_operations']} | "
        f"{result['wall_s']} | {result['peak_rss_mib']} | "
        f"{result['requests']['pco']}/{result['requests']['rock']} |"  # type: ignore[index]
    )
    print("phases:", result["phases_s"])
    print("RSS at phase start (MiB):", rss_at)


if __name__ == "__main__":
    main()
