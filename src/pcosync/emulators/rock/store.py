"""In-memory tables with the indexes a 100,000-person church needs, optionally kept in SQLite.

A row is a plain list in the entity's stored-column order (``EntityDef.stored``): compact
enough for several hundred thousand rows, and a compiled OData predicate reads it by index.
Tables keep hash indexes on foreign keys (declared per entity) and, on demand, sorted
``(key, Id)`` indexes that let an ordered, range-filtered page be served by bisecting.

A request's writes are one transaction (:meth:`Store.begin`, :meth:`Store.commit`,
:meth:`Store.rollback`): every insert, update and delete is journaled with its before-image,
so a request that ends in an error leaves nothing behind, as SQL Server rolls back a failed
``SaveChanges``. Ids handed out stay used, like an identity column after a rollback.

With a data file every change is written through at the end of the request
(:meth:`Store.flush`); the file is loaded on start when it exists.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pcosync.emulators.rock.schema import ENTITIES, EntityDef, PType

Row = list[Any]
SortKey = tuple[int, Any]
# one journaled change: (table, "insert" | "update" | "delete", row, old values of an update)
UndoStep = tuple["Table", str, Row, dict[str, Any] | None]

_NULL_KEY: SortKey = (0, 0)


def sort_key(value: Any) -> SortKey:
    """SQL Server order: NULL sorts before every value."""
    return _NULL_KEY if value is None else (1, value)


class SortedIndex:
    """``(sort_key(value), Id)`` pairs in order; maintained on every write once built."""

    def __init__(self, entries: list[tuple[SortKey, int]]) -> None:
        entries.sort()
        self.entries = entries

    def add(self, value: Any, row_id: int) -> None:
        insort(self.entries, (sort_key(value), row_id))

    def remove(self, value: Any, row_id: int) -> None:
        entry = (sort_key(value), row_id)
        pos = bisect_left(self.entries, entry)
        if pos < len(self.entries) and self.entries[pos] == entry:
            del self.entries[pos]


class Table:
    def __init__(self, entity: EntityDef, store: Store) -> None:
        self.entity = entity
        self.store = store
        self.rows: dict[int, Row] = {}
        self.next_id = 1
        self.in_id_order = True  # dict order == Id order (ids are allocated increasing)
        self._hash: dict[int, dict[Any, set[int]]] = {
            entity.col[c]: {} for c in entity.hash_indexes
        }
        self._sorted: dict[int, SortedIndex] = {}

    # -- reads -------------------------------------------------------------------------
    def get(self, row_id: int) -> Row | None:
        return self.rows.get(row_id)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows.values())

    def in_order(self) -> Iterable[Row]:
        """All rows in Id order (the clustered-index order SQL Server returns)."""
        if self.in_id_order:
            return self.rows.values()
        return [self.rows[k] for k in sorted(self.rows)]

    def value(self, row: Row, name: str) -> Any:
        return row[self.entity.col[name]]

    def has_hash(self, column: str) -> bool:
        return self.entity.col.get(column, -1) in self._hash

    def lookup(self, column: str, value: Any) -> list[Row]:
        """Rows whose ``column`` equals ``value`` (hash index), in Id order."""
        ids = self._hash[self.entity.col[column]].get(value)
        if not ids:
            return []
        return [self.rows[k] for k in sorted(ids)]

    def sorted_index(self, column: str) -> SortedIndex:
        idx = self.entity.col[column]
        existing = self._sorted.get(idx)
        if existing is None:
            existing = SortedIndex([(sort_key(r[idx]), r[0]) for r in self.rows.values()])
            self._sorted[idx] = existing
        return existing

    def where(self, **match: Any) -> list[Row]:
        """Rows matching all ``column=value`` pairs (uses a hash index when one fits)."""
        cols = [(self.entity.col[k], v) for k, v in match.items()]
        source: Iterable[Row] = self.rows.values()
        for k, v in match.items():
            if self.has_hash(k):
                source = self.lookup(k, v)
                break
        return [r for r in source if all(r[c] == v for c, v in cols)]

    # -- writes ------------------------------------------------------------------------
    def allocate_id(self) -> int:
        new_id = self.next_id
        self.next_id += 1
        return new_id

    def insert(self, row: Row) -> Row:
        row_id: int = row[0]
        if row_id in self.rows:
            raise ValueError(f"duplicate {self.entity.name} Id {row_id}")
        if row_id < self.next_id - 1 and self.rows:
            self.in_id_order = False
        self.next_id = max(self.next_id, row_id + 1)
        self.rows[row_id] = row
        for col, index in self._hash.items():
            index.setdefault(row[col], set()).add(row_id)
        for col, sidx in self._sorted.items():
            sidx.add(row[col], row_id)
        self.store.mark(self.entity.name, row_id)
        self.store.journal(self, "insert", row, None)
        return row

    def update(self, row: Row, changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Apply changes in place; returns ``{column: (old, new)}`` for values that differ."""
        diff: dict[str, tuple[Any, Any]] = {}
        row_id: int = row[0]
        for name, new in changes.items():
            col = self.entity.col[name]
            old = row[col]
            if old == new and type(old) is type(new):
                continue
            diff[name] = (old, new)
            if col in self._hash:
                bucket = self._hash[col].get(old)
                if bucket is not None:
                    bucket.discard(row_id)
                    if not bucket:
                        del self._hash[col][old]
                self._hash[col].setdefault(new, set()).add(row_id)
            if col in self._sorted:
                self._sorted[col].remove(old, row_id)
                self._sorted[col].add(new, row_id)
            row[col] = new
        if diff:
            self.store.mark(self.entity.name, row_id)
            self.store.journal(self, "update", row, {k: old for k, (old, _) in diff.items()})
        return diff

    def delete(self, row_id: int) -> Row | None:
        row = self.rows.pop(row_id, None)
        if row is None:
            return None
        for col, index in self._hash.items():
            bucket = index.get(row[col])
            if bucket is not None:
                bucket.discard(row_id)
                if not bucket:
                    del index[row[col]]
        for col, sidx in self._sorted.items():
            sidx.remove(row[col], row_id)
        self.store.mark(self.entity.name, row_id)
        self.store.journal(self, "delete", row, None)
        return row

    def restore_id_order(self) -> None:
        """Put the rows back in Id order after a rolled-back delete re-inserted one."""
        self.rows = dict(sorted(self.rows.items()))
        self.in_id_order = True


