"""Benchmark: read 20,000 Rock people with phone numbers and the members of 200 groups.

The Rock emulator runs in its own process (so the peak memory measured here is the client's),
with 150 ms of injected latency per request. Reports requests against the lower bound at
``$top=1000`` — ⌈people/1000⌉ + ⌈members/1000⌉ — plus wall time and peak memory.

    .venv/bin/python -m bench.rock_read [--people 20000] [--groups 200] [--latency-ms 150]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx

from pcosync.clients.rock import Guids, RockClient
from pcosync.emulators.rock.app import DEFAULT_API_KEY

RESULTS = Path(__file__).parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/__emulator__/stats", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError("the Rock emulator did not start")


async def make_groups(url: str, groups: int, seed: int) -> tuple[int, int]:
    """Create serving groups with members (setup, not measured). Returns (type id, members)."""
    rng = random.Random(seed)
    async with RockClient(url, api_key=DEFAULT_API_KEY, max_in_flight=16) as rock:
        types = await rock.query("GroupTypes", filter="Name eq 'Serving Team'")
        type_id = int(types[0]["Id"])
        role = int(types[0].get("DefaultGroupRoleId") or 0)
        if not role:
            roles = await rock.query("GroupTypeRoles", filter=f"GroupTypeId eq {type_id}")
            role = int(roles[0]["Id"])
        people = [p.id for p in await rock.people(with_phones=False)]
        sem = asyncio.Semaphore(16)
        total = 0

        async def one_group(n: int) -> int:
            async with sem:
                gid = await rock.create_group(
                    {
                        "Name": f"Bench Team {n}",
                        "GroupTypeId": type_id,
                        "IsActive": True,
                        "IsPublic": False,
                    }
                )
            members = rng.sample(people, rng.randint(10, 40))
            for pid in members:
                async with sem:
                    await rock.add_group_member(gid, pid, role)
            return len(members)

        for count in await asyncio.gather(*(one_group(n) for n in range(groups))):
            total += count
    return type_id, total


async def read_all(url: str, type_id: int) -> tuple[int, int, int]:
    async with RockClient(url, api_key=DEFAULT_API_KEY) as rock:
        people = await rock.people(with_phones=True)
        members = await rock.group_members(group_type_id=type_id)
        return len(people), sum(len(p.phones) for p in people), len(members)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=150)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # everyone generated lands in Rock (duplicates add 1 %; the bound uses the real count)
    code = (
        "from pcosync.emulators.rock.app import create_app;"
        "from pcosync.emulators.server import serve_forever;"
        f"serve_forever(create_app(seed=5, people={args.people}, both=1.0, pco_only=0.0),"
        f"'127.0.0.1', {port})"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(url)
        type_id, _ = asyncio.run(make_groups(url, args.groups, seed=5))
        httpx.post(
            f"{url}/__emulator__/faults",
            json={"faults": [{"kind": "latency", "ms": args.latency_ms}]},
        )
        before = httpx.get(f"{url}/__emulator__/stats").json()["requests"]
        tracemalloc.start()
        started = time.perf_counter()
        people, phones, members = asyncio.run(read_all(url, type_id))
        wall = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        used = httpx.get(f"{url}/__emulator__/stats").json()["requests"] - before
    finally:
        server.terminate()
        server.wait(timeout=10)

    lookups = 1  # the record type "Person" resolved once by its GUID
    bound = math.ceil(people / 1000) + math.ceil(members / 1000)
    result: dict[str, Any] = {
        "people": people,
        "phones": phones,
        "groups": args.groups,
        "members": members,
        "requests": used,
        "lookups": lookups,
        "lower_bound": bound,
        "ratio": round(used / bound, 3),
        "wall_s": round(wall, 2),
        "peak_mib": round(peak / 2**20, 1),
        "latency_ms": args.latency_ms,
        "system_guid": Guids.RECORD_TYPE_PERSON,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rock_read.json").write_text(json.dumps(result, indent=2))
    print(
        "| people | phones | groups | members | requests | lower bound | ratio | wall s | "
        "peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {people} | {phones} | {args.groups} | {members} | {used} | {bound} | "
        f"{result['ratio']} | {result['wall_s']} | {result['peak_mib']} |"
    )


if __name__ == "__main__":
    main()
