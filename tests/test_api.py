"""REST API v1: every endpoint and its errors, on SQLite and PostgreSQL, with a fake engine."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from support.fakes import FakeEngine
from support.images import jpeg, png
from support.web import client_for, wait_for

from impasto.quality import engine as engine_module


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def upload(
    client: TestClient, *, photos: list[bytes] | None = None, style: bytes | None = None, **fields: Any
) -> Any:
    files = [("content", (f"p{i}.png", p, "image/png")) for i, p in enumerate(photos or [png()])]
    if style is not None:
        files.append(("style", ("s.png", style, "image/png")))
    return client.post("/api/v1/jobs", files=files, data={k: str(v) for k, v in fields.items()})


def save_style(client: TestClient, name: str = "Blue Period") -> str:
    r = client.post("/api/v1/styles", json={"name": name, "image": b64(png(color=(20, 40, 200)))})
    assert r.status_code == 201, r.text
    return str(r.json()["name"])


@pytest.fixture
def client(tmp_path: Path, db_url: str, engine: FakeEngine) -> Any:
    with client_for(tmp_path, db_url, engine) as c:
        yield c


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/api/v1/health").json()["status"] == "ok"
    ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "store": True, "workers": True}


def test_multipart_job_runs_to_a_result_with_events_and_images(
    client: TestClient, engine: FakeEngine
) -> None:
    r = upload(client, style=png(color=(10, 200, 10)), mode="fast", size=96, strength=0.5)
    assert r.status_code == 201, r.text
    job = r.json()["jobs"][0]
    assert r.headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["style_name"] == "upload" and job["content_name"] == "p0.png"
    done = wait_for(client, job["id"])
    assert done["status"] == "succeeded", done
    assert done["result"] == {"width": 96, "height": 72} and done["fraction"] == 1.0 and done["attempts"] == 1
    assert engine.calls[0]["strength"] == 0.5 and engine.calls[0]["mode"] == "fast"
    assert isinstance(engine.calls[0]["style"], bytes)
    assert engine.calls[0]["max_pixels"] == 40_000_000  # the service's limit, passed, not via the env

    with client.stream("GET", f"/api/v1/jobs/{job['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = stream.read().decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    kinds = [e.get("kind") for e in events[:-1]]
    assert kinds[0] == "status" and "stage" in kinds and "iteration" in kinds and "preview" in kinds
    assert kinds[-2:] == ["done", "status"] and events[-2]["status"] == "succeeded"
    assert "event: end" in text
    preview = next(e for e in events if e.get("kind") == "preview")
    pic = client.get(preview["url"])
    assert pic.status_code == 200 and pic.headers["content-type"] == "image/jpeg"

    # resume after an event id: only later events
    last_ids = [e["id"] for e in events if "id" in e]
    with client.stream(
        "GET", f"/api/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(last_ids[-2])}
    ) as s:
        resumed = [json.loads(x[6:]) for x in s.read().decode().splitlines() if x.startswith("data: ")]
    assert [e.get("id") for e in resumed[:-1]] == [last_ids[-1]]

    for kind, mime in [
        ("content", "image/png"),
        ("style", "image/png"),
        ("result", "image/png"),
        ("preview", "image/jpeg"),
    ]:
        r = client.get(f"/api/v1/jobs/{job['id']}/images/{kind}")
        assert r.status_code == 200 and r.headers["content-type"] == mime, kind
        Image.open(io.BytesIO(r.content)).verify()
    full = client.get(f"/api/v1/jobs/{job['id']}/images/result?format=jpeg&download=true")
    assert full.headers["content-type"] == "image/jpeg"
    # the name says what it is: the photo, the style (an upload: "own-style"), the mode
    assert full.headers["content-disposition"] == 'attachment; filename="p0-own-style-fast.jpg"'
    assert Image.open(io.BytesIO(full.content)).size == (96, 72)
    thumb = client.get(f"/api/v1/jobs/{job['id']}/images/content?thumb=32")
    assert Image.open(io.BytesIO(thumb.content)).size[0] == 32
    cached = client.get(
        f"/api/v1/jobs/{job['id']}/images/result", headers={"If-None-Match": full.headers["etag"]}
    )
    assert cached.status_code == 200  # different variant: not the JPEG's tag
    same = client.get(f"/api/v1/jobs/{job['id']}/images/result")
    assert (
        client.get(
            f"/api/v1/jobs/{job['id']}/images/result", headers={"If-None-Match": same.headers["etag"]}
        ).status_code
        == 304
    )


def test_json_job_with_gallery_style_and_quality_options(client: TestClient, engine: FakeEngine) -> None:
    name = save_style(client)
    body = {
        "content": "data:image/jpeg;base64," + b64(jpeg()),
        "style_name": name,
        "mode": "quality",
        "size": 80,
        "iterations": 4,
        "style_weight": 20.0,
        "preserve_color": "luminance",
    }
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job = wait_for(client, r.json()["jobs"][0]["id"])
    assert job["status"] == "succeeded" and job["style_name"] == "blue-period"
    call = engine.calls[-1]
    assert call["iterations"] == 4 and call["style_weight"] == 20.0 and call["preserve_color"] == "luminance"
    assert "strength" not in call
    style = client.get(f"/api/v1/jobs/{job['id']}/images/style")
    assert style.status_code == 200


def test_a_quality_budget_too_short_for_the_size_is_refused_up_front(
    client: TestClient, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a machine as slow as this (the probe's figure fixed), 30 s cannot pay for a 1024 px
    painting: 422 at once, with the time it needs and a size that fits; no job is created."""
    monkeypatch.setattr(engine_module, "seconds_per_unit", lambda _encoder, _opts: 1e-5)
    photo = png(800, 600)
    body = {"content": "data:image/png;base64," + b64(photo), "style_name": "starry-night", "mode": "quality"}
    r = client.post("/api/v1/jobs", json={**body, "size": 1024, "time_budget": 30})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert re.fullmatch(
        r"a 1024×768 painting needs at least (\d+ min )?\d+ s on this machine \(about (\d+ min )?\d+ s "
        r"as planned\), more than "
        r"the time budget of 30 s: give it more time, or choose \d+ px or less",
        detail,
    ), detail
    assert client.get("/api/v1/jobs").json()["jobs"] == [] and engine.calls == []
    r = client.post("/api/v1/jobs", json={**body, "size": 512, "time_budget": 30})  # fits: painted
    assert r.status_code == 201, r.text
    assert wait_for(client, r.json()["jobs"][0]["id"])["status"] == "succeeded"