class Store:
    """All tables of one emulated Rock instance, plus the optional SQLite file behind them."""

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}
        self._dirty: set[tuple[str, int]] = set()
        self._tracking = False
        self._undo: list[UndoStep] | None = None
        self.file: SqliteFile | None = None
        for entity in ENTITIES.values():
            self.tables[entity.name] = Table(entity, self)

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    # -- transactions --------------------------------------------------------------------
    def begin(self) -> None:
        """Start journaling: every change from here on can be undone by :meth:`rollback`."""
        self._undo = []

    def journal(self, table: Table, kind: str, row: Row, old: dict[str, Any] | None) -> None:
        if self._undo is not None:
            self._undo.append((table, kind, row, old))

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> int:
        """Undo every change since :meth:`begin`, newest first; returns how many."""
        undo, self._undo = self._undo, None  # the undo itself is not journaled
        if not undo:
            return 0
        was_ordered = {id(t): t.in_id_order for t, _, _, _ in undo}
        for table, kind, row, old in reversed(undo):
            if kind == "insert":
                table.delete(row[0])
            elif kind == "update":
                assert old is not None
                table.update(row, old)
            else:
                table.insert(row)
        for table, _, _, _ in undo:
            if was_ordered[id(table)] and not table.in_id_order:
                table.restore_id_order()
        return len(undo)

    def mark(self, table: str, row_id: int) -> None:
        if self._tracking:
            self._dirty.add((table, row_id))

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def track(self, enabled: bool) -> None:
        self._tracking = enabled
        if not enabled:
            self._dirty.clear()

    def flush(self, meta: dict[str, Any] | None = None) -> None:
        if self.file is None or (not self._dirty and meta is None):
            return
        dirty, self._dirty = self._dirty, set()
        self.file.write(self, dirty, meta)


def _encode(entity: EntityDef, row: Row) -> str:
    out: list[Any] = []
    for name, value in zip(entity.stored, row, strict=True):
        ptype = entity.props[name].ptype
        if value is None:
            out.append(None)
        elif ptype is PType.DATETIME:
            out.append(value.isoformat())
        elif ptype is PType.DECIMAL:
            out.append(str(value))
        else:
            out.append(value)
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def _decode(entity: EntityDef, text: str) -> Row:
    raw = json.loads(text)
    row: Row = []
    for name, value in zip(entity.stored, raw, strict=True):
        ptype = entity.props[name].ptype
        if value is None:
            row.append(None)
        elif ptype is PType.DATETIME:
            row.append(datetime.fromisoformat(value))
        elif ptype is PType.DECIMAL:
            row.append(Decimal(value))
        else:
            row.append(value)
    return row


class SqliteFile:
    """``--data FILE``: one ``rows`` table (entity, id, JSON row) and a ``meta`` key/value table."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS rows (entity TEXT NOT NULL, id INTEGER NOT NULL, "
            "data TEXT NOT NULL, PRIMARY KEY (entity, id))"
        )
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.conn.commit()

    def has_data(self) -> bool:
        cur = self.conn.execute("SELECT 1 FROM meta WHERE key = 'state' LIMIT 1")
        return cur.fetchone() is not None

    def read_meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def load(self, store: Store) -> None:
        for name, table in store.tables.items():
            cur = self.conn.execute("SELECT data FROM rows WHERE entity = ? ORDER BY id", (name,))
            for (text,) in cur:
                table.insert(_decode(table.entity, text))

    def write_all(self, store: Store, meta: dict[str, Any]) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM rows")
            self.conn.execute("DELETE FROM meta")
            for name, table in store.tables.items():
                self.conn.executemany(
                    "INSERT INTO rows (entity, id, data) VALUES (?, ?, ?)",
                    ((name, r[0], _encode(table.entity, r)) for r in table.rows.values()),
                )
            self._write_meta(meta)

    def write(self, store: Store, dirty: set[tuple[str, int]], meta: dict[str, Any] | None) -> None:
        with self.conn:
            for name, row_id in sorted(dirty):
                table = store.tables[name]
                row = table.rows.get(row_id)
                if row is None:
                    self.conn.execute(
                        "DELETE FROM rows WHERE entity = ? AND id = ?", (name, row_id)
                    )
                else:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO rows (entity, id, data) VALUES (?, ?, ?)",
                        (name, row_id, _encode(table.entity, row)),
                    )
            if meta is not None:
                self._write_meta(meta)

    def _write_meta(self, meta: dict[str, Any]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            ((k, json.dumps(v)) for k, v in meta.items()),
        )

    def close(self) -> None:
        self.conn.close()
