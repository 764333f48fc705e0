"""``make sim``: play many seeds, print failing seeds in full, end with one summary line.

    python -m tests.sim.runner [--seeds N] [--seed S] [--first F] [--tier test|sim|big]
                               [--jobs J] [--postgres-every K]

Exit status 1 when any seed violated an invariant.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import time
import types
from typing import Any, TextIO

from tests.sim.scenario import Outcome, run_seed, totals


def _quiet_unraisable(info: Any) -> None:
    if isinstance(info.object, types.CoroutineType):
        return  # a killed process's coroutine, closed with its world: noise
    sys.__unraisablehook__(info)


def _one(args: tuple[int, str, bool]) -> Outcome:
    # a killed process's frames are closed when its world is dropped, after the checks;
    # what they would log then is noise (their errors during the play are findings)
    logging.getLogger("pcosync").setLevel(logging.CRITICAL)
    sys.unraisablehook = _quiet_unraisable
    seed, tier, postgres = args
    return run_seed(seed, tier, postgres)


def play_many(
    seeds: list[int],
    tier: str,
    jobs: int,
    postgres_every: int = 0,
    out: TextIO = sys.stdout,
    verbose: bool = False,
) -> list[Outcome]:
    work = [(s, tier, bool(postgres_every) and s % postgres_every == 0) for s in seeds]
    outcomes: list[Outcome] = []
    if jobs <= 1 or len(work) == 1:
        results = map(_one, work)
        for o in results:
            outcomes.append(o)
            if not o.ok():
                print(o.report(), file=out, flush=True)
            elif verbose:
                print(_ok_line(o), file=out, flush=True)
        return outcomes
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs, maxtasksperchild=50) as pool:
        for o in pool.imap_unordered(_one, work, chunksize=2):
            outcomes.append(o)
            if not o.ok():
                print(o.report(), file=out, flush=True)
            elif verbose:
                print(_ok_line(o), file=out, flush=True)
    return outcomes


def _ok_line(o: Outcome) -> str:
    """A passing seed, with its counts (a long run stopped early can still be summed)."""
    return (
        f"seed {o.seed}: ok in {o.seconds:.1f} s ({o.edits} edits, {o.faults} faults, "
        f"{o.crashes} crashes, {o.runs} runs)"
    )


def summary_line(outcomes: list[Outcome]) -> str:
    c = totals(outcomes)
    return (
        f"sim: {c['seeds']} seeds, {c['edits']} human edits, {c['faults']} faults, "
        f"{c['crashes']} crashes, {c['runs']} runs, {c['violations']} invariant violations"
    )


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # set and dict orders of strings follow the hash seed: fixed, a seed replays exactly
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        args = [sys.executable, "-m", "tests.sim.runner", *(sys.argv[1:] if argv is None else argv)]
        os.execve(sys.executable, args, env)
    parser = argparse.ArgumentParser(prog="make sim")
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--tier", default="sim", choices=["test", "sim", "big"])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--postgres-every",
        type=int,
        default=25,
        help="every K-th seed keeps its state in PostgreSQL when reachable (0: never)",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    seeds = (
        [args.seed] if args.seed is not None else list(range(args.first, args.first + args.seeds))
    )
    if args.postgres_every:
        from tests.sim.pg import reachable

        if not reachable():
            print("(PostgreSQL not reachable: every seed on SQLite)", file=sys.stderr)
            args.postgres_every = 0
    started = time.perf_counter()
    outcomes = play_many(seeds, args.tier, args.jobs, args.postgres_every, verbose=args.verbose)
    print(f"({time.perf_counter() - started:.1f} s wall)", file=sys.stderr)
    print(summary_line(outcomes))
    return 1 if any(not o.ok() for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