def test_several_photos_make_several_jobs_and_list_filters(client: TestClient) -> None:
    r = upload(client, photos=[png(), jpeg(), png(32, 32)], style=png(color=(9, 9, 200)))
    ids = [j["id"] for j in r.json()["jobs"]]
    assert r.status_code == 201 and len(ids) == 3
    for job_id in ids:
        wait_for(client, job_id)
    listing = client.get("/api/v1/jobs").json()
    assert listing["total"] == 3 and [j["id"] for j in listing["jobs"]] == ids[::-1]  # newest first
    client.put(f"/api/v1/jobs/{ids[0]}/rating", json={"rating": 5})
    client.put(f"/api/v1/jobs/{ids[1]}/rating", json={"rating": 2})
    assert [j["id"] for j in client.get("/api/v1/jobs?min_rating=4").json()["jobs"]] == [ids[0]]
    assert client.get("/api/v1/jobs?status=succeeded&style=upload").json()["total"] == 3
    assert client.get("/api/v1/jobs?style=nope").json()["total"] == 0
    page = client.get("/api/v1/jobs?limit=1&offset=1").json()
    assert [j["id"] for j in page["jobs"]] == [ids[1]] and page["total"] == 3
    assert client.get("/api/v1/jobs?limit=0").status_code == 422
    assert client.get("/api/v1/jobs?status=bogus").status_code == 422


