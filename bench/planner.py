"""Planner throughput: 100,000 linked pairs, about 5 % of them changed since the last sync.

Run: ``.venv/bin/python bench/planner.py [--pairs N] [--changed 0.05] [--seed 1]``.
Prints people/s (best of several runs, without tracing), by the wall clock and by process
time (what one idle core would do when the machine is shared), the peak memory of one
planning pass (tracemalloc), and the process's peak RSS. Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from pcosync.domain import Address, Person
from pcosync.engine import Base, PersonPair, SyncPlan, plan_people

FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine Rd", "Elm St", "Lakeview Blvd"]
CITIES = [("Springfield", "IL", "62701"), ("Franklin", "TN", "37064"), ("Salem", "OR", "97301")]
CAMPUSES = ["main", "north", "downtown"]


def make_person(rng: random.Random, i: int) -> Person:
    first = rng.choice(FIRST)
    last = rng.choice(LAST)
    city, state, zip_code = rng.choice(CITIES)
    return Person(
        first_name=first,
        nickname=first[:3] if rng.random() < 0.2 else None,
        middle_name=None,
        last_name=last,
        gender=rng.choice(["male", "female"]),
        birthdate=date(1950, 1, 1) + timedelta(days=rng.randrange(25000)),
        anniversary=None,
        email=f"{first.lower()}.{last.lower()}{i}@example.org",
        mobile_phone=f"+1202555{i % 10000:04d}",
        home_phone=None,
        work_phone=None,
        home_address=Address(
            f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}", None, city, state, zip_code, "US"
        ),
        campus=rng.choice(CAMPUSES),
    )


def build_first_sync(n: int, changed: float, seed: int, separate: bool = False) -> list[PersonPair]:
    """A first sync: freshly matched pairs (no link yet, no base); ``changed`` of them differ
    in a field or two (the rest agree already, as matched records mostly do). ``separate``:
    the two records of an agreeing pair are equal objects, not one object (as when two
    clients read them); comparing them then costs about 1 µs more per pair."""
    rng = random.Random(seed)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    pairs = []
    for i in range(n):
        rock = pco = make_person(rng, i)
        if separate:
            address = rock.home_address
            pco = replace(rock, home_address=replace(address) if address else None)
        if rng.random() < changed:
            kind = rng.random()
            if kind < 0.5:
                pco = replace(rock, mobile_phone=f"+1303555{i % 10000:04d}", home_address=None)
            else:
                rock = replace(pco, email=None, campus="north" if pco.campus != "north" else "main")
        pairs.append(
            PersonPair(
                link_id=None,
                rock_id=100000 + i,
                pco_id=str(500000 + i),
                base=None,
                rock=rock,
                pco=pco,
                rock_modified=t0 + timedelta(seconds=rng.randrange(86400)),
                pco_modified=t0 + timedelta(seconds=rng.randrange(86400)),
                rock_link_ok=False,
                pco_link_ok=False,
            )
        )
    return pairs


def build_pairs(n: int, changed: float, seed: int) -> list[PersonPair]:
    rng = random.Random(seed)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    pairs = []
    for i in range(n):
        base = make_person(rng, i)
        rock = pco = base
        roll = rng.random()
        if roll < changed:
            kind = rng.random()
            if kind < 0.45:
                rock = replace(base, email=f"new{i}@example.com")
            elif kind < 0.9:
                pco = replace(base, mobile_phone=f"+1303555{i % 10000:04d}", last_name="Newname")
            else:  # both edited the same field differently: a conflict
                rock = replace(base, campus="north" if base.campus != "north" else "main")
                pco = replace(base, campus="downtown")
        pairs.append(
            PersonPair(
                link_id=i + 1,
                rock_id=100000 + i,
                pco_id=str(500000 + i),
                base=Base(base),
                rock=rock,
                pco=pco,
                rock_modified=t0 + timedelta(seconds=rng.randrange(86400)),
                pco_modified=t0 + timedelta(seconds=rng.randrange(86400)),
            )
        )
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--first-sync",
        action="store_true",
        help="fresh matches without a base (every pair linked, --changed of them differing)",
    )

    parser.add_argument(
        "--separate-records",
        action="store_true",
        help="with --first-sync: an agreeing pair's two records are equal, not the same object",
    )
    args = parser.parse_args(argv)

    if args.first_sync:
        pairs = build_first_sync(args.pairs, args.changed, args.seed, args.separate_records)
    else:
        pairs = build_pairs(args.pairs, args.changed, args.seed)
    best = best_cpu = float("inf")
    plan: SyncPlan | None = None
    for _ in range(args.repeat):
        plan = None  # free the previous pass's plan outside the timed part
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        plan = plan_people(pairs)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        best = min(best, time.perf_counter() - start)
    assert plan is not None

    gc.collect()
    tracemalloc.start()
    plan_people(pairs)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    what = "first sync, " if args.first_sync else ""
    print(f"pairs:            {args.pairs:,} ({what}{args.changed:.0%} changed, seed {args.seed})")
    print(
        f"operations:       {len(plan.operations):,}; conflicts: {len(plan.conflicts):,}; "
        f"bases to store: {len(plan.bases):,}"
    )
    print(f"plan time (best): {best * 1000:.1f} ms wall, {best_cpu * 1000:.1f} ms process time")
    print(f"throughput:       {args.pairs / best:,.0f} people/s")
    print(f"  process time:   {args.pairs / best_cpu:,.0f} people/s (one idle core's figure)")
    print(f"plan peak memory: {peak / 2**20:.1f} MiB (tracemalloc, planning pass only)")
    print(f"process peak RSS: {rss_kib / 1024:.1f} MiB (inputs included)")
    print(f"python:           {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
