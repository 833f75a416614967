"""Owners (issue 13): two browsers and two API keys on one server see only their own jobs; an admin
key sees everything; revoked keys and keyless calls under IMPASTO_AUTH=keys get 401; share links
are read-only and revocable; forms need their CSRF token. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from support.fakes import FakeEngine
from support.images import png
from support.web import as_browser, client_for, csrf_token, wait_for

from impasto.cli import main as cli
from impasto.service.identity import owners
from impasto.service.identity.owners import load_secret
from impasto.web import server
from impasto.web.identity import NO_IDENTITY_DETAIL

PHOTO = base64.b64encode(png(color=(200, 120, 40))).decode()


def other(app_client: TestClient, **kwargs: Any) -> TestClient:
    """A second client (its own cookie jar) on the same running app."""
    return TestClient(app_client.app, base_url=str(app_client.base_url), **kwargs)


def make_job(client: TestClient, headers: dict[str, str] | None = None) -> str:
    r = client.post("/api/v1/jobs", json={"content": PHOTO, "style_name": "udnie"}, headers=headers)
    assert r.status_code == 201, r.text
    job_id: str = r.json()["jobs"][0]["id"]
    wait_for(client, job_id) if headers is None else None
    return job_id


def key(client: TestClient, name: str, admin: bool = False) -> dict[str, str]:
    _, secret = owners.create_key(client.app.state.runtime.db, name, admin=admin)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {secret}"}


def refused(client: TestClient, job_id: str, headers: dict[str, str] | None = None) -> dict[str, int]:
    """Every way of reaching the job, and what each answered."""
    h = headers or {}
    base = f"/api/v1/jobs/{job_id}"
    return {
        "read": client.get(base, headers=h).status_code,
        "photo": client.get(f"{base}/images/content", headers=h).status_code,
        "result": client.get(f"{base}/images/result", headers=h).status_code,
        "events": client.get(f"{base}/events", headers=h).status_code,
        "preview": client.get(f"{base}/previews/1", headers=h).status_code,
        "rate": client.put(f"{base}/rating", json={"rating": 1}, headers=h).status_code,
        "cancel": client.post(f"{base}/cancel", headers=h).status_code,
        "shares": client.post(f"{base}/shares", json={}, headers=h).status_code,
        "delete": client.delete(base, headers=h).status_code,
        "page": client.get(f"/jobs/{job_id}", headers=h).status_code,
        "result page": client.get(f"/jobs/{job_id}/result", headers=h).status_code,
    }


@pytest.fixture
def app_client(tmp_path: Path, db_url: str, engine: FakeEngine) -> Any:
    with client_for(tmp_path, db_url, engine) as c:
        yield c


def test_two_browsers_see_only_their_own_jobs(app_client: TestClient) -> None:
    alice, bob = as_browser(app_client), as_browser(other(app_client))
    assert alice.cookies.get("impasto_id") != bob.cookies.get("impasto_id")
    job = make_job(alice)
    assert set(refused(bob, job).values()) == {404}, refused(bob, job)
    assert bob.get("/api/v1/jobs").json()["jobs"] == []
    assert job not in bob.get("/history").text
    mine = alice.get("/api/v1/jobs").json()
    assert [j["id"] for j in mine["jobs"]] == [job] and mine["total"] == 1
    assert job in alice.get("/history").text
    assert alice.get(f"/api/v1/jobs/{job}/images/content").status_code == 200
    r = bob.post(f"/jobs/{job}/again", data={"size": "64"})
    assert r.status_code == 404  # "same again" of another's job: no such job
    assert alice.delete(f"/api/v1/jobs/{job}").status_code == 204


def test_a_forged_or_tampered_cookie_is_a_stranger(app_client: TestClient) -> None:
    alice = as_browser(app_client)
    job = make_job(alice)
    value = alice.cookies["impasto_id"]
    identity, _, signature = value.rpartition(".")
    for forged in (identity, f"{identity}.{signature[::-1]}", "x" + value[1:]):
        r = other(app_client, cookies={"impasto_id": forged}).get(f"/api/v1/jobs/{job}")
        assert r.status_code == 404
        fresh = r.headers["set-cookie"]  # a fresh identity of its own
        assert fresh.startswith("impasto_id=") and value not in fresh


def test_identity_cookie_is_signed_httponly_and_lax(app_client: TestClient) -> None:
    r = other(app_client).get("/")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("impasto_id=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here; https adds it
    again = other(app_client, cookies={"impasto_id": r.cookies["impasto_id"]}).get("/")
    assert "set-cookie" not in again.headers  # a valid cookie is kept, not replaced


def test_two_keys_and_an_admin(app_client: TestClient) -> None:
    one, two, admin = key(app_client, "one"), key(app_client, "two"), key(app_client, "boss", admin=True)
    scripts = other(app_client)  # one client, no cookies kept between keys' calls
    job = make_job(scripts, one)
    wait_for(other(app_client, headers=one), job)
    assert set(refused(other(app_client), job, two).values()) == {404}
    assert scripts.get("/api/v1/jobs", headers=two).json()["jobs"] == []
    browser = as_browser(other(app_client))
    browsers_job = make_job(browser)
    listed = {j["id"] for j in scripts.get("/api/v1/jobs", headers=admin).json()["jobs"]}
    assert {job, browsers_job} <= listed  # the admin sees everyone's
    assert scripts.get(f"/api/v1/jobs/{browsers_job}/images/content", headers=admin).status_code == 200
    assert scripts.delete(f"/api/v1/jobs/{browsers_job}", headers=admin).status_code == 204  # moderates
    assert browser.get(f"/api/v1/jobs/{browsers_job}").status_code == 404
    assert scripts.get(f"/api/v1/jobs/{job}", headers=one).status_code == 200


def test_revoked_or_wrong_keys_get_401(app_client: TestClient) -> None:
    headers = key(app_client, "temp")
    client = other(app_client)
    assert client.get("/api/v1/jobs", headers=headers).status_code == 200
    owners.revoke_key(app_client.app.state.runtime.db, "temp")  # type: ignore[attr-defined]
    for h in (headers, {"Authorization": "Bearer imp_made-up"}, {"Authorization": "Basic abc"}):
        r = client.get("/api/v1/jobs", headers=h)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["code"] == "unauthorized" and r.json()["detail"]


def test_keys_mode_refuses_keyless_api_calls(tmp_path: Path, db_url: str, engine: FakeEngine) -> None:
    with client_for(tmp_path, db_url, engine, auth="keys") as c:
        script = other(c, client=("127.0.0.1", 5000))  # not even the machine's own scripts
        r = script.post("/api/v1/jobs", json={"content": PHOTO, "style_name": "udnie"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert "API key" in r.json()["detail"]
        assert script.get("/api/v1/jobs").status_code == 401
        assert script.get("/api/v1/health").status_code == 200  # for load balancers
        spec = script.get("/api/v1/openapi.json").json()
        assert spec["paths"]["/api/v1/jobs"]["post"]["security"] == [{"APIKey": []}]  # a key required
        assert spec["paths"]["/api/v1/health"]["get"]["security"] == [{}]
        job = make_job(script, key(c, "ci"))
        assert script.get(f"/api/v1/jobs/{job}", headers=key(c, "other")).status_code == 404
        browser = as_browser(other(c))  # the pages still work: the browser's identity cookie
        assert browser.get("/api/v1/jobs").json()["jobs"] == []


def test_local_scripts_share_the_local_owner_in_the_default_mode(app_client: TestClient) -> None:
    """Keyless scripts on 127.0.0.1 (no cookie, no browser headers) are the machine's user; the same
    request from elsewhere, or with a browser's headers, gets an identity of its own."""
    one, two = other(app_client, client=("127.0.0.1", 1)), other(app_client, client=("::1", 2))
    job = make_job(one)
    one.cookies.clear()
    assert two.get(f"/api/v1/jobs/{job}").status_code == 200
    assert other(app_client, client=("203.0.113.9", 3)).get(f"/api/v1/jobs/{job}").status_code == 404
    browser = {"Sec-Fetch-Site": "same-origin"}
    assert (
        other(app_client, client=("127.0.0.1", 4)).get(f"/api/v1/jobs/{job}", headers=browser).status_code
        == 404
    )


