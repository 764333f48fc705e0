"""How fast the Rock emulator serves a "modified since" page of people at scale.

Loads a church with at least 100,000 people in Rock, then times
``GET /api/People?$filter=ModifiedDateTime gt datetime'…'&$orderby=ModifiedDateTime,Id
&$top=1000&$skip=…`` (the sync's poll, spec §4.4) at marks and offsets spread over the whole
table, over real HTTP on loopback, and prints the median (and p95) in milliseconds.

    .venv/bin/python bench/rock_emulator_page.py [--people 125000] [--requests 40]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

import httpx

from pcosync.emulators.rock.app import DEFAULT_API_KEY, create_app
from pcosync.emulators.rock.schema import ENTITIES
from pcosync.emulators.rock.values import format_datetime
from pcosync.emulators.server import BackgroundServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--people",
        type=int,
        default=125_000,
        help="seeded church size (about 80%% of it is in Rock)",
    )
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    app = create_app(seed=args.seed, people=args.people)
    data = app.state.emulator.data
    load_s = time.perf_counter() - started
    people = data.table("Person")
    modified = ENTITIES["Person"].col["ModifiedDateTime"]
    stamps = sorted(r[modified] for r in people if r[modified] is not None)
    print(
        f"loaded {len(people):,} Rock people, {len(data.table('PhoneNumber')):,} phone "
        f"numbers, {len(data.table('GroupMember')):,} group members in {load_s:.1f} s"
    )

    rng = random.Random(args.seed)
    timings: list[float] = []
    headers = {"Authorization-Token": DEFAULT_API_KEY}
    with (
        BackgroundServer(app) as url,
        httpx.Client(base_url=url, headers=headers, timeout=60) as client,
    ):
        for n in range(args.requests + 3):
            # a mark somewhere in the first half, so at least 1,000 rows follow it
            mark = stamps[rng.randrange(0, len(stamps) // 2)]
            skip = rng.choice([0, 1000, 5000, 20000])
            params = {
                "$filter": f"ModifiedDateTime gt datetime'{format_datetime(mark)}'",
                "$orderby": "ModifiedDateTime,Id",
                "$top": "1000",
                "$skip": str(skip),
            }
            t0 = time.perf_counter()
            response = client.get("/api/People", params=params)
            elapsed = (time.perf_counter() - t0) * 1000
            response.raise_for_status()
            page = response.json()
            assert len(page) == 1000, len(page)
            assert all(p["ModifiedDateTime"] > format_datetime(mark) for p in page)
            if n >= 3:  # the first request builds the sorted index
                timings.append(elapsed)
    timings.sort()
    median = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"page of 1,000 people modified since a mark, at {len(people):,} people: "
        f"median {median:.1f} ms, p95 {p95:.1f} ms over {len(timings)} requests"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
