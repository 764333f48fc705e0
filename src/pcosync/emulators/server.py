"""Run an emulator's ASGI app on a loopback port, in this process or in the foreground.

Tests, the demo and the benchmarks use :class:`BackgroundServer`: uvicorn in a daemon
thread with its own event loop, so clients in the test's loop talk to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        backlog=2048,
    )


class _QuietServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # running in a thread: no signal handlers
        return None


class BackgroundServer:
    """``with BackgroundServer(app) as url: ...`` serves ``app`` on a free loopback port."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_level: str = "critical",
    ) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self._server = _QuietServer(_config(app, host, self.port, log_level))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        # the fault injector abandons connections on purpose; keep uvicorn from logging each one
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve()),
            name=f"emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"emulator did not start on {self.url}")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(app: Any, host: str, port: int, log_level: str = "warning") -> None:
    """Foreground serving for ``pcosync emulate``; Ctrl-C stops it."""
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    uvicorn.Server(_config(app, host, port, log_level)).run()
