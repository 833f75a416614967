"""Every exception as the answer it gets, in one place: an API call gets the JSON error body
(:mod:`.errors`: ``{"detail", "code"}``, status from the error's kind), a page gets the HTML error page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from ..errors import ImpastoError
from . import guards
from .errors import error_for, error_response, headers_for, status_for
from .pages import error_page

log = logging.getLogger("impasto.web")


def install(app: FastAPI) -> None:
    """The app's exception handlers."""

    @app.exception_handler(ImpastoError)
    async def _impasto_error(request: Request, exc: ImpastoError) -> Response:
        if not request.url.path.startswith("/api/"):
            return error_page(request, str(exc), status_for(exc), headers_for(exc))
        return error_for(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = jsonable_encoder(exc.errors(), custom_encoder={bytes: lambda b: f"<{len(b)} bytes>"})
        for err in errors:
            err.pop("input", None)
            err.pop("url", None)
            err.pop("ctx", None)
        return error_response(422, errors, "invalid")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith("/api/") and exc.status_code == 404:
            return error_page(request, "There is nothing at this address.", 404)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # list every method of the path, not just one route's
            headers["Allow"] = ", ".join(sorted(_methods(request)))
        return error_response(exc.status_code, exc.detail, "http_error", headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error", "internal")

    app.add_exception_handler(ClientDisconnect, guards.client_went_away)


def _methods(request: Request) -> set[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        other, _ = route.matches(request.scope)
        if Match.NONE not in (match,) or other != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return methods


__all__ = ["install"]
