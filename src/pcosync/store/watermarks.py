"""Watermarks: how far each change feed has been durably applied.

Advance one only after the changes it covers are applied and their bases stored; a
watermark that runs ahead of the work loses edits after a crash. Time watermarks only move
forward unless forced.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from pcosync.store.base import upsert
from pcosync.store.models import WatermarkRow

if TYPE_CHECKING:
    from pcosync.store.base import Store


class WatermarkRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, name: str) -> str | None:
        with self._store.transaction() as s:
            return s.scalar(
                select(WatermarkRow.value).filter_by(connection=self._store.connection, name=name)
            )

    def set(self, name: str, value: str) -> None:
        with self._store.transaction() as s:
            stmt = upsert(s, WatermarkRow.__table__)  # type: ignore[arg-type]
            stmt = stmt.values(
                connection=self._store.connection,
                name=name,
                value=value,
                updated_at=self._store.now(),
            )
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["connection", "name"],
                    set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                )
            )

    def get_time(self, name: str) -> datetime | None:
        raw = self.get(name)
        return datetime.fromisoformat(raw) if raw is not None else None

    def advance_time(self, name: str, when: datetime, *, force: bool = False) -> datetime:
        """Move a time watermark forward to ``when`` (aware); never back unless ``force``.
        Returns the watermark now stored."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("watermark times must be aware")
        with self._store.transaction():
            current = self.get_time(name)
            if current is not None and when <= current and not force:
                return current
            self.set(name, when.isoformat())
            return when

    def all(self) -> dict[str, str]:
        with self._store.transaction() as s:
            rows = s.execute(
                select(WatermarkRow.name, WatermarkRow.value).filter_by(
                    connection=self._store.connection
                )
            )
            return {n: v for n, v in rows}
