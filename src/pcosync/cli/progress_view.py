"""The terminal face of :mod:`pcosync.app.progress`: one Rich progress line per command.

It shows the phase, how much of it is done (changes written, or requests made while
reading), the rate, the time left when the total is known, and says so when Planning
Center's rate limit is what the run waits on. Not on a terminal (cron, scripts, ``--json``)
it draws nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

from pcosync.app.progress import (
    PCO_LIMIT,
    PCO_PERIOD,
    Advanced,
    PhaseStarted,
    Progress,
    ProgressEvent,
    Waiting,
)

WAIT_SHOWN_FOR = 2.0  # seconds a rate-limit wait stays in the line after it happened


class _Counts(ProgressColumn):
    """``120/430 changes · 4.8/s`` (or ``37 requests · 4.9/s`` while reading)."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "changes")
        done = int(task.completed)
        text = f"{done}/{int(task.total)} {unit}" if task.total else f"{done} {unit}"
        speed = task.finished_speed or task.speed
        if speed:
            text += f" · {speed:.1f}/s"
        return Text(text, style="progress.download")


class _Waiting(ProgressColumn):
    def __init__(self, view: ProgressView) -> None:
        super().__init__()
        self.view = view

    def render(self, task: Task) -> Text:
        if time.monotonic() - self.view.waited_at < WAIT_SHOWN_FOR:
            return Text(
                f"waiting on {self.view.waited_on}'s rate limit "
                f"({PCO_LIMIT} requests every {PCO_PERIOD:.0f} s)",
                style="yellow",
            )
        return Text("")


class ProgressView:
    """Renders progress events; use as ``with view.showing(): ... progress=view.progress``."""

    def __init__(self, console: Console, *, enabled: bool | None = None) -> None:
        self.console = console
        self.enabled = console.is_terminal if enabled is None else enabled
        self.progress = Progress(self.handle if self.enabled else None)
        self.waited_at = -1e9
        self.waited_on = "Planning Center"
        self._bar: RichProgress | None = None
        self._task: int | None = None
        self._unit = "changes"
        self._requests_at_start = 0

    def handle(self, event: ProgressEvent) -> None:
        bar = self._bar
        if bar is None:
            return
        if isinstance(event, PhaseStarted):
            if self._task is not None:
                bar.remove_task(self._task)  # type: ignore[arg-type]
            self._unit = event.unit
            self._requests_at_start = self.progress.requests()
            self._task = bar.add_task(event.name, total=event.total, unit=event.unit)
        elif isinstance(event, Advanced) and self._task is not None:
            bar.advance(self._task, event.count)  # type: ignore[arg-type]
        elif isinstance(event, Waiting):
            self.waited_at = time.monotonic()
            self.waited_on = event.service

    def tick(self) -> None:
        """Phases counted in requests take their count from the clients."""
        if self._bar is not None and self._task is not None and self._unit == "requests":
            done = self.progress.requests() - self._requests_at_start
            self._bar.update(self._task, completed=done)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def showing(self) -> Iterator[ProgressView]:
        if not self.enabled:
            yield self
            return
        bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            _Counts(),
            TimeRemainingColumn(),
            _Waiting(self),
            console=self.console,
            transient=True,
        )
        self._bar = bar
        with bar:
            yield self
        self._bar = None
        self._task = None

    @contextlib.asynccontextmanager
    async def pumping(self) -> AsyncIterator[None]:
        """Inside the command's event loop: keep request-counted phases current."""
        if not self.enabled:
            yield
            return

        async def pump() -> None:
            while True:
                self.tick()
                await asyncio.sleep(0.2)

        task = asyncio.create_task(pump())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


__all__ = ["ProgressView"]
