"""Progress on long commands (issue 15): the app layer reports phases, each change written and
waits on Planning Center's rate limit; the CLI draws them; a first sync is estimated."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from pcosync.app import review
from pcosync.app.context import open_connection
from pcosync.app.people_sync import RunSummary, SyncOptions
from pcosync.app.progress import (
    Advanced,
    PhaseStarted,
    Progress,
    ProgressEvent,
    Waiting,
    estimate_first_sync,
)
from pcosync.cli.main import app
from pcosync.cli.progress_view import ProgressView
from pcosync.config import load_settings, write_settings
from pcosync.emulators.server import BackgroundServer
from tests.conftest import TEST_SEED
from tests.sync.conftest import Church

# it measures how often progress is drawn against real time: run alone
pytestmark = pytest.mark.serial


class Recorder:
    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []
        self.progress = Progress(self.events.append)

    def phases(self) -> list[str]:
        return [e.name for e in self.events if isinstance(e, PhaseStarted)]

    def done_in(self, phase: str) -> tuple[int | None, int]:
        """(the phase's announced total, how many units were reported done in it)."""
        total, done, inside = None, 0, False
        for e in self.events:
            if isinstance(e, PhaseStarted):
                inside = e.name == phase
                if inside:
                    total, done = e.total, 0
            elif isinstance(e, Advanced) and inside:
                done += e.count
        return total, done


def _run(church: Church, recorder: Recorder, work: object) -> object:
    async def go() -> object:
        settings = load_settings(church.config)
        async with open_connection(settings, progress=recorder.progress) as conn:
            return await work(conn)  # type: ignore[operator]

    return asyncio.run(go())


def test_a_run_reports_its_phases_and_every_change_it_writes(church: Church) -> None:
    rec = Recorder()
    summary = _run(church, rec, lambda conn: conn.people.run())
    assert isinstance(summary, RunSummary) and summary.planned > 0
    phases = rec.phases()
    assert phases[:3] == [
        "Reading Planning Center and Rock",
        "Matching and planning",
        "Writing changes",
    ]
    total, done = rec.done_in("Writing changes")
    assert total == summary.planned and done == total

    # a held run approved, then reverted: the same phases, counted
    church.pco_control(f"people/{_some_pco(church)}", {"middle_name": "Progressa"})
    held = church.sync(hold=True)
    rec = Recorder()
    approved = _run(church, rec, lambda conn: review.approve(conn.people, held.run_id))
    assert isinstance(approved, review.ApproveResult)
    assert rec.phases() == ["Checking the plan against what is there now", "Writing changes"]
    assert rec.done_in("Writing changes") == (approved.summary.planned, approved.summary.planned)
    rec = Recorder()
    undone = _run(church, rec, lambda conn: review.revert(conn.people, held.run_id))
    assert isinstance(undone, review.RevertResult)
    total, done = rec.done_in("Undoing the run")
    assert total is not None and total >= 1 and done == total


def _some_pco(church: Church) -> str:
    store = church.store()
    try:
        return store.links.all()[0].pco_person_id
    finally:
        store.close()


@pytest.fixture
def tight_church(tmp_path: Path) -> Iterator[Church]:
    """A church whose Planning Center allows 3 requests every 2 seconds (its first sync
    reads about 7 before it writes anything, so the limiter surely waits, however slow the
    machine; link ids no longer count: they are written with the budget left over)."""
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app as create_pco
    from pcosync.emulators.rock.app import DEFAULT_API_KEY
    from pcosync.emulators.rock.app import create_app as create_rock

    with (
        BackgroundServer(
            create_pco(seed=TEST_SEED, people=60, rate_limit=3, rate_period=2.0)
        ) as pco_url,
        BackgroundServer(create_rock(seed=TEST_SEED, people=60)) as rock_url,
    ):
        church = Church(
            pco_url, rock_url, DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_API_KEY, tmp_path / "c.toml"
        )
        write_settings(
            church.config,
            {
                "rock": {"url": rock_url, "api_key": DEFAULT_API_KEY},
                "pco": {"url": pco_url, "app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET},
                "state": {"url": "sqlite:///state.db"},
            },
        )
        yield church


def test_waiting_on_planning_centers_rate_limit_is_said(tight_church: Church) -> None:
    rec = Recorder()
    summary = _run(tight_church, rec, lambda conn: conn.people.run(SyncOptions()))
    assert isinstance(summary, RunSummary) and summary.exit_code in (0, 3)
    waits = [e for e in rec.events if isinstance(e, Waiting)]
    assert waits and {w.service for w in waits} == {"Planning Center"}
    assert all(w.seconds > 0 for w in waits)


def test_the_progress_line_shows_phase_counts_rate_and_the_rate_limit() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    view = ProgressView(console)
    assert view.enabled
    with view.showing():
        view.progress.phase("Writing changes", total=10)
        for _ in range(3):
            view.progress.advance()
        view.progress.waiting("Planning Center", 1.5)
        bar = view._bar
        assert bar is not None
        shown = Console(file=io.StringIO(), width=160, record=True)
        shown.print(bar.make_tasks_table(bar.tasks))
        text = shown.export_text()
    assert "Writing changes" in text and "3/10 changes" in text
    assert "waiting on Planning Center's rate limit (100 requests every 20 s)" in text
    # no terminal (cron, --json): nothing is drawn at all
    quiet = ProgressView(Console(file=io.StringIO()))
    assert not quiet.enabled and quiet.progress.listener is None


def test_before_a_first_sync_dry_run_and_the_counts_give_an_estimate(church: Church) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["--config", str(church.config), "sync", "--dry-run"])
    assert first.exit_code == 0, first.output
    said = " ".join(first.output.split())
    assert "The first real sync should take about" in said
    assert "Planning Center requests at its limit of 100 every 20 seconds" in said
    church.sync()
    later = runner.invoke(app, ["--config", str(church.config), "sync", "--dry-run"])
    assert "should take about" not in later.output  # only before a first sync
    as_json = runner.invoke(app, ["--config", str(church.config), "sync", "--dry-run", "--json"])
    json.loads(as_json.output)  # --json stays pure JSON

    small = estimate_first_sync(pco_people=200, services_people=50, teams=7, rock_people=300)
    big = estimate_first_sync(pco_people=5000, services_people=1000, teams=40, rock_people=9000)
    assert small.seconds < big.seconds
    assert big.pco_requests >= 1000 and big.seconds >= big.pco_requests * 0.2 - 1e-6
    assert "minutes" in big.sentence() and "1,000 of them in Services" in big.sentence()


def test_an_approval_that_leaves_a_change_out_still_ends_its_progress_at_the_total(
    church: Church,
) -> None:
    """A change whose every field was edited since the hold is left out by the re-read
    (skipped, reported stale): it counts as done, or the bar stops short of its total."""
    church.sync()
    store = church.store()
    link = store.links.all()[0]
    store.close()
    church.rock_control(
        f"people/{link.rock_person_id}", {"LastName": "Heldlast", "NickName": "Heldnick"}
    )
    held = church.sync(hold=True)
    church.pco_control(
        f"people/{link.pco_person_id}", {"last_name": "Pcolast", "nickname": "Pconick"}
    )
    rec = Recorder()
    result = _run(church, rec, lambda conn: review.approve(conn.people, held.run_id))
    assert len(result.stale) == 2, result.stale  # type: ignore[attr-defined]
    total, done = rec.done_in("Writing changes")
    assert total is not None and total >= 1 and done == total, (total, done)