def test_a_keyless_cookieless_script_behind_a_proxy_is_told_to_keep_a_cookie_or_use_a_key(
    app_client: TestClient,
) -> None:
    """Issue 22: such a script's job was created (201) for an identity nobody held, and every later
    call was a new stranger (404). Its writes are refused until it keeps the cookie or sends a key."""
    proxied = {"X-Forwarded-For": "198.51.100.7"}
    script = other(app_client, client=("10.0.0.2", 4000), headers=proxied)  # the proxy's address
    for method, path in (("POST", "/api/v1/jobs"), ("POST", "/api/v1/styles"), ("DELETE", "/api/v1/jobs/x")):
        r = script.request(method, path, json={"content": PHOTO, "style_name": "udnie"})
        assert r.status_code == 401, r.text
        assert r.json() == {"detail": NO_IDENTITY_DETAIL, "code": "unauthorized"}
        assert r.headers["www-authenticate"] == 'Bearer realm="impasto"'
        assert "set-cookie" not in r.headers
        script.cookies.clear()
    assert as_browser(app_client).get("/api/v1/jobs?limit=1").json()["total"] == 0  # nothing made
    assert script.get("/api/v1/jobs").status_code == 200  # a read sets the cookie; keep it ...
    job = make_job(script)  # ... and the job it makes is its own from then on
    assert script.get(f"/api/v1/jobs/{job}").json()["status"] == "succeeded"
    assert script.delete(f"/api/v1/jobs/{job}").status_code == 204
    keyed = other(app_client, client=("10.0.0.2", 4001), headers={**proxied, **key(app_client, "ci")})
    job = make_job(keyed)
    assert keyed.get(f"/api/v1/jobs/{job}").status_code == 200


