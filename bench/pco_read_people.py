"""Benchmark: read every Planning Center person with emails, phones and addresses.

Runs the PCO emulator with N people on a loopback port and 150 ms injected latency per
request, then reads everyone with pcosync's client and, beside it, with pypco. Reports
requests vs the lower bound ⌈N/100⌉, wall time vs the rate-limit floor (requests ÷ 5 per
second at 100 requests / 20 s), and 429s received.

    .venv/bin/python -m bench.pco_read_people [--people 10000] [--latency-ms 150]
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


def control(url: str, path: str, payload: Any = None) -> Any:
    with httpx.Client(base_url=url, timeout=30) as http:
        resp = (
            http.post(f"/__emulator__/{path}", json=payload)
            if payload is not None
            else http.get(f"/__emulator__/{path}")
        )
        resp.raise_for_status()
        return resp.json() if resp.content else None


def measure(url: str, label: str, run: Any) -> dict[str, Any]:
    before = control(url, "stats")
    started = time.perf_counter()
    count = run()
    wall = time.perf_counter() - started
    after = control(url, "stats")
    requests = after["requests"] - before["requests"]
    return {
        "client": label,
        "people": count,
        "requests": requests,
        "lower_bound": max(1, math.ceil(count / 100)),
        "wall_s": round(wall, 2),
        "floor_s": round(requests / 5, 2),
        "wall_vs_floor": round(wall / (requests / 5), 3) if requests else None,
        "429s": after["throttled"] - before["throttled"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=150)
    args = parser.parse_args()

    # every generated person on the PCO side, so N is the PCO population
    app = create_app(seed=11, people=args.people, both=1.0, pco_only=0.0)
    results = []
    with BackgroundServer(app) as url:
        control(url, "faults", {"faults": [{"kind": "latency", "ms": args.latency_ms}]})

        def ours() -> int:
            async def go() -> int:
                async with PcoClient(url, app_id=DEFAULT_APP_ID, secret=DEFAULT_SECRET) as c:
                    return len(await c.people())

            return asyncio.run(go())

        results.append(measure(url, "pcosync", ours))
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
                            per_page=100,
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
    out = RESULTS / "pco_read_people.json"
    out.write_text(
        json.dumps(
            {"people": args.people, "latency_ms": args.latency_ms, "results": results}, indent=2
        )
    )
    print("| client | people | requests | lower bound | wall s | floor s | wall/floor | 429s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['client']} | {r['people']} | {r['requests']} | {r['lower_bound']} | "
            f"{r['wall_s']} | {r['floor_s']} | {r['wall_vs_floor']} | {r['429s']} |"
        )


if __name__ == "__main__":
    main()