def test_rating(client: TestClient, engine: FakeEngine) -> None:
    job = wait_for(client, upload(client, style=png()).json()["jobs"][0]["id"])
    for stars in (1, 5):
        r = client.put(f"/api/v1/jobs/{job['id']}/rating", json={"rating": stars})
        assert r.status_code == 200 and r.json()["rating"] == stars
    assert client.put(f"/api/v1/jobs/{job['id']}/rating", json={"rating": None}).json()["rating"] is None
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "x"}, {}, {"rating": 3, "extra": 1}):
        assert client.put(f"/api/v1/jobs/{job['id']}/rating", json=bad).status_code == 422, bad
    assert client.put("/api/v1/jobs/nope/rating", json={"rating": 3}).status_code == 404
    engine.gate = threading.Event()
    pending = upload(client, style=png()).json()["jobs"][0]["id"]
    r = client.put(f"/api/v1/jobs/{pending}/rating", json={"rating": 3})
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    engine.gate.set()


def test_cancel_queued_and_running_jobs(tmp_path: Path, db_url: str) -> None:
    engine = FakeEngine(steps=50)
    engine.gate = threading.Event()
    with client_for(tmp_path, db_url, engine, fast_workers=1) as client:
        first = upload(client, style=png()).json()["jobs"][0]["id"]
        second = upload(client, style=png()).json()["jobs"][0]["id"]
        wait_for(client, first, ("running",))
        r = client.post(f"/api/v1/jobs/{second}/cancel")
        assert r.status_code == 202 and r.json()["status"] == "cancelled"
        assert r.json()["error"] is None  # a cancel the user asked for is a state, not an error
        r = client.post(f"/api/v1/jobs/{first}/cancel")
        assert r.status_code == 202
        cancelled = wait_for(client, first)
        assert cancelled["status"] == "cancelled" and cancelled["error"] is None
        assert client.post(f"/api/v1/jobs/{first}/cancel").status_code == 409
        assert client.post("/api/v1/jobs/nope/cancel").status_code == 404


def test_delete_removes_job_and_unshared_images(tmp_path: Path, db_url: str, engine: FakeEngine) -> None:
    with client_for(tmp_path, db_url, engine) as client:
        shared_photo = png(40, 40, (1, 2, 3))
        a = wait_for(
            client, upload(client, photos=[shared_photo], style=png(color=(5, 5, 5))).json()["jobs"][0]["id"]
        )
        b = wait_for(
            client, upload(client, photos=[shared_photo], style=png(color=(6, 6, 6))).json()["jobs"][0]["id"]
        )
        blobs = tmp_path / "data" / "blobs"
        before = {p.name for p in blobs.rglob("*") if p.is_file() and not p.name.startswith(".")}
        assert client.delete(f"/api/v1/jobs/{a['id']}").status_code == 204
        assert client.get(f"/api/v1/jobs/{a['id']}").status_code == 404
        after = {p.name for p in blobs.rglob("*") if p.is_file() and not p.name.startswith(".")}
        assert after < before
        from impasto.cache import sha256_bytes

        assert sha256_bytes(shared_photo) in after  # still used by job b
        assert client.get(f"/api/v1/jobs/{b['id']}/images/content").status_code == 200
        assert client.delete(f"/api/v1/jobs/{a['id']}").status_code == 404
        engine.gate = threading.Event()
        running = upload(client, style=png()).json()["jobs"][0]["id"]
        wait_for(client, running, ("running",))
        assert client.delete(f"/api/v1/jobs/{running}").status_code == 409
        engine.gate.set()


