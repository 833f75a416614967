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
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse
from itsdangerous import BadSignature, Signer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import Forbidden
from ..service.guards.ratelimit import RateLimiter
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


@dataclass(frozen=True)
class Asking:
    """What the identity policy knows of one request."""

    path: str
    method: str
    headers: Mapping[bytes, bytes]
    address: str  # the client's address ("unknown" without one)
    loopback: bool  # from this machine itself, not relayed by a proxy
    keys_only: bool  # IMPASTO_AUTH=keys

    @classmethod
    def of(cls, scope: Scope, keys_only: bool) -> Asking:
        client = scope.get("client")
        return cls(
            scope["path"],
            scope["method"],
            dict(scope["headers"]),
            client[0] if client else "unknown",
            _loopback(scope),
            keys_only,
        )

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def writes(self) -> bool:
        return self.method not in SAFE_METHODS

    @property
    def open_path(self) -> bool:
        return self.path in OPEN_PATHS

    @property
    def browser(self) -> bool:
        return any(h in self.headers for h in BROWSER_HEADERS)

    def header(self, name: str) -> str:
        return self.headers.get(name.encode(), b"").decode("latin-1").strip()


@dataclass(frozen=True)
class Refusal:
    """A request the policy refuses: its status, message, code and headers."""

    status: int
    detail: str
    code: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        return error_response(self.status, self.detail, self.code, self.headers)


@dataclass(frozen=True)
class Decided:
    """Who is asking; ``minted``: a new identity whose cookie the answer sets."""

    owner: Owner
    minted: str | None = None


def unauthorized(detail: str, error: str | None = None) -> Refusal:
    challenge = 'Bearer realm="impasto"' + (f', error="{error}"' if error else "")
    return Refusal(401, detail, "unauthorized", {"WWW-Authenticate": challenge})


# --- the checks, in the order :func:`decide` applies them -----------------------------------------


def bearer_key(asking: Asking) -> str | Refusal | None:
    """The API key of an ``Authorization: Bearer`` header (None: no header; a malformed one: 401)."""
    authorization = asking.header("authorization")
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return unauthorized("use `Authorization: Bearer <API key>`", "invalid_request")
    return key.strip()


def key_known(owner: Owner | None) -> Owner | Refusal:
    """A key's owner, or 401 for a key that is unknown or revoked (never a silent fall-back)."""
    return (
        owner
        if owner is not None
        else unauthorized("this API key is unknown or was revoked", "invalid_token")
    )


def keys_mode_needs_a_key(asking: Asking) -> Refusal | None:
    """Keys mode: the API (but its health check and schema) needs a key or a page's cookie."""
    if asking.keys_only and asking.api and not asking.open_path:
        return unauthorized(
            "this server needs an API key: send `Authorization: Bearer <key>` "
            "(an administrator makes one with `impasto keys create NAME`)"
        )
    return None


def local_script(asking: Asking) -> Owner | None:
    """Open mode: a keyless, cookieless API call from this machine, not a browser's, is its user's."""
    if asking.api and not asking.keys_only and not asking.browser and asking.loopback:
        return LOCAL
    return None


def keyless_write(asking: Asking) -> Refusal | None:
    """A state-changing API call with no key and no cookie: what it made nobody could read again."""
    if asking.api and asking.writes and not asking.open_path:
        return unauthorized(NO_IDENTITY_DETAIL)
    return None


def probe(asking: Asking) -> Owner | None:
    """Health probes and the schema: a passing stranger, with no cookie to keep."""
    return browser_owner(new_identity()) if asking.path.startswith(OPEN_PATHS) else None


def mint(asking: Asking, minting: RateLimiter) -> Decided | Refusal:
    """A new anonymous identity, a bounded number per address (a client that drops its cookie must
    not get fresh quotas with every request)."""
    wait = minting.take(asking.address)
    if wait > 0:
        seconds = max(1, round(wait))
        detail = (
            "too many new visitors from your address: keep the cookie this server sets "
            f"(`curl -c jar -b jar`), or use an API key; try again in {seconds} s"
        )
        return Refusal(429, detail, "rate_limited", {"Retry-After": str(seconds)})
    identity = new_identity()
    return Decided(browser_owner(identity), identity)


def csrf(asking: Asking, decided: Decided, ids: Identities) -> Refusal | None:
    """A cookie's state-changing API call, from a browser (or any, in keys mode: a cookie opens the
    API only as the pages use it), needs the cookie's CSRF token."""
    owner = decided.owner
    needs = asking.api and owner.via == "cookie" and decided.minted is None and asking.writes
    if needs and (asking.browser or asking.keys_only) and not ids.csrf_ok(owner, asking.header(CSRF_HEADER)):
        return Refusal(403, "missing or wrong CSRF token: reload the page and try again", "csrf")
    return None


def decide(
    asking: Asking,
    key_owner: Owner | Refusal | None,
    cookie: str | None,
    ids: Identities,
    minting: RateLimiter,
) -> Decided | Refusal:
    """The whole policy: who is asking (``key_owner``: the Authorization header's outcome, looked
    up; ``cookie``: the identity of a valid cookie), or why the request is refused."""
    if isinstance(key_owner, Refusal):
        return key_owner
    owner = key_owner or (browser_owner(cookie) if cookie is not None else None)
    if owner is None:
        refused = keys_mode_needs_a_key(asking)
        if refused is not None:
            return refused
        owner = local_script(asking)
    if owner is None:
        refused = keyless_write(asking)
        if refused is not None:
            return refused
        owner = probe(asking)
    decided = Decided(owner) if owner is not None else mint(asking, minting)
    if isinstance(decided, Refusal):
        return decided
    return csrf(asking, decided, ids) or decided


class Identity:
    """Puts the request's :class:`Owner` in ``request.state.owner`` (and its CSRF token in
    ``request.state.csrf``), sets the identity cookie when it made one, refuses what it must
    (:func:`decide`)."""

    def __init__(self, app: ASGIApp, runtime: Runtime, identities: Identities) -> None:
        self.app, self.rt, self.ids = app, runtime, identities
        self.keys_only = runtime.settings.auth == "keys"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_IDENTITY):
            await self.app(scope, receive, send)
            return
        asking = Asking.of(scope, self.keys_only)
        key = bearer_key(asking)
        by_key: Owner | Refusal | None = key if isinstance(key, Refusal) else None
        if isinstance(key, str):
            by_key = key_known(await anyio.to_thread.run_sync(key_owner, self.rt.db, key))
        decided = decide(asking, by_key, self._cookie_identity(asking.headers), self.ids, self.rt.minting)
        if isinstance(decided, Refusal):
            await decided.response()(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["owner"], state["csrf"] = decided.owner, self.ids.csrf_token(decided.owner)
        if decided.minted is None:
            await self.app(scope, receive, send)
            return
        cookie = self._set_cookie(decided.minted, scope.get("scheme") == "https")

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
