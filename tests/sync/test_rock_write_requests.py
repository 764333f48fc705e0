"""Rock requests per person a sync writes in Rock, counted from the emulator's request log,
and the journal's after-images against what Rock holds (issue 14: a first sync was bound by
Rock, at about ten requests per person created or updated there)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from pcosync.adapters.rock import PHONE_FIELDS
from pcosync.app.context import open_connection
from pcosync.config import load_settings
from pcosync.domain.fields import FieldName, person_to_json
from pcosync.domain.identity import Side
from pcosync.engine.plan import Operation, OpKind
from pcosync.store import OpStatus
from tests.sync.conftest import Church

ROW_FIELDS = frozenset(FieldName) - set(PHONE_FIELDS) - {FieldName.HOME_ADDRESS, FieldName.CAMPUS}
FAMILY_FIELDS = (FieldName.HOME_ADDRESS, FieldName.CAMPUS)


def _query(entry: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(entry["query"]).items()}


def _budget(op: Operation) -> int:
    """The Rock requests one create or update needs, link id apart: its writes, one person
    read (two with the phones when phones change, or a first name or nickname: the row
    before, for Rock's nickname convention) and one family read when it wrote the
    address or the campus."""
    if op.kind is OpKind.CREATE:
        assert op.record is not None
        values = {f: getattr(op.record, f.value) for f in FieldName}
        written = {f for f, v in values.items() if v is not None}
        row, phones = 1, len(written & set(PHONE_FIELDS))  # the POST
        reads = 1
    else:
        written = set(op.changes)
        row = 1 if written & ROW_FIELDS else 0
        phones = len(written & set(PHONE_FIELDS))
        names = written & {FieldName.FIRST_NAME, FieldName.NICKNAME}
        reads = 2 if phones or names else 1
    family = len(written & set(FAMILY_FIELDS))
    return row + phones + family + reads + (1 if family else 0)


def test_a_first_sync_reads_each_person_it_writes_in_rock_once(church: Church) -> None:
    church.rock_control("stats", method="DELETE")  # (the log too)
    summary = church.sync()
    log = church.rock_control("requests?limit=100000")["requests"]
    assert len(log) == church.rock_control("stats")["requests"] < 2000, "the whole run"
    store = church.store()
    try:
        ops = [
            j.operation
            for j in store.journal.list(summary.run_id, OpStatus.APPLIED)
            if j.operation.side is Side.ROCK and j.operation.kind in (OpKind.CREATE, OpKind.UPDATE)
        ]
        images = {
            j.operation.ref.rock_id: j.after_image
            for j in store.journal.list(summary.run_id, OpStatus.APPLIED)
            if j.operation.side is Side.ROCK and j.after_image is not None
        }
    finally:
        store.close()
    creates = [op for op in ops if op.kind is OpKind.CREATE]
    updates = [op for op in ops if op.kind is OpKind.UPDATE]
    assert creates and updates, "the seeded church has both"

    by_id = Counter(
        int(e["path"][len("/api/People/") :])
        for e in log
        if e["method"] == "GET"
        and e["path"].startswith("/api/People/")
        and e["path"][len("/api/People/") :].isdigit()
    )
    with_phones = Counter(
        _query(e)["$filter"]
        for e in log
        if e["path"] == "/api/People" and _query(e).get("$expand") == "PhoneNumbers"
    )
    family_reads = [e for e in log if e["path"] == "/api/Groups" and "$expand" in _query(e)]
    for op in creates:  # one read of the new person, not two
        assert by_id[op.ref.rock_id] == 1, op.ref.describe()
    for op in updates:
        if set(op.changes) & set(PHONE_FIELDS):  # before and after, with the phones
            assert with_phones[f"Id eq {op.ref.rock_id}"] == 2, op.ref.describe()
            assert by_id[op.ref.rock_id] == 0, op.ref.describe()
        elif set(op.changes) & {FieldName.FIRST_NAME, FieldName.NICKNAME}:
            # the row before (Rock's nickname convention is judged on it as it is now)
            # and after
            assert by_id[op.ref.rock_id] == 2, op.ref.describe()
        else:
            assert by_id[op.ref.rock_id] == 1, op.ref.describe()
    wrote_family = [
        op
        for op in ops
        if (op.kind is OpKind.CREATE and op.record is not None and any(
            getattr(op.record, f.value) is not None for f in FAMILY_FIELDS))
        or set(op.changes) & set(FAMILY_FIELDS)
    ]  # fmt: skip
    assert len(family_reads) == len(wrote_family)  # none after a write that left it alone

    # everything a write costs, the link ids apart, is within the per-person budget
    link_ids = sum(e["path"].startswith("/api/People/AttributeValue/") for e in log)
    setup = sum(e["path"] == "/api/Attributes" for e in log if e["method"] == "POST")
    write_path = (
        sum(e["method"] != "GET" for e in log)
        - link_ids
        - setup  # the PcoPersonId attribute, made by the first link id written
        + sum(by_id.values())
        + sum(with_phones.values())
        + len(family_reads)
    )
    budget = sum(_budget(op) for op in ops)
    assert write_path <= budget
    per_person = write_path / len(ops)
    assert per_person < 6, f"{per_person:.2f} Rock requests per person written (was ~10)"

    # the journal's after-images are what Rock holds now (nothing else wrote since)
    async def read_back() -> dict[int, Any]:
        async with open_connection(load_settings(church.config)) as conn:
            seen = await conn.rock.fetch_many(sorted(images))
            return {int(o.id): person_to_json(o.person) for o in seen}

    held = asyncio.run(read_back())
    assert held == {int(k): v for k, v in images.items() if k is not None}
