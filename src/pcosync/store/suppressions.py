"""People a revert took back out of one side, so the next sync does not create them again.

A reverted create is undone by deleting the record pcosync made; the person it was made for
is still in scope on the other side, so without this the very next run would create them
again and the revert would undo nothing. The planner leaves such a person alone until their
record changes after the revert (then they are created like anyone new).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from pcosync.domain.identity import Side
from pcosync.store.base import upsert
from pcosync.store.models import CreateSuppressionRow

if TYPE_CHECKING:
    from pcosync.store.base import Store


class SuppressionRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, side: Side, source_id: object, run_id: int | None) -> None:
        """Do not create the person with ``source_id`` (on the other side) on ``side``."""
        with self._store.transaction() as s:
            stmt = upsert(s, CreateSuppressionRow.__table__)  # type: ignore[arg-type]
            values = {
                "connection": self._store.connection,
                "side": side.value,
                "source_id": str(source_id),
                "run_id": run_id,
                "created_at": self._store.now(),
            }
            s.execute(
                stmt.values(**values).on_conflict_do_update(
                    index_elements=["connection", "side", "source_id"],
                    set_={"run_id": run_id, "created_at": values["created_at"]},
                )
            )

    def remove(self, side: Side, source_id: object) -> None:
        with self._store.transaction() as s:
            s.execute(
                delete(CreateSuppressionRow).where(
                    CreateSuppressionRow.connection == self._store.connection,
                    CreateSuppressionRow.side == side.value,
                    CreateSuppressionRow.source_id == str(source_id),
                )
            )

    def all(self) -> dict[tuple[Side, str], datetime]:
        """(side not to create on, source id) → when the revert took it back."""
        with self._store.transaction() as s:
            stmt = select(
                CreateSuppressionRow.side,
                CreateSuppressionRow.source_id,
                CreateSuppressionRow.created_at,
            ).where(CreateSuppressionRow.connection == self._store.connection)
            return {(Side(side), sid): at for side, sid, at in s.execute(stmt)}