def test_share_links_are_read_only_and_revocable(app_client: TestClient) -> None:
    alice = as_browser(app_client)
    job = make_job(alice)
    painting_only = alice.post(f"/api/v1/jobs/{job}/shares", json={}).json()
    with_photo = alice.post(f"/api/v1/jobs/{job}/shares", json={"include_photo": True}).json()
    assert len(painting_only["token"]) >= 32 and painting_only["url"] == f"/s/{painting_only['token']}"
    stranger = other(app_client)
    page = stranger.get(painting_only["url"])
    assert page.status_code == 200 and f"{painting_only['url']}/painting" in page.text
    assert "/photo" not in page.text and "csrf_token" not in page.text  # nothing to change there
    assert stranger.get(f"{painting_only['url']}/painting").headers["content-type"] == "image/png"
    assert stranger.get(f"{painting_only['url']}/photo").status_code == 404
    assert stranger.get(f"{with_photo['url']}/photo").status_code == 200
    assert stranger.get(f"/api/v1/jobs/{job}").status_code == 404  # the link opens nothing else
    assert stranger.post(f"{painting_only['url']}", data={}).status_code == 405
    assert stranger.delete(f"/api/v1/jobs/{job}/shares/{painting_only['token']}").status_code == 404
    assert [s["token"] for s in alice.get(f"/api/v1/jobs/{job}/shares").json()] == [
        painting_only["token"],
        with_photo["token"],
    ]
    assert alice.delete(f"/api/v1/jobs/{job}/shares/{painting_only['token']}").status_code == 204
    assert stranger.get(painting_only["url"]).status_code == 404
    assert stranger.get(f"{painting_only['url']}/painting").status_code == 404
    assert stranger.get(with_photo["url"]).status_code == 200  # the other link still works
    assert stranger.get("/s/not-a-token").status_code == 404


def test_shared_pictures_are_revalidated_so_a_revoke_holds_at_once(app_client: TestClient) -> None:
    """Issue 22: share images were cacheable for an hour (private, max-age=3600) after a revoke."""
    alice = as_browser(app_client)
    job = make_job(alice)
    link = alice.post(f"/api/v1/jobs/{job}/shares", json={"include_photo": True}).json()
    stranger, etags = other(app_client), {}
    for kind in ("painting", "photo"):
        first = stranger.get(f"{link['url']}/{kind}")
        assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
        etags[kind] = {"If-None-Match": first.headers["etag"]}
        assert stranger.get(f"{link['url']}/{kind}", headers=etags[kind]).status_code == 304  # cheap
    assert alice.delete(f"/api/v1/jobs/{job}/shares/{link['token']}").status_code == 204
    for kind in ("painting", "photo"):
        gone = stranger.get(f"{link['url']}/{kind}", headers=etags[kind])
        assert gone.status_code == 404 and "cache-control" not in gone.headers


