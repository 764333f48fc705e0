"""Benchmark: the initial people sync, then a no-change incremental sync.

About 5,000 people serving in Planning Center against a 10,000-person Rock, both emulators in
their own processes with 150 ms injected latency per request and PCO's real limit
(100 requests / 20 s). Reports per side: requests, the lower bound, wall time against the PCO
rate-limit floor (PCO requests ÷ 5 per second), and the sync process's peak memory.

The run right after the initial sync re-reads, within the look-back window, the records the
initial sync wrote; the steady-state no-change run comes after the look-back (1 minute here).

Lower bound, PCO: the reads (teams sweep ⌈T/100⌉, Services people ⌈S/100⌉, people ⌈N/100⌉,
person mergers 1) plus one request per Planning Center write the plan needs (each link id
written, each created or updated record). Rock publishes no limit; its requests are reported.

    .venv/bin/python -m bench.sync_initial [--people 10526] [--latency-ms 150]
        [--initial-only | --no-link-ids] [--out sync_initial.json]

It also reports the Rock side per person written there: the ``PcoPersonId`` writes apart,
and the other Rock requests of the run divided by the people created or updated in Rock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from pcosync.app.context import open_connection
from pcosync.app.link_ids import LinkIdsResult, write_link_ids
from pcosync.app.people_sync import RunSummary
from pcosync.config import load_settings, write_settings
from pcosync.emulators.credentials import DEFAULT_API_KEY, DEFAULT_APP_ID, DEFAULT_SECRET
from pcosync.store import Store

RESULTS = Path(__file__).parent / "results"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(kind: str, people: int, port: int) -> subprocess.Popen[bytes]:
    # 10,526 people: 45 % on both sides, 5 % in PCO only, 50 % in Rock only, everyone in
    # PCO serving → about 5,000 serving people and 10,000 Rock people
    opts = f"seed=21, people={people}, both=0.45, pco_only=0.05, serving=1.0"
    code = (
        f"from pcosync.emulators.{kind}.app import create_app;"
        "from pcosync.emulators.server import serve_forever;"
        f"serve_forever(create_app({opts}), '127.0.0.1', {port})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stats(url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{url}/__emulator__/stats", timeout=30).json())


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            stats(url)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not start")


def counts(url: str) -> tuple[int, int]:
    s = stats(url)
    return int(s["requests"]), sum(int(s["by_method"].get(m, 0)) for m in WRITES)


async def write_ids(config: Path) -> LinkIdsResult:
    async with open_connection(load_settings(config)) as conn:
        return await write_link_ids(conn.people)


async def run_sync(config: Path) -> RunSummary:
    async with open_connection(load_settings(config)) as conn:
        return await conn.people.run()


def measure(config: Path, pco: str, rock: str, label: str) -> dict[str, Any]:
    p0, pw0 = counts(pco)
    r0, rw0 = counts(rock)
    routes0 = stats(pco)["by_route"]
    rock_routes0 = stats(rock)["by_route"]
    started = time.perf_counter()
    summary = asyncio.run(run_sync(config))
    wall = time.perf_counter() - started
    p1, pw1 = counts(pco)
    r1, rw1 = counts(rock)
    routes1 = stats(pco)["by_route"]
    pco_routes = {k: v - routes0.get(k, 0) for k, v in routes1.items() if v - routes0.get(k, 0)}
    rock_routes1 = stats(rock)["by_route"]
    rock_routes = {
        k: v - rock_routes0.get(k, 0) for k, v in rock_routes1.items() if v - rock_routes0.get(k, 0)
    }
    return {
        "run": label,
        "pco_routes": pco_routes,
        "rock_routes": rock_routes,
        "summary": summary.as_dict(),
        "wall_s": round(wall, 1),
        "pco_requests": p1 - p0,
        "pco_writes": pw1 - pw0,
        "rock_requests": r1 - r0,
        "rock_writes": rw1 - rw0,
        "pco_429s": stats(pco)["throttled"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_526)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument(
        "--initial-only",
        action="store_true",
        help="measure the initial sync only (skip the two later runs and the link ids)",
    )
    parser.add_argument(
        "--no-link-ids",
        action="store_true",
        help="measure the initial sync and the two later runs, not the owed link ids (≈ 14 min)",
    )
    parser.add_argument("--out", default="sync_initial.json", help="file name under bench/results/")
    args = parser.parse_args()

    pco_port, rock_port = free_port(), free_port()
    pco, rock = f"http://127.0.0.1:{pco_port}", f"http://127.0.0.1:{rock_port}"
    servers = [start("pco", args.people, pco_port), start("rock", args.people, rock_port)]
    try:
        wait_for(pco)
        wait_for(rock)
        work = Path(tempfile.mkdtemp(prefix="pcosync-bench-"))
        pco_campuses = {
            c["attributes"]["name"]: c["id"]
            for c in httpx.get(
                f"{pco}/people/v2/campuses", auth=(DEFAULT_APP_ID, DEFAULT_SECRET)
            ).json()["data"]
        }
        rock_campuses = {
            c["Name"]: c["Id"]
            for c in httpx.get(
                f"{rock}/api/Campuses", headers={"Authorization-Token": DEFAULT_API_KEY}
            ).json()
        }
        config = work / "pcosync.toml"
        write_settings(
            config,
            {
                "rock": {"url": rock, "api_key": DEFAULT_API_KEY},
                "pco": {"url": pco, "app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET},
                "state": {"url": "sqlite:///state.db"},
                # a one-minute look-back, so the steady-state run below needs a short wait only
                "sync": {"lookback_minutes": 1},
                "campus_map": [
                    {"name": n, "rock_id": rock_campuses[n], "pco_id": pco_campuses[n]}
                    for n in pco_campuses
                    if n in rock_campuses
                ],
            },
        )
        for url in (pco, rock):
            httpx.post(
                f"{url}/__emulator__/faults",
                json={"faults": [{"kind": "latency", "ms": args.latency_ms}]},
            )
        pco_total = httpx.get(
            f"{pco}/people/v2/people", params={"per_page": 1}, auth=(DEFAULT_APP_ID, DEFAULT_SECRET)
        ).json()["meta"]["total_count"]
        rock_total = len(
            httpx.get(
                f"{rock}/api/People",
                params={"$select": "Id"},
                headers={"Authorization-Token": DEFAULT_API_KEY},
            ).json()
        )
        time.sleep(21)  # start the sync with an empty rate window
        initial = measure(config, pco, rock, "initial")
        echo: dict[str, Any] | None = None
        quiet: dict[str, Any] | None = None
        link_ids: dict[str, Any] = {}
        if not args.initial_only:
            echo, quiet, link_ids = later_runs(config, pco, rock, owed_ids=not args.no_link_ids)
        store = Store.open(load_settings(config).state_url())
        serving = int(store.watermarks.get("observed.pco.people") or 0)
        store.close()
    finally:
        for s in servers:
            s.terminate()
            s.wait(timeout=10)
    report(args, initial, echo, quiet, link_ids, pco_total, rock_total, serving)


def later_runs(
    config: Path, pco: str, rock: str, *, owed_ids: bool = True
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The run right after the initial sync, a quiet one, and the owed link ids."""
    time.sleep(75)  # more than the look-back, so the run after next sees a quiet window
    # right after the initial sync, the look-back window still holds every record it
    # wrote, so this run pages through them (and finds nothing to do)
    echo = measure(config, pco, rock, "next incremental (re-reads own writes)")
    time.sleep(75)  # past the look-back: nothing changed anywhere since
    quiet = measure(config, pco, rock, "no-change incremental")
    if not owed_ids:
        return echo, quiet, {}
    # the link ids still owed, written between runs (as serve does), paced by the limiter
    p0, _ = counts(pco)
    started = time.perf_counter()
    ids = asyncio.run(write_ids(config))
    link_ids: dict[str, Any] = {
        "written": ids.written,
        "pending": ids.pending,
        "pco_requests": counts(pco)[0] - p0,
        "wall_s": round(time.perf_counter() - started, 1),
        "pco_429s": stats(pco)["throttled"],
    }
    link_ids["floor_s"] = round(link_ids["pco_requests"] / 5, 1)
    return echo, quiet, link_ids


