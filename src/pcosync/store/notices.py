"""What the admin was last told about each topic (issue 12): see :mod:`pcosync.notify.repeat`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from pcosync.store.models import NoticeRow

if TYPE_CHECKING:
    from pcosync.store.base import Store


@dataclass(frozen=True, slots=True)
class NoticeState:
    """One topic's last notice: the situation it described (``fingerprint``, ``status``,
    ``summary`` = the notice's text), when it was first seen and last sent, and how many runs
    saw it unchanged since it was last sent (``repeats``)."""

    topic: str
    fingerprint: str
    status: str
    summary: str
    first_seen_at: datetime
    last_seen_at: datetime
    last_sent_at: datetime
    repeats: int = 0
    last_run_id: int | None = None


def _state(row: NoticeRow) -> NoticeState:
    return NoticeState(
        row.topic,
        row.fingerprint,
        row.status,
        row.summary,
        row.first_seen_at,
        row.last_seen_at,
        row.last_sent_at,
        row.repeats,
        row.last_run_id,
    )


class NoticeRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, topic: str) -> NoticeState | None:
        with self._store.transaction() as s:
            row = s.scalars(
                select(NoticeRow).filter_by(connection=self._store.connection, topic=topic)
            ).first()
            return _state(row) if row is not None else None

    def save(self, state: NoticeState) -> None:
        with self._store.transaction() as s:
            row = s.scalars(
                select(NoticeRow).filter_by(connection=self._store.connection, topic=state.topic)
            ).first()
            if row is None:
                row = NoticeRow(connection=self._store.connection, topic=state.topic)
                s.add(row)
            row.fingerprint = state.fingerprint
            row.status = state.status
            row.summary = state.summary
            row.first_seen_at = state.first_seen_at
            row.last_seen_at = state.last_seen_at
            row.last_sent_at = state.last_sent_at
            row.repeats = state.repeats
            row.last_run_id = state.last_run_id

    def clear(self, topic: str) -> None:
        with self._store.transaction() as s:
            s.execute(
                delete(NoticeRow).where(
                    NoticeRow.connection == self._store.connection, NoticeRow.topic == topic
                )
            )

    def topics(self, prefix: str) -> list[NoticeState]:
        with self._store.transaction() as s:
            rows = s.scalars(
                select(NoticeRow)
                .filter_by(connection=self._store.connection)
                .where(NoticeRow.topic.startswith(prefix, autoescape=True))
                .order_by(NoticeRow.topic)
            )
            return [_state(r) for r in rows]
