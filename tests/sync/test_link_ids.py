"""Link ids on Planning Center records (remote_id) go out with the rate budget left over
(issue 14): people's data first, never a 429, the store and Rock's PcoPersonId the truth
meanwhile, and every id on Planning Center within the following runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pcosync.app.context import open_connection
from pcosync.app.link_ids import LinkIdsResult, write_link_ids
from pcosync.cli.main import app
from pcosync.config import load_settings, write_settings
from pcosync.emulators.server import BackgroundServer
from pcosync.store import LinkStatus, RunStatus
from tests.conftest import TEST_SEED
from tests.sync.conftest import Church, _campus_map
from tests.sync.test_people_sync import _link_values

# tight enough that a first sync of this church fills its windows (the real ratio: 100 / 20 s)
LIMIT, PERIOD = 30, 2.0


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[Church]:
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app as create_pco
    from pcosync.emulators.rock.app import DEFAULT_API_KEY
    from pcosync.emulators.rock.app import create_app as create_rock

    with (
        BackgroundServer(
            create_pco(seed=TEST_SEED, people=120, rate_limit=LIMIT, rate_period=PERIOD)
        ) as pco_url,
        BackgroundServer(create_rock(seed=TEST_SEED, people=120)) as rock_url,
    ):
        church = Church(
            pco_url,
            rock_url,
            DEFAULT_APP_ID,
            DEFAULT_SECRET,
            DEFAULT_API_KEY,
            tmp_path / "pcosync.toml",
        )
        write_settings(
            church.config,
            {
                "rock": {"url": rock_url, "api_key": DEFAULT_API_KEY},
                "pco": {"url": pco_url, "app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET},
                "state": {"url": "sqlite:///state.db"},
                "campus_map": _campus_map(church),
            },
        )
        yield church


def _owed(church: Church) -> set[int]:
    store = church.store()
    try:
        return {lk.id for lk in store.links.owed_pco_links()}
    finally:
        store.close()


def _remote_ids(church: Church) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    offset = 0
    while True:
        doc = church.pco_get("/people/v2/people", per_page=100, offset=offset)
        for row in doc["data"]:
            out[row["id"]] = row["attributes"]["remote_id"]
        if len(doc["data"]) < 100:
            return out
        offset += 100


def _throttled(church: Church) -> int:
    return int(church.pco_control("stats")["throttled"])


def test_first_sync_writes_data_first_and_link_ids_with_the_budget_left_over(
    tight: Church,
) -> None:
    first = tight.sync()
    assert first.status is RunStatus.DONE
    store = tight.store()
    links = {lk.id: lk for lk in store.links.all(LinkStatus.ACTIVE)}
    store.close()
    assert first.linked == len(links) > LIMIT
    # every link reached Rock at once (Rock publishes no rate limit) ...
    values = _link_values(tight)
    assert all(values[lk.pco_person_id] == 1 for lk in links.values())
    # ... while Planning Center got only what the window had left: the rest is owed
    owed = _owed(tight)
    assert first.link_ids_owed >= len(owed) > 0
    assert first.link_ids_written + len(owed) == first.link_ids_owed
    assert first.link_ids_pending == len(owed)
    remote = _remote_ids(tight)
    for link_id in owed:
        assert remote[links[link_id].pco_person_id] is None  # not written, and not wrong
    assert _throttled(tight) == 0

    # the following runs write the rest, a window's leftover each, and nothing else
    for _ in range(12):
        if not _owed(tight):
            break
        time.sleep(PERIOD)  # runs come minutes apart: the window has emptied meanwhile
        before = tight.writes()
        run = tight.sync()
        assert run.status is RunStatus.DONE and run.planned == 0
        assert run.link_ids_written > 0
        assert tight.writes()["pco"] - before["pco"] == run.link_ids_written
        assert tight.writes()["rock"] == before["rock"]
    assert not _owed(tight)
    remote = _remote_ids(tight)
    for lk in links.values():
        assert remote[lk.pco_person_id] == lk.rock_person_id
    assert _throttled(tight) == 0
    # and then the sync is quiet: nothing planned, nothing written
    before = tight.writes()
    assert tight.sync(full=True).planned == 0
    assert tight.writes() == before


def test_store_lost_while_link_ids_are_owed_relinks_the_same_pairs_without_duplicates(
    tight: Church,
) -> None:
    tight.sync()
    store = tight.store()
    pairs = {(lk.rock_person_id, lk.pco_person_id) for lk in store.links.all()}
    store.close()
    assert _owed(tight)
    people = (len(_remote_ids(tight)), len(tight.rock_get("/api/People", **{"$select": "Id"})))
    (tight.config.parent / "state.db").unlink()  # the state store is lost

    again = tight.sync()
    assert again.status is RunStatus.DONE
    assert sum(again.created.values()) == 0
    store = tight.store()
    relinked = {(lk.rock_person_id, lk.pco_person_id) for lk in store.links.all()}
    store.close()
    assert relinked == pairs  # the same pairs, none wrong, none missing
    after = (len(_remote_ids(tight)), len(tight.rock_get("/api/People", **{"$select": "Id"})))
    assert after == people  # no duplicate on either side
    assert _throttled(tight) == 0


def test_between_runs_every_owed_link_id_is_written_paced_never_throttled(
    tight: Church,
) -> None:
    tight.sync()
    owed = _owed(tight)
    assert owed

    async def go() -> LinkIdsResult:
        async with open_connection(load_settings(tight.config)) as conn:
            return await write_link_ids(conn.people, seconds=0)

    part = asyncio.run(go())  # serve's form: a time budget between runs (none left here)
    assert part.written == 0 and part.pending == len(owed)
    # the admin's form: `pcosync people write-link-ids` writes the rest
    result = CliRunner().invoke(
        app, ["--config", str(tight.config), "people", "write-link-ids", "--minutes", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "still to be written" in result.output and " 0 still" in result.output
    assert not _owed(tight)
    assert _throttled(tight) == 0
    store = tight.store()
    links = store.links.all()
    store.close()
    remote = _remote_ids(tight)
    assert all(remote[lk.pco_person_id] == lk.rock_person_id for lk in links)
