"""Benchmark: read 40,000 Planning Center people, a quarter of them past offset 30,000.

Past offset 30,000 the real limit drops to 75 requests per 20 s while every answer still
announces 100 (spec §3; #1449, #1450). The PCO emulator does the same; this measures that
pcosync's client reads such a church without stalling and without looping on 429s.

The floor is the rate limit's: the pages up to offset 30,000 at 100 per 20 s (5/s), the
deeper ones at 75 per 20 s (3.75/s). Latency 150 ms per request, as in
``bench.pco_read_people``. pypco reads the same church for comparison (it paces itself by
nothing but ``Retry-After``).

    .venv/bin/python -m bench.pco_read_deep [--people 40000] [--latency-ms 150] [--no-pypco]
                                            [--retry-after -1]

``--retry-after`` makes the emulator's 429s carry that ``Retry-After`` (a negative one was
seen in #606); ``none`` leaves the header out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from pcosync.clients.pco import PcoClient
from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET, create_app
from pcosync.emulators.server import BackgroundServer

RESULTS = Path(__file__).parent / "results"
PER_PAGE = 100
DEEP_OFFSET = 30_000


def control(url: str, path: str, payload: Any = None) -> Any:
    with httpx.Client(base_url=url, timeout=60) as http:
        resp = (
            http.post(f"/__emulator__/{path}", json=payload)
            if payload is not None
            else http.get(f"/__emulator__/{path}")
        )
        resp.raise_for_status()
        return resp.json() if resp.content else None


def floor_seconds(requests_shallow: int, requests_deep: int) -> float:
    return requests_shallow / 5 + requests_deep / 3.75


def measure(url: str, label: str, run: Any) -> dict[str, Any]:
    with httpx.Client(base_url=url) as http:
        http.delete("/__emulator__/stats")  # counts and the request log start afresh
    started = time.perf_counter()
    failed = None
    try:
        count = run()
    except Exception as exc:  # a client that gives up is a result too
        count, failed = 0, type(exc).__name__
    wall = time.perf_counter() - started
    stats = control(url, "stats")
    log = control(url, "requests?limit=100000")["requests"]
    deep = sum(
        1
        for r in log
        if any(
            p.startswith("offset=") and int(p[7:] or 0) > DEEP_OFFSET for p in r["query"].split("&")
        )
    )
    requests = stats["requests"]
    shallow = requests - deep
    floor = floor_seconds(shallow, deep)
    return {
        "client": label,
        "people": count,
        "requests": requests,
        "deep_requests": deep,
        "lower_bound": max(1, math.ceil(count / PER_PAGE)),
        "wall_s": round(wall, 1),
        "floor_s": round(floor, 1),
        "wall_vs_floor": round(wall / floor, 3) if floor else None,
        "429s": stats["throttled"],
        "failed": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=40_000)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--no-pypco", action="store_true")
    parser.add_argument("--retry-after", default="window")
    args = parser.parse_args()
    retry_after: int | str | None = args.retry_after
    if args.retry_after == "none":
        retry_after = None
    elif args.retry_after != "window":
        retry_after = int(args.retry_after)

    built = time.perf_counter()
    # every generated person on the PCO side, so N is the PCO population
    app = create_app(seed=13, people=args.people, both=1.0, pco_only=0.0)
    print(f"emulator with {args.people} people built in {time.perf_counter() - built:.0f} s")
    results = []
    with BackgroundServer(app) as url:
        control(url, "faults", {"faults": [{"kind": "latency", "ms": args.latency_ms}]})
        settings = control(url, "rate_limit", {"retry_after": retry_after})
        assert settings["limit"] == 100 and settings["deep_offset_limit"] == 75, settings

        def ours() -> int:
            async def go() -> int:
                async with PcoClient(url, app_id=DEFAULT_APP_ID, secret=DEFAULT_SECRET) as c:
                    return len(await c.people())

            return asyncio.run(go())

        results.append(measure(url, "pcosync", ours))

        if not args.no_pypco:
            time.sleep(21)  # let the user's rate window empty before the next client

            def with_pypco() -> int:
                import pypco

                pco = pypco.PCO(DEFAULT_APP_ID, DEFAULT_SECRET, api_base=url)
                box: list[int] = []

                def run() -> None:
                    box.append(
                        sum(
                            1
                            for _ in pco.iterate(
                                "/people/v2/people",
                                per_page=PER_PAGE,
                                include="emails,phone_numbers,addresses",
                            )
                        )
                    )

                t = threading.Thread(target=run)
                t.start()
                t.join()
                return box[0]

            results.append(measure(url, "pypco 1.2", with_pypco))

    RESULTS.mkdir(exist_ok=True)
    suffix = "" if retry_after == "window" else f"_retry_after_{args.retry_after}"
    out = RESULTS / f"pco_read_deep{suffix}.json"
    out.write_text(
        json.dumps(
            {
                "people": args.people,
                "latency_ms": args.latency_ms,
                "retry_after": retry_after,
                "results": results,
            },
            indent=2,
        )
    )
    lines = [
        "| client | people | requests | past 30,000 | lower bound | wall s | floor s "
        "| wall / floor | 429s | outcome |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['client']} | {r['people']:,} | {r['requests']} | {r['deep_requests']} | "
            f"{r['lower_bound']} | {r['wall_s']} | {r['floor_s']} | {r['wall_vs_floor']} | "
            f"{r['429s']} | {('gave up: ' + r['failed']) if r['failed'] else 'read all'} |"
        )
    table = "\n".join(lines)
    (RESULTS / f"pco_read_deep{suffix}.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