@pytest.mark.parametrize(
    "body, status",
    [
        ({"style_name": "x"}, 422),  # no photo
        ({"content": "AAAA"}, 422),  # no style
        ({"content": "not base64!!", "style_name": "x"}, 422),
        ({"content": b64(b"plain text, not an image"), "style": b64(png())}, 422),
        ({"content": b64(png()), "style": b64(b"GIF89a broken")}, 422),
        ({"content": b64(png()), "style_name": "no-such-style"}, 422),
        ({"content": b64(png()), "style": b64(png()), "style_name": "x"}, 422),
        ({"content": b64(png()), "content_url": "http://example.com/a.png", "style": b64(png())}, 422),
        ({"content": b64(png()), "style": b64(png()), "size": 10}, 422),
        ({"content": b64(png()), "style": b64(png()), "size": 99999}, 422),
        ({"content": b64(png()), "style": b64(png()), "mode": "slow"}, 422),
        ({"content": b64(png()), "style": b64(png()), "strength": 2}, 422),
        ({"content": b64(png()), "style": b64(png()), "bogus": 1}, 422),
        ({"content": b64(png()), "style_name": "x", "save_style_as": "n"}, 422),
        ({"content": 5, "style": b64(png())}, 422),
    ],
)
def test_bad_json_jobs_are_4xx(client: TestClient, body: dict[str, Any], status: int) -> None:
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == status, r.text
    assert "detail" in r.json()


