"""Over-sized pictures and empty bodies through every web entry (issue 22).

Each class of :data:`support.hostile.OVERSIZED` (a 1-bit PNG bomb, headers declaring 12000x9000 up
to 2^31 x 1 or 100000x100000 in PNG, JPEG, GIF, BMP, TIFF and WebP) sent as a photo, a style, a
gallery upload, a URL import, a page form and a clip's style gets the very message the CLI and the
Python API give for the same file (:func:`impasto.imageio.load_image`), as a 422 JSON error (an
HTML page for the form), with nothing stored and nothing logged as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.clips import make_clip, shapes
from support.fakes import FakeEngine
from support.hostile import OVERSIZED
from support.images import b64, png
from support.web import client_for, csrf_token

from impasto.errors import ImageError
from impasto.imageio import load_image
from impasto.service.guards.urlfetch import UrlFetcher

MAX_PIXELS = 40_000_000  # the service's default


class Serves(UrlFetcher):
    """A URL fetcher that answers every URL with the same bytes (no network)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = b""

    def fetch(self, url: str) -> bytes:
        return self.data


@pytest.fixture(scope="module")
def fetcher() -> Serves:
    return Serves()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-images")


@pytest.fixture(scope="module")
def client(folder: Path, fetcher: Serves) -> Iterator[TestClient]:
    """One server for the module: every request here must leave it as it was (see nothing_stored)."""
    db = f"sqlite:///{folder / 'images.db'}"
    with client_for(folder, db, FakeEngine(), fetcher=fetcher, max_pixels=MAX_PIXELS) as c:
        yield c


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    return make_clip(path, [shapes(i) for i in range(4)]).read_bytes()


def cli_says(data: bytes, label: str) -> str:
    """What ``impasto stylize`` and ``impasto.stylize`` say of the same file."""
    with pytest.raises(ImageError) as refused:
        load_image(data, limit=MAX_PIXELS, name=label)
    return str(refused.value)


Send = Callable[[TestClient, bytes, Any], Any]


def _api_json_photo(c: TestClient, data: bytes, _: Any) -> Any:
    return c.post("/api/v1/jobs", json={"content": b64(data), "style_name": "udnie"})


def _api_json_style(c: TestClient, data: bytes, _: Any) -> Any:
    return c.post("/api/v1/jobs", json={"content": b64(png()), "style": b64(data)})


def _api_multipart_photo(c: TestClient, data: bytes, _: Any) -> Any:
    files = {"content": ("big.png", data, "image/png")}
    return c.post("/api/v1/jobs", files=files, data={"style_name": "udnie"})


def _api_multipart_style(c: TestClient, data: bytes, _: Any) -> Any:
    files = [("content", ("p.png", png(), "image/png")), ("style", ("s.png", data, "image/png"))]
    return c.post("/api/v1/jobs", files=files)


def _api_stylize(c: TestClient, data: bytes, _: Any) -> Any:
    return c.post("/api/v1/stylize", json={"content": b64(data), "style_name": "udnie"})


def _api_stylize_style(c: TestClient, data: bytes, _: Any) -> Any:
    return c.post("/api/v1/stylize", json={"content": b64(png()), "style": b64(data)})


def _api_gallery_json(c: TestClient, data: bytes, _: Any) -> Any:
    return c.post("/api/v1/styles", json={"name": "Big", "image": b64(data)})


def _api_gallery_multipart(c: TestClient, data: bytes, _: Any) -> Any:
    return c.post("/api/v1/styles", files={"image": ("s.png", data, "image/png")}, data={"name": "Big"})


def _api_url_import(c: TestClient, data: bytes, fetcher: Any) -> Any:
    fetcher.data = data
    return c.post("/api/v1/jobs", json={"content_url": "http://photos.test/big.png", "style_name": "udnie"})


def _api_video_style(c: TestClient, data: bytes, clip: Any) -> Any:
    files = {"video": ("c.mp4", clip, "video/mp4"), "style": ("s.png", data, "image/png")}
    return c.post("/api/v1/videos", files=files)


ROUTES: dict[str, tuple[Send, str]] = {  # how it is sent, and the label the message names it by
    "jobs json photo": (_api_json_photo, "photo"),
    "jobs json style": (_api_json_style, "style picture"),
    "jobs multipart photo": (_api_multipart_photo, "big.png"),
    "jobs multipart style": (_api_multipart_style, "style picture"),
    "stylize photo": (_api_stylize, "photo"),
    "stylize style": (_api_stylize_style, "style picture"),
    "styles json": (_api_gallery_json, "style picture"),
    "styles multipart": (_api_gallery_multipart, "style picture"),
    "jobs url import": (_api_url_import, "big.png"),
    "videos style": (_api_video_style, "style picture"),
}


def nothing_stored(client: TestClient, folder: Path) -> None:
    assert client.get("/api/v1/jobs").json()["jobs"] == []
    assert [s["name"] for s in client.get("/api/v1/styles").json() if not s["builtin"]] == []
    blobs = folder / "data" / "blobs"
    assert not blobs.exists() or [p for p in blobs.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("picture", list(OVERSIZED))
def test_oversized_pictures_get_the_clis_message_through_every_route(
    client: TestClient,
    fetcher: Serves,
    clip: bytes,
    folder: Path,
    caplog: pytest.LogCaptureFixture,
    route: str,
    picture: str,
) -> None:
    send, label = ROUTES[route]
    data = OVERSIZED[picture][0]()
    extra = fetcher if route == "jobs url import" else clip
    with caplog.at_level(logging.WARNING):
        r = send(client, data, extra)
    assert r.status_code == 422, r.text
    assert r.json() == {"detail": cli_says(data, label), "code": "invalid"}
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR] == []
    nothing_stored(client, folder)


@pytest.mark.parametrize("picture", list(OVERSIZED))
def test_oversized_pictures_on_the_page_form(
    client: TestClient, folder: Path, caplog: pytest.LogCaptureFixture, picture: str
) -> None:
    data = OVERSIZED[picture][0]()
    fields = {"csrf_token": csrf_token(client), "style_name": "udnie", "mode": "fast"}
    with caplog.at_level(logging.WARNING):
        r = client.post("/", files={"content": ("big.png", data, "image/png")}, data=fields)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    said = cli_says(data, "big.png")
    assert f'id="form-error" >{escape(said)}</p>' in r.text  # a file name keeps its case
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR] == []
    nothing_stored(client, folder)


EMPTY = "the body is empty: send a JSON object (or a multipart form)"


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/styles"])
@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_an_empty_json_body_is_a_422_that_says_so(client: TestClient, path: str, body: bytes) -> None:
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json() == {"detail": EMPTY, "code": "invalid"}


def test_an_empty_stylize_body_names_the_missing_body(client: TestClient) -> None:
    r = client.post("/api/v1/stylize", content=b"", headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json() == {
        "detail": [{"type": "missing", "loc": ["body"], "msg": "Field required"}],
        "code": "invalid",
    }
