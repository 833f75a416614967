"""What the app checks before a request reaches a route: the Host it was sent to, where a
state-changing request came from (CSRF), how long its body may take, and trailing slashes.

- **Host allow-list.** A DNS-rebinding page makes a browser send requests for the attacker's name
  to a server on 127.0.0.1; the Origin then matches the Host, so only refusing unknown Host names
  (400) stops it. Default: ``127.0.0.1``, ``localhost``, ``[::1]`` and the address served on.
- **Same origin.** A POST, PUT, PATCH or DELETE from a browser must come from this origin:
  ``Sec-Fetch-Site`` when the browser sends it, else ``Origin``, else ``Referer``; ``Origin: null``,
  another scheme or port of the same host, and foreign referers are refused (403). A request with
  none of them (curl, scripts) is not a browser's and passes.
- **Body deadline.** A client that trickles its body would otherwise hold a request open for ever.
- **Trailing slashes** are redirected with a relative ``Location``: never one built from Host.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ErrorKind, ImpastoError
from .errors import error_response

log = logging.getLogger("impasto.web")

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class BodyTimeout(ImpastoError):
    """The request body did not arrive in time (HTTP 408)."""

    kind = ErrorKind.TIMEOUT


def _refuse(status: int, detail: str, code: str) -> JSONResponse:
    return error_response(status, detail, code, {"Connection": "close"})


def host_name(host: str) -> str:
    """The name in a Host header, lower case, without port or trailing dot (``[::1]`` kept whole)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def _origin(url: str, scheme: str | None = None) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, or of a Host header given the request's scheme."""
    parsed = urlsplit(url if scheme is None else f"//{url.strip()}")
    scheme = (scheme or parsed.scheme).lower()
    return scheme, (parsed.hostname or "").rstrip("."), parsed.port or DEFAULT_PORTS.get(scheme)


class AllowedHosts:
    """Refuse (400) requests whose Host header names a host not on the list (``*``: any)."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = {host_name(h) for h in hosts if h.strip()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.hosts:
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if host_name(host) not in self.hosts:
            detail = "this server does not answer for that host name (see IMPASTO_ALLOWED_HOSTS)"
            await _refuse(400, detail, "bad_host")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def cross_site(scope: Scope) -> str | None:
    """Why a state-changing request looks cross-site, or None when it is same-origin (or not a
    browser's)."""
    headers = dict(scope["headers"])
    site = headers.get(b"sec-fetch-site")
    if site is not None:
        return None if site in (b"same-origin", b"none") else f"Sec-Fetch-Site: {site.decode('latin-1')}"
    source = headers.get(b"origin") or headers.get(b"referer")
    if source is None:
        return None
    text = source.decode("latin-1").strip()
    if text == "null":
        return "Origin: null"
    host = headers.get(b"host", b"").decode("latin-1")
    try:
        if _origin(text) != _origin(host, scope.get("scheme", "http")):
            return "another origin"
    except ValueError:
        return "an unreadable Origin"
    return None


class SameOrigin:
    """Refuse (403) POST, PUT, PATCH and DELETE requests a browser sent from another origin."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS and cross_site(scope):
            await _refuse(403, "cross-site request refused", "forbidden")(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyDeadline:
    """The whole request body must arrive within ``seconds`` of the app asking for it (408)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        done = late = False

        async def timed() -> Message:
            nonlocal deadline, done, late
            if done:
                return await receive()
            deadline = deadline or time.monotonic() + self.seconds
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                late = True
                raise BodyTimeout(f"the request body did not arrive within {self.seconds:g} s") from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def closing(message: Message) -> None:
            if late and message["type"] == "http.response.start":  # the rest of the body: not wanted
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, timed, closing)


class SlashRedirect:
    """``GET /history/`` → ``308 Location: /history`` (relative; the app's own redirects are off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        get = scope["type"] == "http" and scope["method"] in ("GET", "HEAD")
        if get and path.endswith("/") and path != "/":
            target = "/" + quote(path.strip("/\\"), safe="/:@!$&'()*+,;=-._~")
            query = scope.get("query_string", b"").decode("latin-1")
            headers = {"Location": target + (f"?{quote(query, safe='=&+%')}" if query else "")}
            await Response(status_code=308, headers=headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def client_went_away(request: Request, exc: Exception) -> Response:
    """A client that disconnects mid-upload: one info line, no traceback (no one reads the answer)."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)
