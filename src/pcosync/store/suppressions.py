"""People a revert took back out of one side, so the next sync does not create them again.

A reverted create is undone by deleting the record pcosync made; the person it was made for
is still in scope on the other side, so without this the very next run would create them
again and the revert would undo nothing. The planner leaves such a person alone until one of
their synced values differs from the snapshot the revert took after its writes (then they are
created like anyone new). Values, not timestamps: Planning Center keeps ``updated_at`` to the
second, so an edit made within the second of the revert would look older than the revert.
A suppression without a snapshot (the source could not be read, or the revert was interrupted
and settled by a later run) falls back to the record's modified time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from pcosync.domain.fields import person_from_json, person_to_json
from pcosync.domain.identity import Side
from pcosync.engine.scope import Suppression
from pcosync.store.base import upsert
from pcosync.store.models import CreateSuppressionRow

if TYPE_CHECKING:
    from pcosync.domain.person import Person
    from pcosync.store.base import Store


class SuppressionRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(
        self,
        side: Side,
        source_id: object,
        run_id: int | None,
        snapshot: Person | None = None,
    ) -> None:
        """Do not create the person with ``source_id`` (on the other side) on ``side`` while
        their synced values equal ``snapshot``."""
        raw = person_to_json(snapshot) if snapshot is not None else None
        with self._store.transaction() as s:
            stmt = upsert(s, CreateSuppressionRow.__table__)  # type: ignore[arg-type]
            values = {
                "connection": self._store.connection,
                "side": side.value,
                "source_id": str(source_id),
                "run_id": run_id,
                "created_at": self._store.now(),
                "snapshot": raw,
            }
            s.execute(
                stmt.values(**values).on_conflict_do_update(
                    index_elements=["connection", "side", "source_id"],
                    set_={
                        "run_id": run_id,
                        "created_at": values["created_at"],
                        "snapshot": raw,
                    },
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

    def all(self) -> dict[tuple[Side, str], Suppression]:
        """(side not to create on, source id) → when the revert took it back, and how."""
        with self._store.transaction() as s:
            stmt = select(
                CreateSuppressionRow.side,
                CreateSuppressionRow.source_id,
                CreateSuppressionRow.created_at,
                CreateSuppressionRow.snapshot,
            ).where(CreateSuppressionRow.connection == self._store.connection)
            return {
                (Side(side), sid): Suppression(
                    at, person_from_json(raw)[0] if raw is not None else None
                )
                for side, sid, at, raw in s.execute(stmt)
            }