def test_bad_requests_are_4xx_not_500(tmp_path: Path, db_url: str, engine: FakeEngine) -> None:
    with client_for(
        tmp_path, db_url, engine, max_request_bytes=200_000, max_image_bytes=100_000, max_pixels=10_000
    ) as client:
        assert (
            client.post(
                "/api/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        assert client.post("/api/v1/jobs", json=[1, 2]).status_code == 422
        assert (
            client.post("/api/v1/jobs", content=b"x", headers={"content-type": "text/plain"}).status_code
            == 422
        )
        assert (
            client.post(
                "/api/v1/jobs",
                content=b"--x\r\nbroken",
                headers={"content-type": "multipart/form-data; boundary=x"},
            ).status_code
            == 422
        )
        big = client.post(
            "/api/v1/jobs", content=b"0" * 300_000, headers={"content-type": "application/json"}
        )
        assert big.status_code == 413 and big.json()["code"] == "too_large"
        r = upload(client, photos=[png(200, 200)], style=png())  # 40 000 px over the 10 000 px limit
        assert r.status_code == 422 and "megapixels" in r.json()["detail"]
        r = upload(client, photos=[b""], style=png())
        assert r.status_code == 422 and "photo" in r.json()["detail"]
        r = client.post(
            "/api/v1/jobs",
            files=[("content", ("x.png", png(), "image/png"))],
            data={"style_name": "nope", "evil": "1"},
        )
        assert r.status_code == 422 and "unknown field" in r.json()["detail"]
        r = client.post(
            "/api/v1/jobs",
            files=[("content", ("../../etc/passwd", b"\x89PNG\r\n\x1a\n junk", "image/png"))],
            data={"style_name": "x"},
        )
        assert r.status_code == 422
        assert client.get("/api/v1/jobs/nope").status_code == 404
        assert client.get("/api/v1/jobs/nope/images/result").status_code == 404
        assert client.get("/api/v1/jobs/nope/images/weird").status_code == 422
        assert client.get("/api/v1/jobs/nope/previews/1").status_code == 404
        assert client.get("/api/v1/jobs/nope/events").status_code == 404
        assert client.get("/api/v1/nothing-here").status_code == 404
        engine.gate = threading.Event()
        pending = upload(client, style=png()).json()["jobs"][0]["id"]
        assert client.get(f"/api/v1/jobs/{pending}/images/result").status_code == 404
        engine.gate.set()


def test_client_file_names_never_reach_paths(client: TestClient, tmp_path: Path) -> None:
    r = client.post(
        "/api/v1/jobs",
        files=[
            ("content", ("../../escape.png", png(), "image/png")),
            ("style", ("..\\s.png", png(), "image/png")),
        ],
    )
    assert r.status_code == 201
    name = r.json()["jobs"][0]["content_name"]
    assert name == "escape.png" and "/" not in name
    assert not list(tmp_path.rglob("escape.png")) and not list(tmp_path.rglob("s.png"))


def test_failed_jobs_report_why(client: TestClient) -> None:
    bad = wait_for(client, upload(client, style=png(color=(0, 0, 0))).json()["jobs"][0]["id"])
    assert bad["status"] == "failed" and bad["error"] == "style picture is all black"
    bug = wait_for(client, upload(client, style=png(color=(255, 255, 255))).json()["jobs"][0]["id"])
    assert bug["status"] == "failed" and bug["error"].startswith("internal error (RuntimeError)")


def test_rate_limit_per_client(tmp_path: Path, db_url: str, engine: FakeEngine) -> None:
    with client_for(tmp_path, db_url, engine, jobs_per_minute=1.0, jobs_burst=2) as client:
        assert upload(client, style=png()).status_code == 201
        assert upload(client, style=png()).status_code == 201
        r = upload(client, style=png())
        assert (
            r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["code"] == "rate_limited"
        )
        assert client.get("/api/v1/jobs").status_code == 200  # reads are not limited


def test_stylize_sync_async_and_errors(client: TestClient) -> None:
    r = client.post("/api/v1/stylize", json={"content": b64(png()), "style": b64(png()), "size": 64})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["format"] == "png" and out["width"] == 64 and out["job"]["status"] == "succeeded"
    assert Image.open(io.BytesIO(base64.b64decode(out["image"]))).size == (64, 48)
    r = client.post("/api/v1/stylize", json={"content": b64(png()), "style": b64(png()), "format": "jpeg"})
    assert Image.open(io.BytesIO(base64.b64decode(r.json()["image"]))).format == "JPEG"
    r = client.post("/api/v1/stylize", json={"content": b64(png()), "style": b64(png()), "mode": "quality"})
    assert r.status_code == 202 and r.headers["location"].startswith("/api/v1/jobs/")
    assert wait_for(client, r.json()["id"])["status"] == "succeeded"
    r = client.post(
        "/api/v1/stylize",
        json={"content": b64(png()), "style": b64(png()), "mode": "quality", "wait": True, "size": 70},
    )
    assert r.status_code == 200 and r.json()["width"] == 70
    r = client.post("/api/v1/stylize", json={"content": b64(png()), "style": b64(png(color=(0, 0, 0)))})
    assert r.status_code == 422 and "black" in r.json()["detail"]
    assert client.post("/api/v1/stylize", json={"style": b64(png())}).status_code == 422
    assert (
        client.post(
            "/api/v1/stylize", json={"content": b64(png()), "content_url": "http://x/", "style": b64(png())}
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/stylize", json={"content": b64(png()), "style": b64(png()), "format": "gif"}
        ).status_code
        == 422
    )


def test_gallery_styles(client: TestClient) -> None:
    before = client.get("/api/v1/styles").json()
    name = save_style(client, "Blue Period")
    assert name == "blue-period"
    styles = client.get("/api/v1/styles").json()
    assert len(styles) == len(before) + 1
    mine = styles[-1]
    assert mine == {
        "name": "blue-period",
        "title": "Blue Period",
        "builtin": False,
        "public": False,  # a private style of this client's (only an admin adds public ones)
        "image_url": "/api/v1/styles/blue-period/image",
        "thumbnail_url": "/api/v1/styles/blue-period/image?thumb=160",
    }
    assert client.get(mine["image_url"]).headers["content-type"] == "image/png"
    assert client.get(mine["thumbnail_url"]).headers["content-type"] == "image/jpeg"
    r = client.post("/api/v1/styles", files={"image": ("x.jpg", jpeg(), "image/jpeg")}, data={"name": "Sea"})
    assert r.status_code == 201 and r.json()["name"] == "sea"
    assert (
        client.post("/api/v1/styles", json={"name": "blue period!", "image": b64(png())}).status_code == 409
    )
    assert client.post("/api/v1/styles", json={"name": "!!!", "image": b64(png())}).status_code == 422
    assert client.post("/api/v1/styles", json={"name": "ok", "image": b64(b"nope")}).status_code == 422
    assert client.post("/api/v1/styles", json={"name": "ok"}).status_code == 422
    assert client.post("/api/v1/styles", files={"image": ("x.jpg", jpeg(), "image/jpeg")}).status_code == 422
    assert client.get("/api/v1/styles/nope/image").status_code == 404
    # an uploaded style saved while creating a job
    r = upload(client, style=png(color=(90, 10, 90)), save_style_as="Purple")
    assert r.status_code == 201 and r.json()["jobs"][0]["style_name"] == "purple"
    assert any(s["name"] == "purple" for s in client.get("/api/v1/styles").json())


def test_cross_site_posts_are_refused(client: TestClient) -> None:
    r = client.post("/api/v1/stylize", json={}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert client.get("/api/v1/health", headers={"Origin": "https://evil.example"}).status_code == 200


def test_openapi_document(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}",
        "/api/v1/jobs/{job_id}/events",
        "/api/v1/jobs/{job_id}/cancel",
        "/api/v1/jobs/{job_id}/rating",
        "/api/v1/jobs/{job_id}/images/{kind}",
        "/api/v1/styles",
        "/api/v1/stylize",
        "/api/v1/health",
        "/api/v1/health/ready",
    ]:
        assert path in paths, path
    assert set(paths["/api/v1/jobs"]["post"]["requestBody"]["content"]) == {
        "application/json",
        "multipart/form-data",
    }
    assert client.get("/docs").status_code == 200


def _create_n(client: TestClient, n: int, mode: str = "fast") -> Any:
    photos = [("content", (f"p{i}.png", png(40, 30, (i, 2, 3)), "image/png")) for i in range(n)]
    return client.post(
        "/api/v1/jobs", files=[*photos, ("style", ("s.png", png(), "image/png"))], data={"mode": mode}
    )


def test_a_full_queue_refuses_more_with_retry_after(tmp_path: Path, db_url: str) -> None:
    held = FakeEngine()
    held.gate = threading.Event()  # nothing finishes: the queue only grows
    with client_for(tmp_path, db_url, held, fast_workers=1, max_queued=3, max_queued_quality=1) as client:
        wait_for(client, _create_n(client, 1).json()["jobs"][0]["id"], ("running",))
        assert _create_n(client, 3).status_code == 201  # three waiting: the limit
        full = _create_n(client, 1)
        assert full.status_code == 503 and full.headers["retry-after"] == "60"
        assert "queue is full" in full.json()["detail"]
        assert _create_n(client, 1, "quality").status_code == 503  # the total counts for every mode
        held.gate.set()


def test_quality_jobs_have_a_queue_limit_of_their_own(tmp_path: Path, db_url: str) -> None:
    held = FakeEngine()
    held.gate = threading.Event()
    with client_for(tmp_path, db_url, held, max_queued=10, max_queued_quality=1) as client:
        wait_for(client, _create_n(client, 1, "quality").json()["jobs"][0]["id"], ("running",))
        assert _create_n(client, 1, "quality").status_code == 201  # one quality job waiting: the limit
        crowded = _create_n(client, 1, "quality")
        assert crowded.status_code == 503 and "fast mode" in crowded.json()["detail"]
        assert _create_n(client, 1).status_code == 201  # fast jobs still go
        held.gate.set()


def test_a_queued_job_says_exactly_how_many_are_ahead(tmp_path: Path, db_url: str) -> None:
    held = FakeEngine()
    held.gate = threading.Event()
    with client_for(tmp_path, db_url, held, fast_workers=1) as client:
        running = _create_n(client, 1).json()["jobs"][0]["id"]
        wait_for(client, running, ("running",))
        queued = [j["id"] for j in _create_n(client, 3).json()["jobs"]]
        quality = _create_n(client, 1, "quality").json()["jobs"][0]["id"]
        assert [client.get(f"/api/v1/jobs/{i}").json()["ahead"] for i in queued] == [0, 1, 2]
        assert client.get(f"/api/v1/jobs/{running}").json()["ahead"] is None  # only while queued
        wait_for(client, quality, ("running",))  # its own workers: fast jobs are not ahead of it
        client.post(f"/api/v1/jobs/{queued[0]}/cancel")
        assert client.get(f"/api/v1/jobs/{queued[2]}").json()["ahead"] == 1
        held.gate.set()


def test_the_openapi_stylize_example_is_a_request_that_runs(client: TestClient) -> None:
    """Swagger UI's "Try it out" sends the schema's example as it is: it must paint something."""
    schema = client.get("/api/v1/openapi.json").json()
    assert '<a href="/"' in client.get("/docs").text  # and the docs lead back to the app
    example = schema["components"]["schemas"]["StylizeRequest"]["examples"][0]
    assert example["content"] != "string" and "size" not in example and "iterations" not in example
    r = client.post("/api/v1/stylize", json=example)
    assert r.status_code == 200, r.text
    painted = Image.open(io.BytesIO(base64.b64decode(r.json()["image"])))
    assert painted.size == (96, 64)  # fast mode paints at the photo's own size


def _mask(size: tuple[int, int], box: tuple[float, float, float, float]) -> bytes:
    """A white rectangle (fractions of the picture) on black, as PNG."""
    from PIL import ImageDraw

    width, height = size
    img = Image.new("L", size, 0)
    if box[2] > box[0] and box[3] > box[1]:
        ImageDraw.Draw(img).rectangle(
            (box[0] * width, box[1] * height, box[2] * width - 1, box[3] * height - 1), fill=255
        )
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_regions_in_json_and_multipart_reach_the_engine_checked_and_small(
    client: TestClient, engine: FakeEngine
) -> None:
    """Issue 25: regions through the REST API, as Base64 masks in JSON and as files in multipart;
    masks are checked against the photo when the job is created and kept as small PNGs."""
    photo = png(1600, 1200)
    left = _mask((3200, 2400), (0, 0, 0.5, 1))  # twice the photo's size: resized
    body = {
        "content": "data:image/png;base64," + b64(photo),
        "style_name": "starry-night",
        "regions": [
            {"mask": b64(left), "style": "the-scream"},
            {"mask": b64(_mask((80, 60), (0.6, 0.2, 0.9, 0.8))), "style": "keep"},
        ],
    }
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job_id = r.json()["jobs"][0]["id"]
    wait_for(client, job_id)
    for page in (f"/jobs/{job_id}", f"/jobs/{job_id}/result"):  # both say which regions were used
        html = client.get(page, follow_redirects=True).text
        assert "region 1: The Scream" in html and "region 2: the photo kept" in html, page
    regions = engine.calls[-1]["regions"]
    assert [style for _, style in regions] == ["the-scream", "keep"]
    first = Image.open(io.BytesIO(regions[0][0]))
    assert first.mode == "L" and first.size == (1024, 768)  # kept small, the photo's shape
    assert np.asarray(first)[:, :500].min() > 200 and np.asarray(first)[:, 524:].max() < 50
    files = [
        ("content", ("p.png", photo, "image/png")),
        ("region_mask", ("left.png", left, "image/png")),
    ]
    data = {"style_name": "starry-night", "region_style": "great-wave"}
    r = client.post("/api/v1/jobs", files=files, data=data)
    assert r.status_code == 201, r.text
    wait_for(client, r.json()["jobs"][0]["id"])
    assert [style for _, style in engine.calls[-1]["regions"]] == ["great-wave"]


@pytest.mark.parametrize(
    ("region", "said"),
    [
        ({"mask": "not base64!", "style": "keep"}, "not valid Base64"),
        ({"mask": b64(b"plain text"), "style": "keep"}, "region 1's mask"),
        ({"mask": b64(_mask((80, 60), (0, 0, 0, 0))), "style": "keep"}, "empty: it has no white"),
        ({"mask": b64(_mask((60, 80), (0, 0, 1, 1))), "style": "keep"}, "this one is refused"),
        ({"mask": b64(_mask((80, 60), (0, 0, 1, 1))), "style": "no-such-painting"}, "neither a built-in"),
    ],
)
def test_bad_regions_are_refused_when_the_job_is_created(
    client: TestClient, engine: FakeEngine, region: dict[str, str], said: str
) -> None:
    body = {"content": b64(png(80, 60)), "style_name": "starry-night", "regions": [region]}
    r = client.post("/api/v1/jobs", json=body)
    assert r.status_code == 422, r.text
    assert said in json.dumps(r.json()["detail"]), r.json()
    assert engine.calls == [] and client.get("/api/v1/jobs").json()["jobs"] == []


def test_a_job_with_regions_paints_them(tmp_path: Path, db_url: str) -> None:
    """The real fast engine behind the API: the left half in The Scream's colours, the rest in
    The Starry Night's."""
    import impasto

    photo = png(96, 64, (128, 128, 128))
    with client_for(tmp_path, db_url, impasto.stylize) as c:
        body = {
            "content": b64(photo),
            "style_name": "starry-night",
            "regions": [{"mask": b64(_mask((96, 64), (0, 0, 0.5, 1))), "style": "the-scream"}],
        }
        r = c.post("/api/v1/jobs", json=body)
        assert r.status_code == 201, r.text
        job = wait_for(c, r.json()["jobs"][0]["id"])
        assert job["status"] == "succeeded", job
        out = np.asarray(
            Image.open(io.BytesIO(c.get(f"/api/v1/jobs/{job['id']}/images/result").content)), float
        )
    left, right = out[:, :40].reshape(-1, 3).mean(0), out[:, 56:].reshape(-1, 3).mean(0)
    assert left[0] - left[2] > right[0] - right[2] + 20  # the Scream's side is redder, the other bluer


def test_an_option_added_to_the_engines_schema_reaches_the_api(
    client: TestClient, engine: FakeEngine
) -> None:
    """style_scale became an API option by one line in QualityOptions (api=True): the REST schema
    describes it with the engine's help and range, refuses what the engine refuses, and the job
    hands it to the engine."""
    described = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["StylizeRequest"]
    field = described["properties"]["style_scale"]
    assert field["description"].startswith("quality mode: size the style is seen at")
    assert field["anyOf"][0]["minimum"] == 0.05 and field["anyOf"][0]["maximum"] == 8
    body = {"content": b64(png()), "style_name": "udnie", "mode": "quality"}
    assert client.post("/api/v1/jobs", json={**body, "style_scale": 9}).status_code == 422
    r = client.post("/api/v1/jobs", json={**body, "style_scale": 0.5, "iterations": 2})
    assert r.status_code == 201, r.text
    wait_for(client, r.json()["jobs"][0]["id"])
    assert engine.calls[-1]["style_scale"] == 0.5
    fast = client.post("/api/v1/jobs", json={**body, "mode": "fast", "style_scale": 0.5})
    assert fast.status_code == 201, fast.text
    wait_for(client, fast.json()["jobs"][0]["id"])
    assert engine.calls[-1]["mode"] == "fast" and "style_scale" not in engine.calls[-1]  # quality's only
