"""The one exception tree of pcosync.

Retry decisions are type tests on this tree, never string matching::

    PcoSyncError
    ├── ConfigError                  a bad config value: names the key and the file (exit 2)
    ├── UsageError                   asked for something that is not there or cannot be done
    │                                as asked (a wrong id): names the thing and the fix (exit 2)
    ├── SyncDataError                a record we cannot write as it is (parked, never dropped)
    │   └── InvalidFieldValue        e.g. a malformed email or an unparseable phone number
    ├── RunInProgress                another process holds the connection's run lease (exit 75)
    ├── LeaseLost                    our lease expired and another process took it: stop writing
    ├── WriteSuperseded              not sent: someone edited the record while this write
    │                                waited, and the run re-planned it (internal, never shown)
    ├── StoreError                   the state database refused an operation (exit 1)
    │   ├── StoreUnusable            not a store this pcosync can use: from a newer pcosync,
    │   │                            not a database, half-migrated, cannot be opened (exit 2)
    │   └── StoreUnreachable         the database server cannot be reached (exit 75: later)
    │       └── StoreBusy            SQLite stayed locked by another process too long (exit 75)
    ├── CredentialsRefused           Rock or Planning Center refused pcosync's credentials or
    │                                permissions while a run was writing (exit 1)
    └── ApiError                     anything that went wrong talking to Rock or Planning Center
        ├── TransportError           the request may not have reached the server
        │   ├── ConnectError         it certainly did not (refused, DNS): safe to retry anything
        │   └── AmbiguousWriteError  a write was sent and the outcome is unknown
        │                            (timeout, dropped connection): re-read, never resend blindly
        ├── RetryableError           "later": 408, 429, 5xx; retried with backoff
        │   ├── RateLimitedError     429; carries Retry-After
        │   └── ServerError          5xx (and Rock's HTML error page served with 200)
        ├── RetriesExhausted         retryable failures went on past the attempt or time budget
        ├── PaginationError          the server's paging did not advance (loop guard)
        └── ClientError              a 4xx that will not change by retrying
            ├── AuthenticationError  401: bad credentials (Rock also uses 401 for "no rights")
            ├── PermissionDenied     403
            ├── NotFoundError        404
            ├── MethodNotAllowed     405
            ├── ConflictError        409 (PCO: parallel creates of one resource)
            ├── ValidationError      400/422 with the server's reasons
            └── UnsupportedQueryError  we asked for a where/include/filter the endpoint does not
                                     offer (PCO would silently ignore it and return everything),
                                     or its answer lost the links to what we included

Messages never contain credentials or personal data: they name the method, the path with
ids (not query values), the status and the server's error title. A store error names what
failed and what to do, never the SQL statement or its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PcoSyncError(Exception):
    """Base of every error pcosync raises on purpose."""


class ConfigError(PcoSyncError):
    """A configuration value is missing or invalid; the message names the key and the file."""

    def __init__(self, message: str, *, key: str | None = None, file: str | None = None) -> None:
        self.key = key
        self.file = file
        where = ""
        if key and file:
            where = f" ({key} in {file})"
        elif key:
            where = f" ({key})"
        elif file:
            where = f" ({file})"
        super().__init__(f"{message}{where}")


class UsageError(PcoSyncError):
    """The user asked for something that is not there, or not possible as asked (a mistyped
    id, a group that is not linked); the message names the thing and how to put it right."""


class SyncDataError(PcoSyncError):
    """A record cannot be written as it is; it is parked with this message."""


class InvalidFieldValue(SyncDataError):
    """A field value that does not parse (email, phone, date)."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field_name = field_name
        self.reason = reason
        super().__init__(f"{field_name}: {reason}")


class RunInProgress(PcoSyncError):
    """Another process is running on this connection (it holds the run lease)."""

    def __init__(self, message: str, *, run_id: int | None = None) -> None:
        self.run_id = run_id
        super().__init__(message)


class LeaseLost(PcoSyncError):
    """This run's lease expired and another process took it over: it must stop writing."""


class WriteSuperseded(PcoSyncError):
    """A write was not sent: a re-read just before it found the record edited since the plan,
    and the run re-planned (or re-validated) the operation. Handled inside the run."""


class StoreError(PcoSyncError):
    """The state database refused an operation (the message never holds SQL parameters)."""


class StoreUnusable(StoreError):
    """The state database is not one this pcosync can use as it is; nothing was changed."""


class StoreUnreachable(StoreError):
    """The database server cannot be reached (now): try again later."""


class StoreBusy(StoreUnreachable):
    """The state database stayed locked by another process past the busy timeout."""


class CredentialsRefused(PcoSyncError):
    """Rock or Planning Center refused pcosync's credentials or permissions mid-run.

    ``credential`` says which one, in words (the Rock REST key, the Planning Center app id
    and secret, or a permission); ``refused`` is the error the API answered with.
    """

    def __init__(self, message: str, *, credential: str, refused: ApiError) -> None:
        super().__init__(message)
        self.credential = credential
        self.refused = refused


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of a server's error document, reduced to what is safe to show."""

    title: str = ""
    detail: str = ""
    code: str = ""
    parameter: str = ""


class ApiError(PcoSyncError):
    """Something went wrong talking to a remote API."""

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        method: str = "",
        path: str = "",
        status: int | None = None,
        details: list[ErrorDetail] | None = None,
    ) -> None:
        self.service = service
        self.method = method
        self.path = path
        self.status = status
        self.details = details or []
        super().__init__(message)

    @property
    def reasons(self) -> str:
        """The server's reasons joined for a person to read."""
        parts = []
        for d in self.details:
            text = " ".join(p for p in (d.parameter, d.detail or d.title) if p)
            if text:
                parts.append(text)
        return "; ".join(parts)


class TransportError(ApiError):
    """The request may not have reached the server, or its answer was lost."""


class ConnectError(TransportError):
    """The connection could not be made at all; nothing was sent."""


class AmbiguousWriteError(TransportError):
    """A write was sent and no answer came back: it may or may not have happened.

    The caller must re-read the remote state and reconcile; resending blindly can duplicate.
    """


class RetryableError(ApiError):
    """The server asked us to come back later."""


class RateLimitedError(RetryableError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(RetryableError):
    pass


class RetriesExhausted(ApiError):
    """Retryable failures went on past the policy's attempt or time budget."""

    def __init__(self, message: str, *, last: ApiError, attempts: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.last = last
        self.attempts = attempts


class PaginationError(ApiError):
    """Paging did not advance (a repeated ``next`` link or offset); stopped, not looped."""


class ClientError(ApiError):
    """A 4xx that retrying will not fix."""


class AuthenticationError(ClientError):
    pass


class PermissionDenied(ClientError):
    pass


class NotFoundError(ClientError):
    pass


class MethodNotAllowed(ClientError):
    pass


class ConflictError(ClientError):
    pass


class ValidationError(ClientError):
    pass


class UnsupportedQueryError(ClientError):
    """A query parameter the endpoint does not support (it would be silently ignored)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFoundError,
    405: MethodNotAllowed,
    408: RetryableError,
    409: ConflictError,
    422: ValidationError,
}


def error_for_status(
    status: int, message: str, *, retry_after: float | None = None, **kw: Any
) -> ApiError:
    """The error of the tree for an HTTP error status (the same for both APIs)."""
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after, status=status, **kw)
    if status >= 500:
        return ServerError(message, status=status, **kw)
    return _BY_STATUS.get(status, ClientError)(message, status=status, **kw)
