"""The one mapping from :mod:`impasto.errors` kinds to HTTP: used by the REST API and the pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from ..errors import ErrorKind, ImpastoError, InvalidInput

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
    ErrorKind.INTERNAL: 500,
}


def status_for(exc: ImpastoError) -> int:
    return STATUS[exc.kind]


def headers_for(exc: ImpastoError) -> dict[str, str] | None:
    """``Retry-After`` for the kinds that say when to come back."""
    if exc.retry_after is None:
        return None
    return {"Retry-After": str(max(1, round(exc.retry_after)))}


def error_response(
    status: int, detail: Any, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The one shape of every error the API answers: ``{"detail": …, "code": …}``."""
    body = {"detail": jsonable_encoder(detail), "code": code}
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def error_for(exc: ImpastoError) -> JSONResponse:
    """An :class:`~impasto.errors.ImpastoError` as its status, body and headers."""
    detail = exc.details if isinstance(exc, InvalidInput) and exc.details else str(exc)
    return error_response(status_for(exc), detail, exc.kind.value, headers_for(exc))
