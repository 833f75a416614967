"""The HTML pages over plain forms (no JavaScript): create, job, result, rate, again, history, delete."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from support.fakes import FakeEngine
from support.images import jpeg, png
from support.web import as_browser, client_for, forms_without_token, wait_for


@pytest.fixture
def client(tmp_path: Path, engine: FakeEngine) -> Any:
    with client_for(tmp_path, f"sqlite:///{tmp_path / 'web.db'}", engine) as c:
        as_browser(c)
        c.post(
            "/api/v1/styles",
            json={"name": "Blue", "image": base64.b64encode(png(color=(9, 9, 250))).decode()},
        )
        yield c


def create(client: TestClient, **fields: str) -> Any:
    data = {
        "style_source": "gallery",
        "style_name": "blue",
        "mode": "fast",
        "size": "256",
        "strength": "0.8",
        "preserve_color": "none",
        "balance": "balanced",
        "iterations": "",
    }
    data.update(fields)
    return client.post(
        "/", files=[("content", ("holiday.png", png(), "image/png"))], data=data, follow_redirects=False
    )


def test_create_page_shows_the_gallery_and_good_defaults(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert 'name="content"' in html and "multiple" in html and 'name="content_url"' in html
    assert 'value="blue"' in html and "/api/v1/styles/blue/image?thumb=160" in html
    assert re.search(r'name="mode" value="fast"\s+checked', html)
    assert 'src="/static/app.js' in html
    assert client.get("/static/app.css").status_code == 200


def test_form_to_job_to_result_to_rating_to_history(client: TestClient, engine: FakeEngine) -> None:
    r = create(client)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job_id = r.headers["location"].rsplit("/", 1)[1]
    assert engine.calls == [] or engine.calls[0]["strength"] == 0.8
    job_page = client.get(f"/jobs/{job_id}")
    assert (
        job_page.status_code == 200
        and f'data-job="{job_id}"' in job_page.text
        and "Holiday in the style of <b>Blue</b>" in job_page.text  # titles, not file names or slugs
    )
    wait_for(client, job_id)
    assert engine.calls[0]["strength"] == 0.8 and engine.calls[0]["size"] == 256
    result = client.get(f"/jobs/{job_id}/result")
    assert result.status_code == 200
    for needle in (
        "images/result?format=png&amp;download=true",
        "images/result?format=jpeg&amp;download=true",
        'id="divider"',
        'name="rating"',
        "Same again with",
    ):
        assert needle in result.text, needle
    assert forms_without_token(result.text) == [] and forms_without_token(client.get("/").text) == []
    r = client.post(f"/jobs/{job_id}/rate", data={"rating": "4"}, follow_redirects=False)
    assert r.status_code == 303 and client.get(f"/api/v1/jobs/{job_id}").json()["rating"] == 4
    history = client.get("/history")
    assert job_id in history.text and "★★★★☆" in history.text
    assert job_id in client.get("/history?rating=4&style=blue").text
    assert job_id not in client.get("/history?rating=5").text
    assert job_id not in client.get("/history?style=other").text
    r = client.post(
        f"/jobs/{job_id}/again",
        data={
            "mode": "quality",
            "size": "384",
            "balance": "style",
            "iterations": "7",
            "strength": "1",
            "preserve_color": "none",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    again_id = r.headers["location"].rsplit("/", 1)[1]
    again = wait_for(client, again_id)
    assert again["parent_id"] == job_id and again["mode"] == "quality"
    assert again["options"] == {
        "mode": "quality",
        "size": 384,
        "preserve_color": "none",
        "iterations": 7,
        "style_weight": 30.0,
    }
    r = client.post(f"/jobs/{job_id}/delete", follow_redirects=False)
    assert r.status_code == 303 and client.get(f"/api/v1/jobs/{job_id}").status_code == 404


def test_uploaded_style_can_be_saved_and_quality_options_apply(
    client: TestClient, engine: FakeEngine
) -> None:
    r = client.post(
        "/",
        files=[("content", ("a.png", png(), "image/png")), ("style", ("s.png", png(), "image/png"))],
        data={
            "style_source": "upload",
            "style_name": "blue",
            "save": "on",
            "save_style_as": "My Sky",
            "mode": "quality",
            "size": "256",
            "strength": "0.3",
            "balance": "photo",
            "iterations": "9",
            "preserve_color": "histogram",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    job = wait_for(client, r.headers["location"].rsplit("/", 1)[1])
    assert job["style_name"] == "my-sky" and job["options"]["style_weight"] == 3.0
    assert "strength" not in engine.calls[0] and engine.calls[0]["iterations"] == 9
    assert "my-sky" in client.get("/").text


def test_several_photos_go_to_history(client: TestClient) -> None:
    files = [("content", (f"p{i}.png", png(), "image/png")) for i in range(3)]
    r = client.post("/", files=files, data={"style_name": "blue"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/history?created=3"
    assert "3 paintings started" in client.get(r.headers["location"]).text


@pytest.mark.parametrize(
    "fields, files, message",
    [
        ({"style_name": "blue"}, [], "choose a photo"),
        ({"style_name": "nope"}, None, "no style named"),
        ({"style_source": "upload"}, None, "choose a style"),
        ({"style_name": "blue", "size": "5"}, None, "size"),
        ({"style_name": "blue"}, [("content", ("x.png", b"not an image", "image/png"))], "not an image"),
        ({"style_name": "blue", "content_url": "http://10.0.0.1/x.png"}, [], "private"),
    ],
)
def test_form_errors_are_friendly_messages(
    client: TestClient, fields: dict[str, str], files: Any, message: str
) -> None:
    files = [("content", ("a.png", png(), "image/png"))] if files is None else files
    r = client.post("/", files=files or None, data=fields, follow_redirects=False)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]  # the form, refused
    assert 'role="alert"' in r.text and message in r.text.lower(), r.text[:2000]
    assert "Turn a photo into a painting" in r.text  # the form again, not a bare error


def test_missing_pages_and_jobs_are_friendly_404s(client: TestClient) -> None:
    for url in ("/jobs/nope", "/jobs/nope/result", "/no/such/page"):
        r = client.get(url)
        assert r.status_code == 404 and "text/html" in r.headers["content-type"] and "Not found" in r.text
    assert client.post("/jobs/nope/rate", data={"rating": "3"}).status_code == 404


def test_unfinished_job_result_redirects_to_progress(client: TestClient, engine: FakeEngine) -> None:
    import threading

    engine.gate = threading.Event()
    job_id = create(client).headers["location"].rsplit("/", 1)[1]
    r = client.get(f"/jobs/{job_id}/result", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/jobs/{job_id}"
    assert client.post(f"/jobs/{job_id}/cancel", follow_redirects=False).status_code == 303
    engine.gate.set()
    job = wait_for(client, job_id)
    assert job["status"] == "cancelled" and job["error"] is None  # asked for: not an error
    page = client.get(f"/jobs/{job_id}").text
    assert '<h1 id="heading">Cancelled</h1>' in page and "Stopped before it started." in page
    assert "Painting…" not in page and re.search(r'<p class="error"[^>]*hidden', page)


def test_pages_send_security_headers(client: TestClient) -> None:
    r = client.get("/")
    assert (
        r.headers["x-content-type-options"] == "nosniff"
        and "default-src 'self'" in r.headers["content-security-policy"]
    )
    assert client.post("/", data={}, headers={"Origin": "https://evil.example"}).status_code == 403


def test_a_too_large_upload_gets_the_form_back_with_a_message(tmp_path: Path, engine: FakeEngine) -> None:
    """Pages read the body up to the limit and answer in HTML; the API answers 413 in JSON at once."""
    db = f"sqlite:///{tmp_path / 'big.db'}"
    with client_for(tmp_path, db, engine, max_request_bytes=200_000) as c:
        photo = ("content", ("big.png", b"\x89PNG" + b"0" * 300_000, "image/png"))
        r = c.post("/", files=[photo], data={"style_source": "gallery", "style_name": "blue"})
        assert r.status_code == 413 and "text/html" in r.headers["content-type"]
        assert 'role="alert"' in r.text and "larger than" in r.text
        assert "Turn a photo into a painting" in r.text  # the form again, not a bare error
        api = c.post("/api/v1/jobs", files=[photo], data={"style_name": "blue"})
        assert api.status_code == 413 and api.json()["code"] == "too_large"


def _visible_text(html: str) -> str:
    """The page without its URLs and form values (where slugs belong)."""
    return re.sub(r'\s(href|src|value|action|data-[a-z-]+)="[^"]*"', "", html)


def test_pages_show_titles_not_slugs(client: TestClient) -> None:
    files = [("content", ("IMG_2041.jpg", png(), "image/jpeg")), ("style", ("s.png", png(), "image/png"))]
    data = {"style_source": "upload", "save": "on", "save_style_as": "Matisse hat", "style_name": ""}
    saved = client.post("/", files=files, data=data, follow_redirects=False).headers["location"]
    job = wait_for(client, saved.rsplit("/", 1)[1])
    assert job["style_name"] == "matisse-hat"  # the slug stays in the API and in URLs
    data = {"style_source": "upload", "style_name": ""}
    files = [("content", ("image.png", png(), "image/png")), ("style", ("s.png", png(), "image/png"))]
    once = client.post("/", files=files, data=data, follow_redirects=False).headers["location"]
    wait_for(client, once.rsplit("/", 1)[1])
    pages = {
        "job": client.get(saved).text,
        "result": client.get(f"{saved}/result").text,
        "history": client.get("/history").text,
        "create": client.get("/").text,
    }
    for name, html in pages.items():
        text = _visible_text(html)
        assert "Matisse hat" in text and "matisse-hat" not in text, name
        assert ">upload<" not in text, name
    assert "IMG 2041 in the style of <b>Matisse hat</b>" in pages["job"]
    assert "Your photo in the style of <b>your picture</b>" in client.get(once).text


def test_api_docs_and_icon_are_served_from_the_package(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", docs.text)
    assert urls and all(not u.startswith(("http:", "https:", "//")) for pair in urls for u in pair if u)
    assert "cdn" not in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        r = client.get(f"/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000, asset
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_fast_mode_defaults_to_the_photos_size_and_takes_a_brush(
    client: TestClient, engine: FakeEngine
) -> None:
    assert 'name="brush"' in client.get("/").text
    r = create(client, size="", brush="0.3")
    assert r.status_code == 303
    wait_for(client, r.headers["location"].rsplit("/", 1)[1])
    assert engine.calls[0]["size"] is None and engine.calls[0]["brush"] == 0.3


def test_job_options_size_and_brush() -> None:
    from pydantic import ValidationError

    from impasto.service.jobs.pictures import JobOptions

    assert "size" not in JobOptions().engine_kwargs()
    assert JobOptions(size=300).engine_kwargs()["size"] == 300
    assert JobOptions(brush="broad").engine_kwargs()["brush"] == "broad"
    assert "brush" not in JobOptions(mode="quality", brush="broad").engine_kwargs()
    for bad in ({"brush": "huge"}, {"brush": 1.5}, {"brush": -1}):
        with pytest.raises(ValidationError):
            JobOptions.model_validate(bad)


def test_quality_from_the_page_takes_the_time_its_size_needs_and_the_chosen_style_match(
    client: TestClient, engine: FakeEngine
) -> None:
    """No time budget from the page (a budget too short for the size paints a faint picture): the
    size select says what each size takes on this server instead."""
    r = create(client, mode="quality", style_loss="sliced")
    assert r.status_code == 303, r.text
    wait_for(client, r.headers["location"].rsplit("/", 1)[1])
    assert "time_budget" not in engine.calls[0] and engine.calls[0]["style_loss"] == "sliced"
    page = client.get("/").text
    assert re.search(r'data-quality="1024 px · ~\d+ (s|min)"', page)
    assert re.search(r"data-quality=\"the photo's · ~\d+ (s|min)\"", page)
    r = create(client, mode="quality", iterations="7")  # asked for iterations: no time budget
    wait_for(client, r.headers["location"].rsplit("/", 1)[1])
    assert engine.calls[1]["iterations"] == 7 and "time_budget" not in engine.calls[1]
    assert 'name="style_loss"' in client.get("/").text
    r = create(client, mode="fast", style_loss="w2")  # the page sends every field; fast takes its own
    wait_for(client, r.headers["location"].rsplit("/", 1)[1])
    assert "style_loss" not in engine.calls[2] and "time_budget" not in engine.calls[2]


def test_a_running_job_page_says_painting_once(client: TestClient, engine: FakeEngine) -> None:
    import threading

    engine.gate = threading.Event()
    job_id = create(client).headers["location"].rsplit("/", 1)[1]
    wait_for(client, job_id, ("running",))
    page = client.get(f"/jobs/{job_id}").text
    assert page.count("Painting…") == 2  # the <title> and the heading, not again on the line below
    assert re.search(r'<span id="say">(Getting ready…|\d+ % done)</span>', page), page
    engine.gate.set()
    wait_for(client, job_id)


def test_an_error_about_a_file_keeps_the_files_own_name(client: TestClient) -> None:
    """The page capitalises the first letter of a sentence, not of a file name that opens it."""
    files = [("content", ("notaphoto.jpg", b"shopping list", "image/jpeg"))]
    r = client.post("/", files=files, data={"style_name": "blue"}, follow_redirects=False)
    assert r.status_code == 422
    assert "notaphoto.jpg: not an image" in r.text and "Notaphoto.jpg" not in r.text
    r = client.post("/", data={"style_name": "blue"}, follow_redirects=False)
    assert ">Choose a photo" in r.text  # a sentence still starts with a capital


def test_a_sketch_is_painted_at_once_and_is_no_job(tmp_path: Path, engine: FakeEngine) -> None:
    """Create's style strip: the photo painted small in a gallery style, even with no worker free
    (here: none at all), so it never waits behind the queue's paintings; nothing is kept."""
    from fastapi.testclient import TestClient

    from impasto.service.config import Settings
    from impasto.web import create_app

    config = Settings(data_dir=tmp_path / "data", allowed_hosts=("testserver",))
    with TestClient(create_app(config, stylize=engine, workers=False)) as client:
        bare = client.post("/sketches/starry-night", content=jpeg(400, 300))
        assert bare.status_code == 403  # no CSRF token: not from the page
        as_browser(client)
        r = client.post("/sketches/starry-night", content=jpeg(400, 300))
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
        assert Image.open(io.BytesIO(r.content)).size == (192, 144)
        assert engine.calls[-1]["mode"] == "fast" and engine.calls[-1]["style"] == "starry-night"
        assert client.get("/api/v1/jobs").json()["total"] == 0
        assert client.post("/sketches/no-such-style", content=jpeg()).status_code == 404
        assert client.post("/sketches/udnie", content=b"shopping list").status_code == 422
        assert client.post("/sketches/udnie", content=b"\xff" * (600 * 1024)).status_code == 413