def test_share_buttons_on_the_result_page(app_client: TestClient) -> None:
    alice = as_browser(app_client)
    job = make_job(alice)
    token = csrf_token(alice)
    r = alice.post(
        f"/jobs/{job}/share", data={"csrf_token": token, "include_photo": "on"}, follow_redirects=False
    )
    assert r.status_code == 303
    (share,) = alice.get(f"/api/v1/jobs/{job}/shares").json()
    assert share["include_photo"] is True and share["url"] in alice.get(f"/jobs/{job}/result").text
    revoke = f"/jobs/{job}/shares/{share['token']}/revoke"
    assert alice.post(revoke, data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert other(app_client).get(share["url"]).status_code == 404


def test_forms_need_their_csrf_token(app_client: TestClient) -> None:
    alice = other(app_client)
    token = csrf_token(alice)  # the page set the cookie and gave the token
    job = make_job(alice)
    for url, data in ((f"/jobs/{job}/rate", {"rating": "4"}), (f"/jobs/{job}/delete", {})):
        for wrong in ({}, {"csrf_token": "0" * 40}, {"csrf_token": csrf_token(other(app_client))}):
            r = alice.post(url, data={**data, **wrong}, follow_redirects=False)
            assert r.status_code == 403 and "reload the page" in r.text, (url, wrong)
    r = alice.post("/", data={"style_name": "udnie"}, files=[("content", ("a.png", png(), "image/png"))])
    assert r.status_code == 403 and alice.get("/api/v1/jobs").json()["total"] == 1
    ok = alice.post(f"/jobs/{job}/rate", data={"rating": "4", "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and alice.get(f"/api/v1/jobs/{job}").json()["rating"] == 4
    ok = alice.post(f"/jobs/{job}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and alice.get(f"/api/v1/jobs/{job}").status_code == 404


def test_the_pages_fetch_calls_need_the_token_header(app_client: TestClient) -> None:
    """A browser's cookie-identified API call (it has Origin/Sec-Fetch-Site) carries X-CSRF-Token;
    a key's call needs none."""
    alice = other(app_client)
    token = csrf_token(alice)
    job = make_job(alice)
    same = {"Sec-Fetch-Site": "same-origin"}
    r = alice.put(f"/api/v1/jobs/{job}/rating", json={"rating": 2}, headers=same)
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    r = alice.put(f"/api/v1/jobs/{job}/rating", json={"rating": 2}, headers={**same, "X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["rating"] == 2
    admin = key(app_client, "boss", admin=True)
    r = other(app_client).put(f"/api/v1/jobs/{job}/rating", json={"rating": 5}, headers={**same, **admin})
    assert r.status_code == 200


def test_openapi_declares_the_bearer_scheme(app_client: TestClient) -> None:
    spec = app_client.get("/api/v1/openapi.json").json()
    (scheme,) = spec["components"]["securitySchemes"].values()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/jobs"]["post"]["security"] == [{"APIKey": []}, {}]  # key optional


def test_the_secret_is_made_once_private_or_configured(tmp_path: Path) -> None:
    first = load_secret(None, tmp_path)
    assert load_secret(None, tmp_path) == first and len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode) == 0o600
    assert load_secret("a" * 40, tmp_path / "other") == "a" * 40
    with pytest.raises(Exception, match="at least 16"):
        load_secret("short", tmp_path)


def test_keys_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert cli(["keys", *data, "create", "ci", "--admin"]) == 0
    secret = capsys.readouterr().out.splitlines()[-1]
    assert secret.startswith("imp_") and len(secret) > 40
    assert cli(["keys", *data, "list"]) == 0
    listing = capsys.readouterr().out
    assert "ci" in listing and "admin" in listing and "active" in listing and secret not in listing
    assert secret not in (tmp_path / "impasto.db").read_bytes().decode("latin-1")  # hashed at rest
    assert cli(["keys", *data, "revoke", "ci"]) == 0
    assert cli(["keys", *data, "list"]) == 0 and "revoked" in capsys.readouterr().out
    assert cli(["keys", *data, "revoke", "nobody"]) == 2
    assert "no key named" in capsys.readouterr().err


def test_saved_styles_are_private_and_the_public_gallery_is_the_admins(
    tmp_path: Path, db_url: str, engine: FakeEngine
) -> None:
    def style(client: TestClient, name: str, headers: dict[str, str] | None = None) -> Any:
        body = {"name": name, "image": base64.b64encode(png(color=(9, 9, 250))).decode()}
        return client.post("/api/v1/styles", json=body, headers=headers)

    def names(client: TestClient, headers: dict[str, str] | None = None) -> set[str]:
        return {s["name"] for s in client.get("/api/v1/styles", headers=headers).json()}

    with client_for(tmp_path, db_url, engine, max_styles_per_owner=2) as c:
        alice, bob, admin = as_browser(c), as_browser(other(c)), key(c, "boss", admin=True)
        r = style(alice, "Alice blue")
        assert r.status_code == 201 and r.json()["public"] is False
        assert "alice-blue" in names(alice) and "alice-blue" not in names(bob)
        assert bob.get("/api/v1/styles/alice-blue/image").status_code == 404
        r = bob.post("/api/v1/jobs", json={"content": PHOTO, "style_name": "alice-blue"})
        assert r.status_code == 422 and "no style named" in r.json()["detail"]
        assert (
            alice.post("/api/v1/jobs", json={"content": PHOTO, "style_name": "alice-blue"}).status_code == 201
        )
        assert "alice-blue" not in bob.get("/").text  # nor on the create page
        r = style(other(c), "House style", admin)  # only an admin adds to what every visitor sees
        assert r.status_code == 201 and r.json()["public"] is True
        assert "house-style" in names(alice) and "house-style" in names(bob)
        assert "alice-blue" in names(other(c), admin)  # the admin sees everyone's
        # the quota: two saved styles each, then a clear 429, whichever way a style is saved
        assert style(alice, "Second").status_code == 201
        r = style(alice, "Third")
        assert r.status_code == 429 and "delete one" in r.json()["detail"]
        upload = {"content": PHOTO, "style": PHOTO, "save_style_as": "Fourth"}
        assert alice.post("/api/v1/jobs", json=upload).status_code == 429
        assert style(bob, "Bob's").status_code == 201  # per owner, not in all
        assert all(style(other(c), f"House {n}", admin).status_code == 201 for n in range(3))


def test_upgrading_keeps_old_jobs_local_and_old_styles_public(db_url: str) -> None:
    """Migration 0003 on a database with rows: the history stays the machine's user's, the styles
    everyone saw stay in the public gallery; then the whole chain goes down and up again."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from impasto.service.storage.db import MIGRATIONS, Database

    db = Database(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def to(revision: str, up: bool = True) -> None:
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, revision)

    to("0002")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, created_at, status, mode, content_sha, content_name, style_name,"
                " options, stage, fraction, attempts, cancel_requested) VALUES ('j1', :t, 'succeeded',"
                " 'fast', 'abc', 'photo', 'udnie', '{}', 'done', 1.0, 1, false)"
            ),
            {"t": "2026-01-01T00:00:00+00:00"},
        )
        conn.execute(
            text("INSERT INTO saved_styles (name, title, sha, created_at) VALUES ('old', 'Old', 'def', :t)"),
            {"t": "2026-01-01T00:00:00+00:00"},
        )
    to("head")
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT owner FROM jobs")).scalar_one() == "local"
        assert conn.execute(text("SELECT owner FROM saved_styles")).scalar_one() == "public"
    to("0002", up=False)
    to("head")
    db.dispose()


def test_one_owner_cannot_fill_the_queue(tmp_path: Path, db_url: str) -> None:
    held = FakeEngine()
    held.gate = threading.Event()  # nothing leaves the queue meanwhile
    photos = [("content", (f"p{i}.png", png(), "image/png")) for i in range(3)]
    try:
        with client_for(tmp_path, db_url, held, fast_workers=1, max_queued_per_owner=2) as c:
            alice, bob = as_browser(c), as_browser(other(c))
            r = alice.post("/api/v1/jobs", files=photos, data={"style_name": "udnie"})
            assert r.status_code == 429 and "wait for some to finish" in r.json()["detail"]
            assert int(r.headers["retry-after"]) > 0 and alice.get("/api/v1/jobs").json()["total"] == 0
            assert (
                alice.post("/api/v1/jobs", files=photos[:2], data={"style_name": "udnie"}).status_code == 201
            )
            r = bob.post("/api/v1/jobs", files=photos[:2], data={"style_name": "udnie"})
            assert r.status_code == 201  # per owner: the others still get in
            admin = key(c, "boss", admin=True)
            r = other(c).post("/api/v1/jobs", files=photos, data={"style_name": "udnie"}, headers=admin)
            assert r.status_code == 201
            held.gate.set()
    finally:
        held.gate.set()


def test_only_a_styles_owner_renames_or_deletes_it_and_the_public_ones_are_the_admins(
    app_client: TestClient,
) -> None:
    def style(client: TestClient, name: str, headers: dict[str, str] | None = None) -> None:
        body = {"name": name, "image": base64.b64encode(png(color=(9, 9, 250))).decode()}
        assert client.post("/api/v1/styles", json=body, headers=headers).status_code == 201

    alice, bob, admin = as_browser(app_client), as_browser(other(app_client)), key(app_client, "boss", True)
    style(alice, "Mine")
    style(other(app_client), "House", admin)
    for client in (bob,):  # another owner's style: as if it did not exist
        assert client.patch("/api/v1/styles/mine", json={"title": "Ours"}).status_code == 404
        assert client.delete("/api/v1/styles/mine").status_code == 404
        assert client.post("/styles/mine/delete", data={"csrf_token": csrf_token(client)}).status_code == 404
    for client in (alice, bob):  # the public gallery: visible, but the admin's to change
        r = client.patch("/api/v1/styles/house", json={"title": "Mine now"})
        assert r.status_code == 403 and "administrator" in r.json()["detail"]
        assert client.delete("/api/v1/styles/house").status_code == 403
    page = bob.get("/styles").text
    assert "house" in page and 'action="/styles/house/delete"' not in page  # shown, not editable
    assert alice.patch("/api/v1/styles/mine", json={"title": "Still mine"}).status_code == 200
    r = other(app_client).patch("/api/v1/styles/house", json={"title": "House style"}, headers=admin)
    assert r.status_code == 200 and r.json()["public"] is True
    assert other(app_client).delete("/api/v1/styles/mine", headers=admin).status_code == 204  # moderates
    assert alice.get("/api/v1/styles/mine/image").status_code == 404
    assert other(app_client).delete("/api/v1/styles/house", headers=admin).status_code == 204


def test_video_jobs_and_their_clips_are_their_owners(tmp_path: Path) -> None:
    from support.clips import make_clip, shapes

    clip = make_clip(tmp_path / "walk.mp4", [shapes(i) for i in range(3)]).read_bytes()
    with client_for(tmp_path, f"sqlite:///{tmp_path / 'v.db'}", None, fast_workers=0, quality_workers=0) as c:
        alice, bob = as_browser(c), as_browser(other(c))
        files = {"video": ("walk.mp4", clip, "video/mp4")}
        r = alice.post("/api/v1/videos", files=files, data={"style_name": "starry-night"})
        assert r.status_code == 201, r.text
        job = r.json()["id"]
        assert alice.get(f"/api/v1/jobs/{job}/video/source").status_code == 200
        for url in (f"/api/v1/jobs/{job}", f"/api/v1/jobs/{job}/video/source", f"/api/v1/jobs/{job}/video"):
            assert bob.get(url).status_code == 404, url
        fields = {"style_source": "gallery", "style_name": "starry-night"}
        refused = other(c).post("/video", data=fields, files=files)  # no identity, no token
        assert refused.status_code == 403


@pytest.mark.parametrize("trusted", [(), ("10.0.0.0/8",)])
def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    tmp_path: Path, db_url: str, engine: FakeEngine, trusted: tuple[str, ...]
) -> None:
    """Issue 22: 30 jobs, each with its own made-up X-Forwarded-For, were 30 clients to the rate
    limit. Only a proxy in IMPASTO_TRUSTED_PROXIES is believed (and then its own right-most entry,
    so what a client put before it does not count); from anyone else the header is ignored."""
    with client_for(
        tmp_path, db_url, engine, jobs_per_minute=0.01, jobs_burst=2, trusted_proxies=trusted
    ) as c:
        ci = key(c, "ci")  # one key for every call: the limit is per client address, not per key
        proxy = other(c, client=("10.0.0.2", 4000), headers=ci)

        def create(forwarded: str) -> int:
            body = {"content": PHOTO, "style_name": "udnie"}
            r = proxy.post("/api/v1/jobs", json=body, headers={"X-Forwarded-For": forwarded})
            status: int = r.status_code
            assert status == 201 or r.json()["code"] == "rate_limited", r.text
            return status

        made_up = [create(f"198.51.100.{n}") for n in range(1, 6)]
        if not trusted:  # all five are the proxy's one address: a burst of 2, then refused
            assert made_up == [201, 201, 429, 429, 429]
            # and uvicorn, which by default believes the header from 127.0.0.1, is told not to
            settings = c.app.state.runtime.settings  # type: ignore[attr-defined]
            assert server.config(c.app, settings, host="127.0.0.1", port=8200).proxy_headers is False
        else:  # five clients behind the proxy, each with a burst of its own ...
            assert made_up == [201] * 5
            # ... but a client's own X-Forwarded-For is only what comes before the proxy's entry
            assert [create(f"203.0.113.{n}, 198.51.100.1") for n in range(1, 4)] == [201, 429, 429]


def test_a_proxied_request_from_this_machine_is_not_the_local_owner(app_client: TestClient) -> None:
    """A reverse proxy on this machine relays everyone from 127.0.0.1: with its X-Forwarded-For (or
    Forwarded, X-Real-IP) a request is a stranger's, not the machine's own user's."""
    job = make_job(other(app_client, client=("127.0.0.1", 1)))
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        proxied = other(app_client, client=("127.0.0.1", 2), headers={header: "for=198.51.100.7"})
        assert proxied.post(f"/api/v1/jobs/{job}/cancel").json()["detail"] == NO_IDENTITY_DETAIL
        assert proxied.get(f"/api/v1/jobs/{job}").status_code == 404
    assert other(app_client, client=("127.0.0.1", 3)).get(f"/api/v1/jobs/{job}").status_code == 200


def test_in_keys_mode_a_pages_cookie_opens_the_api_only_as_the_pages_use_it(
    tmp_path: Path, db_url: str, engine: FakeEngine
) -> None:
    """Issue 22: a keyless script that first loaded `/` could create and read jobs through /api/v1
    with the cookie alone. As the README says: the pages stay open to anyone; with their cookie the
    API reads that identity's own jobs, and writes only with the page's CSRF token."""
    with client_for(tmp_path, db_url, engine, auth="keys") as c:
        script = other(c, client=("203.0.113.9", 5000))
        assert script.get("/").status_code == 200  # the pages: open, and they set the cookie
        assert script.get("/api/v1/jobs").json() == {"jobs": [], "total": 0}  # its own: none
        body = {"content": PHOTO, "style_name": "udnie"}
        r = script.post("/api/v1/jobs", json=body)
        assert r.status_code == 403, r.text
        assert r.json() == {
            "detail": "missing or wrong CSRF token: reload the page and try again",
            "code": "csrf",
        }
        assert script.get("/api/v1/jobs").json()["total"] == 0
        page = as_browser(script)  # what the pages' scripts send: the cookie and its token
        job = make_job(page)
        assert page.get(f"/api/v1/jobs/{job}").json()["status"] == "succeeded"


def test_a_rename_never_reaches_another_owners_jobs(app_client: TestClient) -> None:
    """Issue 22: B saved `monet-x` (picture P), painted with it, deleted it; A saved P as `monet-x`
    and renamed it: B's job and history showed A's private new name. A job keeps the name it was
    painted with; the renamer's own jobs follow the rename (their history, issue 14)."""
    picture = base64.b64encode(png(color=(20, 90, 160))).decode()
    alice, bob = as_browser(app_client), as_browser(other(app_client))
    assert bob.post("/api/v1/styles", json={"name": "Monet X", "image": picture}).json()["name"] == "monet-x"
    bobs = bob.post("/api/v1/jobs", json={"content": PHOTO, "style_name": "monet-x"}).json()["jobs"][0]["id"]
    assert bob.delete("/api/v1/styles/monet-x").status_code == 204
    assert alice.post("/api/v1/styles", json={"name": "Monet X", "image": picture}).status_code == 201
    alices = alice.post("/api/v1/jobs", json={"content": PHOTO, "style_name": "monet-x"}).json()["jobs"][0][
        "id"
    ]
    assert alice.patch("/api/v1/styles/monet-x", json={"name": "alices-secret"}).status_code == 200
    assert bob.get(f"/api/v1/jobs/{bobs}").json()["style_name"] == "monet-x"
    assert bob.get("/api/v1/jobs?style=alices-secret").json()["jobs"] == []
    assert "alices-secret" not in bob.get("/history").text
    assert alice.get(f"/api/v1/jobs/{alices}").json()["style_name"] == "alices-secret"


def test_style_uploads_are_rate_limited_per_client_not_per_cookie(
    tmp_path: Path, db_url: str, engine: FakeEngine
) -> None:
    """Issue 22: style saves had no rate limit (53 in 1.3 s), and the per-owner quota started again
    with each cookie. They now count against the client's job rate limit, whatever its identity."""
    picture = base64.b64encode(png(color=(20, 90, 160))).decode()
    with client_for(tmp_path, db_url, engine, jobs_per_minute=0.01, jobs_burst=2) as c:
        said = []
        for n in range(3):
            fresh = as_browser(other(c, client=("198.51.100.7", 5000 + n)))  # a new cookie each time
            r = fresh.post("/api/v1/styles", json={"name": f"Mine {n}", "image": picture})
            said.append((r.status_code, r.json().get("code")))
        assert said == [(201, None), (201, None), (429, "rate_limited")]
        assert r.json()["detail"].startswith("too many style uploads: try again in ")
        admin = other(c, client=("198.51.100.7", 6000), headers=key(c, "boss", admin=True))
        assert admin.post("/api/v1/styles", json={"name": "Public", "image": picture}).status_code == 201


def test_new_identities_are_limited_per_address_so_quotas_do_not_restart_with_each_cookie(
    tmp_path: Path, db_url: str, engine: FakeEngine
) -> None:
    """Issue 22: per-owner quotas started again for each cookie minted by `GET /`. An address gets
    a bounded number of new identities; one that keeps its cookie is never refused for it."""
    with client_for(tmp_path, db_url, engine, identities_per_hour=0.01, identities_burst=3) as c:
        # c kept the cookie of its first GET: that was the address's first new identity
        said = []
        for n in range(3):
            fresh = other(c, client=("testclient", 7000 + n))  # same address, no cookie each time
            r = fresh.get("/")
            said.append((r.status_code, "set-cookie" in r.headers))
        assert said == [(200, True), (200, True), (429, False)]
        assert r.json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) > 0
        assert r.json()["detail"].startswith("too many new visitors from your address: keep the cookie")
        elsewhere = other(c, client=("198.51.100.9", 7100))  # another address: its own allowance
        assert elsewhere.get("/").status_code == 200
        assert c.get("/").status_code == 200 and c.get("/history").status_code == 200  # kept cookie


def test_uploads_and_style_saves_stop_at_the_storage_budget(
    tmp_path: Path, db_url: str, engine: FakeEngine
) -> None:
    """Issue 22: disk use was bounded only by patience. Past IMPASTO_MAX_STORE_BYTES new pictures
    get a 507 that says why; nothing is stored, smaller uploads that fit still go, and what was
    stored is still served."""
    import io

    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 255, (160, 160, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG")
    big = base64.b64encode(buffer.getvalue()).decode()  # ~77 KB of incompressible pixels
    with client_for(tmp_path, db_url, engine, max_store_bytes=40_000) as c:
        store = c.app.state.runtime.store  # type: ignore[attr-defined]
        first = make_job(c)  # small pictures fit
        used = store.used_bytes()
        full = c.post("/api/v1/jobs", json={"content": big, "style_name": "udnie"})
        assert full.status_code == 507, full.text
        assert full.json()["code"] == "storage_full"
        assert full.json()["detail"].startswith("the server's picture storage is full (")
        style = c.post("/api/v1/styles", json={"name": "Noise", "image": big})
        assert (style.status_code, style.json()["code"]) == (507, "storage_full")
        assert store.used_bytes() == used  # nothing kept of the refused uploads
        assert c.get(f"/api/v1/jobs/{first}/images/content").status_code == 200
        make_job(c)  # what fits still goes


def test_style_names_are_per_owner_so_a_private_name_is_never_revealed(app_client: TestClient) -> None:
    """Issue 22: saving a name another owner keeps privately answered 409, which told the asker that
    it exists. Names are per owner now: both owners get 201 and each sees, paints and renames their
    own; built-in and public names stay taken for everyone (everyone sees them)."""
    red, blue = (base64.b64encode(png(color=c)).decode() for c in ((220, 20, 20), (20, 20, 220)))
    alice, bob, admin = as_browser(app_client), as_browser(other(app_client)), key(app_client, "boss", True)
    for who, picture in ((alice, red), (bob, blue)):
        r = who.post("/api/v1/styles", json={"name": "Monet X", "image": picture})
        assert r.status_code == 201 and r.json()["name"] == "monet-x", r.text
    own = {who: who.get("/api/v1/styles/monet-x/image").content for who in (alice, bob)}
    assert own[alice] == base64.b64decode(red) and own[bob] == base64.b64decode(blue)
    thumbs = {who: who.get("/api/v1/styles/monet-x/image?thumb=64") for who in (alice, bob)}  # Alice's first
    colours = {
        who: Image.open(io.BytesIO(r.content)).convert("RGB").getpixel((5, 5)) for who, r in thumbs.items()
    }
    red_one, blue_one = colours[alice], colours[bob]
    assert isinstance(red_one, tuple) and isinstance(blue_one, tuple)
    assert red_one[0] > 150 and blue_one[2] > 150  # each their own: no cache keyed by the name
    assert thumbs[alice].headers["etag"] != thumbs[bob].headers["etag"]
    for who, color in ((alice, "red"), (bob, "blue")):  # a job by name paints with one's own
        r = who.post("/api/v1/jobs", json={"content": PHOTO, "style_name": "monet-x"})
        job = wait_for(who, r.json()["jobs"][0]["id"])
        picture = who.get(f"/api/v1/jobs/{job['id']}/images/style").content
        assert picture == own[who], color
    # a rename to a name the other owner keeps privately: allowed, and only the renamer's row moves
    assert alice.post("/api/v1/styles", json={"name": "Second", "image": red}).status_code == 201
    assert bob.post("/api/v1/styles", json={"name": "Second", "image": blue}).status_code == 201
    assert alice.patch("/api/v1/styles/monet-x", json={"name": "renamed"}).status_code == 200
    assert bob.patch("/api/v1/styles/second", json={"name": "renamed"}).status_code == 200
    assert alice.patch("/api/v1/styles/second", json={"name": "renamed"}).status_code == 409  # her own
    assert {s["name"] for s in bob.get("/api/v1/styles").json() if not s["builtin"]} == {"monet-x", "renamed"}
    # names everyone sees stay taken for everyone
    assert alice.post("/api/v1/styles", json={"name": "Udnie", "image": red}).status_code == 409
    r = other(app_client).post("/api/v1/styles", json={"name": "House", "image": red}, headers=admin)
    assert r.status_code == 201 and r.json()["public"] is True
    assert bob.post("/api/v1/styles", json={"name": "House", "image": blue}).status_code == 409
    # the admin's public gallery may take a name someone keeps privately: their own still wins for them
    r = other(app_client).post("/api/v1/styles", json={"name": "Monet X", "image": blue}, headers=admin)
    assert r.status_code == 201
    assert bob.get("/api/v1/styles/monet-x/image").content == own[bob]
    assert alice.delete("/api/v1/styles/renamed").status_code == 204  # hers, not Bob's
    assert bob.get("/api/v1/styles/renamed/image").status_code == 200


def test_upgrading_to_names_per_owner_keeps_every_style(db_url: str) -> None:
    """Migration 0005 on a database with styles of several owners: every row survives, and two
    owners may then keep the same name; down and up again."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from impasto.service.storage.db import MIGRATIONS, Database

    db = Database(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def to(revision: str, up: bool = True) -> None:
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.upgrade if up else command.downgrade)(cfg, revision)

    insert = text(
        "INSERT INTO saved_styles (name, title, sha, created_at, owner) VALUES (:n, :n, 'abc', :t, :o)"
    )
    to("0004")
    with db.engine.begin() as conn:
        for name, owner in (("old", "public"), ("mine", "c:alice")):
            conn.execute(insert, {"n": name, "o": owner, "t": "2026-01-01T00:00:00+00:00"})
    to("head")
    with db.engine.begin() as conn:
        rows = conn.execute(text("SELECT owner, name FROM saved_styles ORDER BY name")).all()
        assert [tuple(r) for r in rows] == [("c:alice", "mine"), ("public", "old")]
        conn.execute(insert, {"n": "mine", "o": "c:bob", "t": "2026-01-02T00:00:00+00:00"})
        assert conn.execute(text("SELECT count(*) FROM saved_styles WHERE name = 'mine'")).scalar_one() == 2
        conn.execute(text("DELETE FROM saved_styles WHERE owner = 'c:bob'"))
    to("0004", up=False)
    to("head")
    db.dispose()
