"""Who is asking, for every request: an API key, the browser's identity cookie, or the machine's
own user; and the CSRF token that goes with a browser identity.

- ``Authorization: Bearer <key>``: the key's owner (an admin key sees everything). A wrong or
  revoked key is 401 with ``WWW-Authenticate: Bearer``, never a silent fall-back.
- The ``impasto_id`` cookie: a random anonymous identity, signed with the server's secret
  (``itsdangerous``), ``HttpOnly``, ``SameSite=Lax`` (``Secure`` over HTTPS). A browser without
  one gets a new one on its first request.
- In the default mode (``IMPASTO_AUTH=open``), an API call with neither, from a loopback address
  and without a browser's headers (``Origin``, ``Referer``, ``Sec-Fetch-Site``) is a script of the
  machine's own user: the ``local`` owner, which the CLI shares. Anything else without a key or a
  cookie gets a fresh anonymous identity (and its cookie), so a stranger never shares anyone's
  owner; but a state-changing API call with neither is refused (401): what it made would belong to
  an identity nobody holds (a script behind a proxy, say), so it could never be read again.
- ``IMPASTO_AUTH=keys`` (public deployments): ``/api/`` needs a key, or the identity cookie of a
  browser that uses the pages, as the pages use it: reads with the cookie, writes with the cookie
  *and* its CSRF token (``X-CSRF-Token``), whatever headers come with them; no ``local`` owner;
  health checks and the OpenAPI document stay open. The pages themselves stay open to anyone: keys
  mode keeps keyless scripts off the API, it does not close the site (a proxy's sign-in does).

CSRF: a browser identity's token is an HMAC of the identity with the secret (a synchronizer
token that needs no storage). Every state-changing form carries it (``csrf_token``) and the pages'
``fetch`` calls send it as ``X-CSRF-Token``; :func:`require_csrf` checks it in the form handlers,
and this middleware checks the header on cookie-identified API calls a browser makes. Calls with
a key or from the ``local`` owner carry no ambient credential a foreign page could borrow, so they
need no token. The Origin checks of :mod:`.guards` still run first.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse
from itsdangerous import BadSignature, Signer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import Forbidden
from ..service.identity.owners import LOCAL, Owner, browser_owner, key_owner, new_identity
from ..service.runtime import Runtime
from .errors import error_response
from .guards import SAFE_METHODS

COOKIE = "impasto_id"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_AGE = 400 * 24 * 3600  # browsers cap cookies at 400 days
OPEN_PATHS = ("/api/v1/health", "/api/v1/openapi.json")  # no key needed even with IMPASTO_AUTH=keys
NO_IDENTITY = ("/static/", "/docs/assets/", "/favicon.ico")  # files: no identity is minted for them
BROWSER_HEADERS = (b"origin", b"referer", b"sec-fetch-site")
NO_IDENTITY_DETAIL = (
    "who is asking? Send an API key (`Authorization: Bearer <key>`; `impasto keys create NAME` "
    "makes one), or keep the identity cookie this server sets on any GET (`curl -c jar -b jar`): "
    "without either, nobody could read what this request makes"
)


class Identities:
    """Signs and checks identity cookies and CSRF tokens with the server's secret."""

    def __init__(self, secret: str) -> None:
        self.signer = Signer(secret, salt="impasto-identity")
        self.csrf_key = hashlib.sha256(f"impasto-csrf:{secret}".encode()).digest()

    def cookie_value(self, identity: str) -> str:
        return self.signer.sign(identity).decode("ascii")

    def identity(self, cookie: str) -> str | None:
        try:
            return self.signer.unsign(cookie).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None

    def csrf_token(self, owner: Owner) -> str:
        return hmac.new(self.csrf_key, owner.id.encode(), hashlib.sha256).hexdigest()[:40]

    def csrf_ok(self, owner: Owner, token: str | None) -> bool:
        if owner.via != "cookie":
            return True
        return token is not None and hmac.compare_digest(token.encode(), self.csrf_token(owner).encode())