def test_a_fast_painting_is_redone_in_place_with_another_strength(
    client: TestClient, engine: FakeEngine
) -> None:
    job_id = create(client).headers["location"].rsplit("/", 1)[1]
    assert wait_for(client, job_id)["status"] == "succeeded"
    page = client.get(f"/jobs/{job_id}/result").text
    assert 'action="/jobs/' + job_id + '/strength"' in page
    json = {"accept": "application/json"}
    r = client.post(f"/jobs/{job_id}/strength", data={"strength": "0.3"}, headers=json)
    assert r.status_code == 200 and r.json()["strength"] == 0.3, r.text
    assert engine.calls[-1]["strength"] == 0.3 and engine.calls[-1]["mode"] == "fast"
    job = client.get(f"/api/v1/jobs/{job_id}").json()  # the same job: its link and history entry
    assert job["options"]["strength"] == 0.3 and job["status"] == "succeeded"
    assert client.get("/api/v1/jobs").json()["total"] == 1
    plain = client.post(f"/jobs/{job_id}/strength", data={"strength": "0.6"}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/jobs/{job_id}/result"
    for bad in ("2", "nan", "x"):
        assert client.post(f"/jobs/{job_id}/strength", data={"strength": bad}).status_code == 422


def test_a_flood_of_sketches_is_told_to_come_back(tmp_path: Path, engine: FakeEngine) -> None:
    """Sketches run one at a time; a few may wait (each holds a server thread), more get a 503."""
    import threading
    import time

    from fastapi.testclient import TestClient

    from impasto.service.config import Settings
    from impasto.service.intake import sketch
    from impasto.web import create_app

    engine.gate = threading.Event()
    config = Settings(data_dir=tmp_path / "data", allowed_hosts=("testserver",))
    with TestClient(create_app(config, stylize=engine, workers=False)) as client:
        as_browser(client)
        answers: list[int] = []
        post = lambda: answers.append(client.post("/sketches/udnie", content=jpeg()).status_code)  # noqa: E731
        waiting = [threading.Thread(target=post) for _ in range(4)]
        for thread in waiting:
            thread.start()
        deadline = time.monotonic() + 30
        while sketch._waiting._value > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        r = client.post("/sketches/udnie", content=jpeg())
        assert r.status_code == 503 and "Retry-After" in r.headers
        engine.gate.set()
        for thread in waiting:
            thread.join(30)
        assert answers == [200] * 4
