"""How fast the Planning Center emulator serves a page of people at scale.

Loads a church with at least 100,000 people in PCO, then times ``GET /people/v2/people?
per_page=100&include=emails,phone_numbers,addresses`` at offsets spread over the whole
collection, over real HTTP on loopback, and prints the median (and p95) in milliseconds.

    .venv/bin/python bench/pco_emulator_page.py [--people 125000] [--requests 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

import httpx

from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET, create_app
from pcosync.emulators.server import BackgroundServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--people",
        type=int,
        default=125_000,
        help="seeded church size (about 81%% of it is in PCO)",
    )
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    app = create_app(seed=args.seed, people=args.people, rate_limit=1_000_000)
    store = app.state.emulator.store
    load_s = time.perf_counter() - started
    total = len(store.people)
    print(
        f"loaded {total:,} PCO people, {len(store.emails):,} emails, "
        f"{len(store.phones):,} phone numbers, {len(store.addresses):,} addresses "
        f"in {load_s:.1f} s"
    )

    rng = random.Random(args.seed)
    params = {"per_page": "100", "include": "emails,phone_numbers,addresses"}
    timings: list[float] = []
    with (
        BackgroundServer(app) as url,
        httpx.Client(base_url=url, auth=(DEFAULT_APP_ID, DEFAULT_SECRET), timeout=30) as client,
    ):
        for n in range(args.requests + 5):
            offset = rng.randrange(0, max(total - 100, 1))
            t0 = time.perf_counter()
            response = client.get("/people/v2/people", params={**params, "offset": str(offset)})
            elapsed = (time.perf_counter() - t0) * 1000
            response.raise_for_status()
            assert len(response.json()["data"]) == 100
            if n >= 5:  # the first few warm caches (phone formatting, connections)
                timings.append(elapsed)
    timings.sort()
    median = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"page of 100 people with emails, phone numbers, addresses at {total:,} people: "
        f"median {median:.1f} ms, p95 {p95:.1f} ms over {len(timings)} requests"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