PROXY_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def _loopback(scope: Scope) -> bool:
    """A request from this machine itself: a loopback address, and not relayed by a proxy (which
    would make every client of a proxy on this machine its own user)."""
    if any(name in PROXY_HEADERS for name, _ in scope["headers"]):
        return False
    client = scope.get("client")
    try:
        return client is not None and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def _refuse(status: int, detail: str, code: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return error_response(status, detail, code, headers)


def _unauthorized(detail: str, error: str | None = None) -> JSONResponse:
    challenge = 'Bearer realm="impasto"' + (f', error="{error}"' if error else "")
    return _refuse(401, detail, "unauthorized", {"WWW-Authenticate": challenge})


class Identity:
    """Puts the request's :class:`Owner` in ``request.state.owner`` (and its CSRF token in
    ``request.state.csrf``), sets the identity cookie when it made one, refuses what it must."""

    def __init__(self, app: ASGIApp, runtime: Runtime, identities: Identities) -> None:
        self.app, self.rt, self.ids = app, runtime, identities
        self.keys_only = runtime.settings.auth == "keys"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_IDENTITY):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        api = scope["path"].startswith("/api/")
        minted: str | None = None
        owner: Owner | None = None
        authorization = headers.get(b"authorization", b"").decode("latin-1").strip()
        if authorization:
            scheme, _, key = authorization.partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                await _unauthorized("use `Authorization: Bearer <API key>`", "invalid_request")(
                    scope, receive, send
                )
                return
            owner = await anyio.to_thread.run_sync(key_owner, self.rt.db, key.strip())
            if owner is None:
                await _unauthorized("this API key is unknown or was revoked", "invalid_token")(
                    scope, receive, send
                )
                return
        if owner is None:
            identity = self._cookie_identity(headers)
            if identity is not None:
                owner = browser_owner(identity)
        browser = any(h in headers for h in BROWSER_HEADERS)
        if owner is None and api and scope["path"] not in OPEN_PATHS and self.keys_only:
            await _unauthorized(
                "this server needs an API key: send `Authorization: Bearer <key>` "
                "(an administrator makes one with `impasto keys create NAME`)"
            )(scope, receive, send)
            return
        if owner is None and api and not self.keys_only and not browser and _loopback(scope):
            owner = LOCAL
        if owner is None and api and scope["method"] not in SAFE_METHODS and scope["path"] not in OPEN_PATHS:
            await _unauthorized(NO_IDENTITY_DETAIL)(scope, receive, send)  # its work could never be read
            return
        if owner is None and scope["path"].startswith(OPEN_PATHS):
            owner = browser_owner(new_identity())  # health probes and the schema: no cookie to keep
        if owner is None:
            address = scope["client"][0] if scope.get("client") else "unknown"
            wait = self.rt.minting.take(address)
            if wait > 0:  # a client that drops its cookie must not get fresh quotas with every request
                detail = (
                    "too many new visitors from your address: keep the cookie this server sets "
                    f"(`curl -c jar -b jar`), or use an API key; try again in {max(1, round(wait))} s"
                )
                await _refuse(429, detail, "rate_limited", {"Retry-After": str(max(1, round(wait)))})(
                    scope, receive, send
                )
                return
            minted = new_identity()
            owner = browser_owner(minted)
        if (
            api
            and owner.via == "cookie"
            and minted is None
            and (browser or self.keys_only)  # keys mode: a cookie opens the API only as the pages use it
            and scope["method"] not in SAFE_METHODS
            and not self.ids.csrf_ok(owner, headers.get(CSRF_HEADER.encode(), b"").decode("latin-1"))
        ):
            detail = "missing or wrong CSRF token: reload the page and try again"
            await _refuse(403, detail, "csrf")(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["owner"], state["csrf"] = owner, self.ids.csrf_token(owner)
        if minted is None:
            await self.app(scope, receive, send)
            return
        cookie = self._set_cookie(minted, scope.get("scheme") == "https")

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, with_cookie)

    def _cookie_identity(self, headers: Mapping[bytes, bytes]) -> str | None:
        raw = headers.get(b"cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw.decode("latin-1"))
        except Exception:
            return None
        morsel = jar.get(COOKIE)
        return self.ids.identity(morsel.value) if morsel is not None else None

    def _set_cookie(self, identity: str, secure: bool) -> bytes:
        value = (
            f"{COOKIE}={self.ids.cookie_value(identity)}; Path=/; Max-Age={MAX_AGE}; HttpOnly; SameSite=Lax"
        )
        return (value + ("; Secure" if secure else "")).encode("latin-1")


def owner_of(request: Request) -> Owner:
    """The request's owner (set by :class:`Identity`; a stranger if it did not run)."""
    owner: Owner | None = getattr(request.state, "owner", None)
    return owner if owner is not None else browser_owner(new_identity())


def require_csrf(request: Request, form: Mapping[str, Any] | None) -> None:
    """Refuse (403) a form post from a browser identity without its CSRF token (field or header)."""
    ids: Identities = request.app.state.identities
    token = request.headers.get(CSRF_HEADER) or None  # an empty header: read the form field
    if token is None and form is not None:
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not ids.csrf_ok(owner_of(request), token):
        raise Forbidden("this form has expired or did not come from this site: reload the page and try again")
