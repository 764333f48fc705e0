"""Helpers for the Planning Center emulator tests: clients, control calls, and emulators
built with non-default options (tight rate limits, a SQLite file, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET, create_app
from pcosync.emulators.server import BackgroundServer
from tests.conftest import TEST_SEED, RunningEmulator

CREDENTIALS = {"app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET}


def client_for(url: str, *, version: str | None = None, timeout: float = 10) -> httpx.Client:
    headers = {"X-PCO-API-Version": version} if version else {}
    return httpx.Client(
        base_url=url, auth=(DEFAULT_APP_ID, DEFAULT_SECRET), headers=headers, timeout=timeout
    )


def control(url: str, path: str, payload: Any = None, method: str | None = None) -> Any:
    """Call ``/__emulator__/{path}``; POST when a payload is given, else GET."""
    with httpx.Client(base_url=url, timeout=10) as http:
        verb = method or ("POST" if payload is not None else "GET")
        resp = http.request(verb, f"/__emulator__/{path}", json=payload)
        resp.raise_for_status()
        return resp.json() if resp.content else None


@contextmanager
def running(**options: Any) -> Iterator[RunningEmulator]:
    """An emulator with ``create_app`` options, on its own loopback port."""
    options.setdefault("seed", TEST_SEED)
    options.setdefault("people", 200)
    app = create_app(**options)
    with BackgroundServer(app) as url:
        yield RunningEmulator(url=url, app=app, credentials=dict(CREDENTIALS))


def all_pages(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a collection, following ``links.next``."""
    rows: list[dict[str, Any]] = []
    body = client.get(path, params={"per_page": 100, **params}).json()
    rows += body["data"]
    for _ in range(1000):
        nxt = body["links"].get("next")
        if not nxt:
            return rows
        body = client.get(nxt).json()
        rows += body["data"]
    raise AssertionError("pagination did not end")


def create_person(client: httpx.Client, **attributes: Any) -> dict[str, Any]:
    attributes.setdefault("first_name", "Test")
    attributes.setdefault("last_name", "Person")
    resp = client.post(
        "/people/v2/people", json={"data": {"type": "Person", "attributes": attributes}}
    )
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


def jsonapi(type_name: str, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": type_name, "attributes": attributes}}