def report(
    args: argparse.Namespace,
    initial: dict[str, Any],
    echo: dict[str, Any] | None,
    quiet: dict[str, Any] | None,
    link_ids: dict[str, Any],
    pco_total: int,
    rock_total: int,
    serving: int,
) -> None:
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = initial["summary"]
    reads_bound = 1 + math.ceil(serving / 100) + math.ceil(pco_total / 100) + 1
    initial["pco_lower_bound"] = reads_bound + initial["pco_writes"]
    initial["pco_floor_s"] = round(initial["pco_requests"] / 5, 1)
    initial["wall_vs_floor"] = round(initial["wall_s"] / initial["pco_floor_s"], 3)
    # the floor of the people's data: reads and data writes (link ids written with the
    # budget left over are not part of it)
    data_requests = initial["pco_requests"] - s["link_ids"]["written"]
    initial["data_floor_s"] = round(data_requests / 5, 1)
    initial["wall_vs_data_floor"] = round(initial["wall_s"] / initial["data_floor_s"], 3)
    # Rock requests per person written in Rock (created or updated), beside the link ids
    routes = initial["rock_routes"]
    written = s["created"]["rock"] + s["updated"]["rock"]
    link_writes = routes.get("POST /api/People/AttributeValue/{id}", 0)
    initial["rock_link_id_writes"] = link_writes
    if written:
        initial["rock_requests_per_written_person"] = round(
            (initial["rock_requests"] - link_writes) / written, 2
        )
    runs = [r for r in (initial, echo, quiet) if r is not None]
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    result = {
        "pco_people": pco_total,
        "rock_people": rock_total,
        "serving": serving,
        "latency_ms": args.latency_ms,
        "peak_rss_mib": round(peak_mib, 1),
        "load_average_after": load,
        "runs": runs,
        "link_ids_between_runs": link_ids,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=2))
    print(
        f"PCO people {pco_total}, serving {serving}, Rock people {rock_total}, "
        f"latency {args.latency_ms} ms, peak RSS {peak_mib:.0f} MiB, load {load}"
    )
    print(
        "| run | PCO requests | PCO writes | PCO lower bound | Rock requests | wall s | "
        "PCO floor s | wall/floor | 429s | linked | created R/P | updated R/P |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        s = r["summary"]
        print(
            f"| {r['run']} | {r['pco_requests']} | {r['pco_writes']} | "
            f"{r.get('pco_lower_bound', '≤ 10 target')} | {r['rock_requests']} | {r['wall_s']} "
            f"| {r.get('pco_floor_s', '-')} | {r.get('wall_vs_floor', '-')} | {r['pco_429s']} "
            f"| {s['linked']} | {s['created']['rock']}/{s['created']['pco']} | "
            f"{s['updated']['rock']}/{s['updated']['pco']} |"
        )
    ids0 = initial["summary"]["link_ids"]
    print(
        f"initial: data floor {initial['data_floor_s']} s, wall / data floor "
        f"{initial['wall_vs_data_floor']}; link ids owed {ids0['owed']}, written in "
        f"the run {ids0['written']}"
    )
    print(
        f"initial Rock: {initial['rock_link_id_writes']} PcoPersonId writes, "
        f"{initial.get('rock_requests_per_written_person', '-')} other requests per person "
        "written in Rock"
    )
    if link_ids:
        print(f"link ids between runs: {link_ids}")


if __name__ == "__main__":
    main()
