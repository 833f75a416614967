"""The identity policy (:mod:`impasto.web.identity`) check by check, without a server: each small
check on the requests it is about, and :func:`decide` composing them."""

from __future__ import annotations

import pytest

from impasto.service.guards.ratelimit import RateLimiter
from impasto.service.identity.owners import LOCAL, browser_owner, new_identity
from impasto.web import identity as policy
from impasto.web.identity import Asking, Decided, Identities, Refusal

IDS = Identities("a test secret")


def asking(
    path: str = "/api/v1/jobs",
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    loopback: bool = True,
    keys_only: bool = False,
) -> Asking:
    raw = {k.lower().encode(): v.encode() for k, v in (headers or {}).items()}
    return Asking(path, method, raw, "127.0.0.1" if loopback else "203.0.113.9", loopback, keys_only)


def plenty() -> RateLimiter:
    return RateLimiter(1000.0, 1000)


def test_bearer_key_reads_the_header_and_refuses_other_schemes() -> None:
    assert policy.bearer_key(asking()) is None
    assert policy.bearer_key(asking(headers={"Authorization": "Bearer  imp_abc "})) == "imp_abc"
    for bad in ("Basic dXNlcjpwdw==", "Bearer ", "imp_abc"):
        refused = policy.bearer_key(asking(headers={"Authorization": bad}))
        assert isinstance(refused, Refusal) and refused.status == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="impasto", error="invalid_request"'


def test_an_unknown_key_is_refused_never_ignored() -> None:
    refused = policy.key_known(None)
    assert isinstance(refused, Refusal) and refused.status == 401 and "revoked" in refused.detail
    owner = browser_owner(new_identity())
    assert policy.key_known(owner) is owner


def test_keys_mode_needs_a_key_for_the_api_but_its_open_paths() -> None:
    assert policy.keys_mode_needs_a_key(asking(keys_only=False)) is None
    refused = policy.keys_mode_needs_a_key(asking(keys_only=True))
    assert isinstance(refused, Refusal) and refused.status == 401 and "impasto keys create" in refused.detail
    assert policy.keys_mode_needs_a_key(asking("/api/v1/health", keys_only=True)) is None
    assert policy.keys_mode_needs_a_key(asking("/", keys_only=True)) is None  # the pages stay open


def test_a_local_script_is_the_machines_user_only_from_loopback_without_a_browser() -> None:
    assert policy.local_script(asking()) is LOCAL
    assert policy.local_script(asking(loopback=False)) is None
    assert policy.local_script(asking(headers={"Origin": "http://127.0.0.1:8000"})) is None
    assert policy.local_script(asking(keys_only=True)) is None
    assert policy.local_script(asking("/")) is None  # pages are a browser's


def test_a_keyless_cookieless_write_is_refused_with_a_hint() -> None:
    refused = policy.keyless_write(asking(method="POST"))
    assert isinstance(refused, Refusal) and refused.status == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="impasto"' and "curl -c jar" in refused.detail
    assert policy.keyless_write(asking(method="GET")) is None
    assert policy.keyless_write(asking("/", method="POST")) is None  # a page's form: a cookie is minted


def test_minting_is_bounded_per_address() -> None:
    minting = RateLimiter(0.001, 2)
    first, second = policy.mint(asking(), minting), policy.mint(asking(), minting)
    assert isinstance(first, Decided) and isinstance(second, Decided) and first.minted != second.minted
    refused = policy.mint(asking(), minting)
    assert isinstance(refused, Refusal) and refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    other = Asking("/", "GET", {}, "198.51.100.7", False, False)
    assert isinstance(policy.mint(other, minting), Decided)  # another address has its own


def test_a_cookie_write_from_a_browser_needs_its_csrf_token() -> None:
    owner = browser_owner(new_identity())
    post = asking(method="POST", headers={"Origin": "http://127.0.0.1:8000"})
    refused = policy.csrf(post, Decided(owner), IDS)
    assert isinstance(refused, Refusal) and refused.status == 403 and refused.code == "csrf"
    signed = asking(method="POST", headers={"Origin": "x", "X-CSRF-Token": IDS.csrf_token(owner)})
    assert policy.csrf(signed, Decided(owner), IDS) is None
    assert policy.csrf(asking(method="POST"), Decided(owner), IDS) is None  # a script with its cookie
    assert isinstance(policy.csrf(asking(method="POST", keys_only=True), Decided(owner), IDS), Refusal)
    assert policy.csrf(post, Decided(LOCAL), IDS) is None  # no ambient credential to borrow


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (asking(), "local"),
        (asking(method="POST", loopback=False), 401),
        (asking(loopback=False), "minted"),
        (asking(keys_only=True), 401),
        (asking("/api/v1/health", keys_only=True), "probe"),
        (asking("/", keys_only=True), "minted"),
    ],
)
def test_decide_composes_the_checks(case: Asking, expected: object) -> None:
    decided = policy.decide(case, None, None, IDS, plenty())
    if isinstance(expected, int):
        assert isinstance(decided, Refusal) and decided.status == expected
    elif expected == "local":
        assert isinstance(decided, Decided) and decided.owner is LOCAL and decided.minted is None
    elif expected == "probe":
        assert isinstance(decided, Decided) and decided.owner.via == "cookie" and decided.minted is None
    else:
        assert isinstance(decided, Decided) and decided.minted is not None


def test_decide_prefers_a_key_then_a_cookie() -> None:
    key_owner = browser_owner(new_identity())
    assert policy.decide(asking(keys_only=True), key_owner, "someone", IDS, plenty()) == Decided(key_owner)
    cookie = new_identity()
    decided = policy.decide(asking(keys_only=True), None, cookie, IDS, plenty())
    assert isinstance(decided, Decided) and decided.owner.id == browser_owner(cookie).id
    refusal = Refusal(401, "no", "unauthorized")
    assert policy.decide(asking(), refusal, cookie, IDS, plenty()) is refusal
