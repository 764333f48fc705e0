"""The emulator's data in a SQLite file (``pcosync emulate pco --data FILE``).

One row per record (``kind``, ``id``, JSON body) plus a ``meta`` table (organisation, id
counters, the token owner). The file is loaded at start when it holds data; otherwise the
seeded church is written to it. After that every request's changes are written through in
one transaction before its answer is sent.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pcosync.emulators.pco.store import Organization, Store

FORMAT = "pcosync-pco-emulator/1"


def _encode(row: Any) -> str:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(row):
        if f.name == "computed":  # a cache, recomputed on demand
            continue
        value = getattr(row, f.name)
        if isinstance(value, datetime):
            value = {"$dt": value.isoformat()}
        elif isinstance(value, date):
            value = {"$d": value.isoformat()}
        elif isinstance(value, set):
            value = sorted(value)
        out[f.name] = value
    return json.dumps(out, separators=(",", ":"))


def _decode(cls: type[Any], text: str) -> Any:
    raw: dict[str, Any] = json.loads(text)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if isinstance(value, dict) and "$dt" in value:
            value = datetime.fromisoformat(value["$dt"])
        elif isinstance(value, dict) and "$d" in value:
            value = date.fromisoformat(value["$d"])
        elif isinstance(value, list) and str(f.type).startswith("set["):
            value = set(value)
        kwargs[f.name] = value
    return cls(**kwargs)


class SqliteBackend:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, "
            "id INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))"
        )
        self.db.commit()

    def has_data(self) -> bool:
        row = self.db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        return row is not None and row[0] == FORMAT

    def load(self, time_zone: str) -> Store:
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        org = Organization(**json.loads(meta["org"]))
        store = Store(org)
        store.next_ids.update(json.loads(meta["next_ids"]))
        store.pat_user_id = json.loads(meta.get("pat_user_id", "null"))
        tables = store.tables()
        for kind, body in self.db.execute("SELECT kind, body FROM records ORDER BY kind, id"):
            table = tables.get(kind)
            if table is not None:
                table.add(_decode(table.cls, body), load=True)
        store.rebuild_indexes()
        return store

    def _meta(self, store: Store) -> list[tuple[str, str]]:
        return [
            ("format", FORMAT),
            ("org", json.dumps(dataclasses.asdict(store.org))),
            ("next_ids", json.dumps(store.next_ids)),
            ("pat_user_id", json.dumps(store.pat_user_id)),
        ]

    def write_all(self, store: Store, extra_meta: dict[str, str] | None = None) -> None:
        with self.db:
            self.db.execute("DELETE FROM records")
            self.db.execute("DELETE FROM meta")
            for kind, table in store.tables().items():
                self.db.executemany(
                    "INSERT INTO records (kind, id, body) VALUES (?, ?, ?)",
                    ((kind, getattr(row, "id"), _encode(row)) for row in table),  # noqa: B009
                )
            self.db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [*self._meta(store), *(extra_meta or {}).items()],
            )
        store.dirty.clear()
        store.removed.clear()
        store.meta_dirty = False

    def flush(self, store: Store) -> None:
        if not (store.dirty or store.removed or store.meta_dirty):
            return
        tables = store.tables()
        with self.db:
            for kind, rid in store.removed:
                self.db.execute("DELETE FROM records WHERE kind=? AND id=?", (kind, rid))
            for kind, rid in store.dirty:
                table = tables.get(kind)
                row = table.get(rid) if table is not None else None
                if row is not None:
                    self.db.execute(
                        "INSERT OR REPLACE INTO records (kind, id, body) VALUES (?, ?, ?)",
                        (kind, rid, _encode(row)),
                    )
            self.db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", self._meta(store)
            )
        store.dirty.clear()
        store.removed.clear()
        store.meta_dirty = False

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.db.close()
