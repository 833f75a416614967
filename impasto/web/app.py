"""The FastAPI application: pages, the ``/api/v1`` REST API, static files, limits and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .. import __version__
from ..errors import TooLarge
from ..service.config import Settings
from ..service.guards.urlfetch import UrlFetcher
from ..service.identity.owners import load_secret
from ..service.jobs.context import Stylize
from ..service.runtime import Runtime
from . import guards, handlers, pages, routes, shares, video
from .errors import error_response
from .identity import OPEN_PATHS, Identities, Identity

HERE = Path(__file__).parent


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes (413), by header and while streaming.

    API requests that declare too large a body get a JSON 413 at once; pages read the body up to
    the limit and then refuse it, so that the form can come back with a message a person reads.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        page = not scope["path"].startswith("/api/")
        too_large = declared is not None and (not declared.isdigit() or int(declared) > self.limit)
        if too_large and not page:
            await error_response(413, "request body too large", "too_large")(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge(f"the upload is larger than {self.limit / 2**20:.0f} MiB in all")
            return message

        await self.app(scope, limited, send)


class SecurityHeaders:
    """``nosniff``, no framing, a strict-ish CSP (cross-site requests: :mod:`.guards`)."""

    CSP = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'"
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                path = scope.get("path", "")
                if not path.startswith("/docs") and not path.startswith("/redoc"):
                    extra.append((b"content-security-policy", self.CSP.encode()))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The API docs page is Swagger UI's; this bar leads back to the app (in the app's colours).
BACK_TO_APP = (
    '<body><nav id="back-to-app" style="background:#2b2622;padding:.7rem 1.5rem;font-family:Georgia,serif">'
    '<a href="/" style="color:#f6d8a8;text-decoration:none;font-size:1.05rem">← Impasto: back to the app</a>'
    "</nav>"
)


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the ``swagger-ui-bundle-v2`` package, so the API docs work with no
    internet (FastAPI's default page loads Swagger UI from a CDN); and the site's icon."""

    assets = "/docs/assets"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/api/v1/openapi.json",
            title="Impasto API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
            swagger_ui_parameters={"validatorUrl": None},
        )
        html = bytes(page.body).decode("utf-8").replace("<body>", BACK_TO_APP, 1)
        return HTMLResponse(html, status_code=page.status_code)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(HERE / "static" / "favicon.ico", headers={"Cache-Control": "max-age=86400"})

    app.mount(assets, StaticFiles(directory=Path(str(swagger_ui_path))), name="docs-assets")


def _optional_auth(app: FastAPI, *, keys_only: bool) -> None:
    """Say in OpenAPI when a key is optional: in the default mode every operation may also be
    called without one (``{}`` among its security alternatives); with ``IMPASTO_AUTH=keys`` only
    the open paths (health, the document itself) may."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if not isinstance(operation, dict) or "security" not in operation:
                    continue
                if not keys_only:
                    operation["security"] = [*operation["security"], {}]
                elif path.startswith(OPEN_PATHS):
                    operation["security"] = [{}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings | None = None,
    *,
    stylize: Stylize | None = None,
    fetcher: UrlFetcher | None = None,
    workers: bool = True,
) -> FastAPI:
    """The app; ``stylize`` and ``fetcher`` are injectable for tests (default: the real ones)."""
    settings = settings or Settings.from_env()
    runtime = Runtime(settings, stylize=stylize, fetcher=fetcher, workers=workers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="Impasto",
        version=__version__,
        description="Turn a photo into a painting in the style of any artwork. REST API v1.",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served below from the package's own copy of Swagger UI, not a CDN
        redoc_url=None,
        redirect_slashes=False,  # guards.SlashRedirect does it with a relative Location
    )
    app.state.runtime = runtime
    app.state.identities = identities = Identities(load_secret(settings.secret_key, settings.data_dir))

    handlers.install(app)
    app.include_router(routes.router)
    app.include_router(video.api)
    _optional_auth(app, keys_only=settings.auth == "keys")
    app.include_router(pages.router)
    app.include_router(video.pages)
    app.include_router(shares.router)
    _offline_docs(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(guards.BodyDeadline, seconds=settings.body_timeout)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.add_middleware(Identity, runtime=runtime, identities=identities)
    app.add_middleware(guards.SameOrigin)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(guards.SlashRedirect)
    app.add_middleware(guards.AllowedHosts, hosts=settings.allowed_hosts)
    # outermost: the client's address, for everything after it (rate limits, the local owner)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    return app
