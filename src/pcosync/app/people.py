"""Linking and unlinking people by hand (``pcosync people link|unlink``, the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pcosync.app.context import Connection
from pcosync.app.lease import RunLease
from pcosync.app.names import PeopleNames
from pcosync.domain.identity import Side
from pcosync.errors import NotFoundError, UsageError
from pcosync.store.links import Link


@dataclass
class Unlinked:
    link: Link
    name: str | None = None  # whose link it was, for the admin
    notes: list[str] = field(default_factory=list)


async def unlink(
    conn: Connection,
    *,
    rock_id: int | None = None,
    pco_id: str | None = None,
    wait: bool = False,
) -> Unlinked:
    """Say two linked records are not the same person: the link goes, the pair is never
    matched again, and the ids written on both records are cleared. A record that no longer
    exists (deleted, merged away) has nothing to clear: that is fine, not a failure."""
    store = conn.store
    async with RunLease(store, "people unlink", wait=wait):
        links = store.links
        link = links.by_rock(rock_id) if rock_id is not None else links.by_pco(str(pco_id))
        if link is None:
            which = f"Rock person {rock_id}" if rock_id is not None else f"person {pco_id}"
            raise UsageError(
                f"{which} is not linked to anyone. List the links with: pcosync people links"
            )
        name = PeopleNames.from_store(store, [link.id]).by_link.get(link.id)
        links.remove(link.id)
        links.exclude(link.rock_person_id, link.pco_person_id)
        out = Unlinked(link, name)
        await conn.rock.prepare()
        for side, record_id in ((Side.ROCK, link.rock_person_id), (Side.PCO, link.pco_person_id)):
            writer = conn.rock if side is Side.ROCK else conn.pco
            try:
                await writer.write_link(record_id, None)
            except NotFoundError:
                out.notes.append(
                    f"The {side.label} person {record_id} no longer exists, so there was no "
                    "link id to clear on it."
                )
        return out


__all__ = ["Unlinked", "unlink"]
