"""The one mapping from :mod:`impasto.errors` kinds to HTTP: used by the REST API and the pages."""

from __future__ import annotations

from ..errors import ErrorKind, ImpastoError

STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TIMEOUT: 408,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.STORAGE_FULL: 507,
}


def status_for(exc: ImpastoError) -> int:
    return STATUS[exc.kind]


def headers_for(exc: ImpastoError) -> dict[str, str] | None:
    """``Retry-After`` for the kinds that say when to come back."""
    if exc.retry_after is None:
        return None
    return {"Retry-After": str(max(1, round(exc.retry_after)))}
