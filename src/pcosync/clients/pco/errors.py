"""Planning Center responses → the pcosync error tree (the one PCO-specific decision)."""

from __future__ import annotations

from typing import Any

import httpx

from pcosync.clients.http import redact_target, response_retry_after
from pcosync.errors import ApiError, ErrorDetail, error_for_status

_WHAT_TO_DO = {
    401: "check the Planning Center application id and secret (or re-authorise OAuth)",
    403: "give the Planning Center user behind the token the permissions pcosync needs",
}


def error_details(response: httpx.Response) -> list[ErrorDetail]:
    """JSON:API ``errors`` reduced to title/detail/code/parameter; empty for HTML bodies."""
    try:
        body: Any = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    out = []
    for err in errors or []:
        if not isinstance(err, dict):
            continue
        source = err.get("source") if isinstance(err.get("source"), dict) else {}
        out.append(
            ErrorDetail(
                title=str(err.get("title") or ""),
                detail=str(err.get("detail") or ""),
                code=str(err.get("code") or ""),
                parameter=str((source or {}).get("parameter") or ""),
            )
        )
    return out


def classify_pco(response: httpx.Response) -> ApiError | None:
    status = response.status_code
    if status < 400:
        return None
    method = response.request.method
    path = redact_target(response.request.url)
    details = error_details(response)
    summary = (
        "; ".join(" ".join(x for x in (d.parameter, d.detail or d.title) if x) for d in details)
        or response.reason_phrase
    )
    message = f"Planning Center {method} {path} → {status}: {summary}"
    if status in _WHAT_TO_DO:
        message += f" ({_WHAT_TO_DO[status]})"
    return error_for_status(
        status,
        message,
        retry_after=response_retry_after(response),
        service="pco",
        method=method,
        path=path,
        details=details,
    )
