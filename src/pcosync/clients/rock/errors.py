"""Rock responses → the pcosync error tree (the one Rock-specific decision)."""

from __future__ import annotations

from typing import Any

import httpx

from pcosync.clients.http import redact_target, response_retry_after
from pcosync.errors import ApiError, AuthenticationError, ErrorDetail, ServerError, error_for_status


def _is_html(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    if "html" in ctype:
        return True
    head = response.content[:200].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def rock_message(response: httpx.Response) -> str:
    """Rock's ``{"Message": …}`` (plus ``ExceptionType`` when present); empty otherwise.

    ``ExceptionMessage`` is left out on purpose: Rock fills it (for admin callers) with the
    exception's own text, which can quote the values of the query or record, i.e. personal
    data, and our error messages end up in logs and notifications."""
    if _is_html(response) or not response.content:
        return ""
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k]) for k in ("Message", "ExceptionType") if body.get(k)]
    return " ".join(parts)


def classify_rock(response: httpx.Response) -> ApiError | None:
    status = response.status_code
    method = response.request.method
    path = redact_target(response.request.url)
    kw: dict[str, Any] = {"service": "rock", "method": method, "path": path}
    if status < 400:
        # Rock's HTML "Rock - Error" page can come with a 200 (spec §2.7; the Ruby client
        # treats it as a server error too)
        if status == 200 and _is_html(response):
            return ServerError(
                f"Rock {method} {path} answered with its HTML error page instead of JSON",
                status=status,
                **kw,
            )
        return None
    text = rock_message(response)
    details = [ErrorDetail(detail=text)] if text else []
    if status == 401:
        return AuthenticationError(
            f"Rock {method} {path} → 401: the REST key was refused, or its REST user lacks "
            "rights to this endpoint (Rock answers 401 for both). Check the key in "
            "Admin Tools › Security › REST Keys and the user's security roles.",
            status=status,
            details=details,
            **kw,
        )
    message = f"Rock {method} {path} → {status}" + (f": {text}" if text else "")
    if _is_html(response):
        # a proxy's or IIS's page, not Rock's JSON: the status still says what happened
        message += " (an HTML page, not Rock's answer: check the Rock URL and the web server)"
    # Rock itself publishes no rate limit, but a proxy in front of it may send 429 Retry-After
    return error_for_status(
        status,
        message,
        retry_after=response_retry_after(response),
        details=details,
        **kw,
    )
