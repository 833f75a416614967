"""One gallery of saved styles shared by the REST API, the pages, the CLI and the Python API
(issue 14 item 9): rename and delete everywhere, built-ins untouchable, queued jobs unbroken."""

from __future__ import annotations

import argparse
import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.fakes import FakeEngine
from support.images import png
from support.web import as_browser, client_for, wait_for

from impasto import gallery as package_gallery
from impasto.cli import main
from impasto.cli.stylize import parse_styles
from impasto.errors import OptionsError
from impasto.service.gallery import attach


@pytest.fixture(autouse=True)
def _detached() -> Iterator[None]:
    yield
    package_gallery.use(None)


@pytest.fixture
def client(tmp_path: Path, db_url: str, engine: FakeEngine) -> Iterator[TestClient]:
    with client_for(tmp_path, db_url, engine) as c:
        yield as_browser(c)  # an identity with its CSRF token, as the pages have


def save(client: TestClient, title: str, color: tuple[int, int, int] = (20, 40, 200)) -> dict[str, Any]:
    image = base64.b64encode(png(color=color)).decode()
    r = client.post("/api/v1/styles", json={"name": title, "image": image})
    assert r.status_code == 201, r.text
    return dict(r.json())


def names(client: TestClient) -> list[str]:
    return [s["name"] for s in client.get("/api/v1/styles").json() if not s["builtin"]]


def test_rename_and_delete_through_the_api(client: TestClient) -> None:
    save(client, "Blue Period")
    save(client, "Sea")
    r = client.patch("/api/v1/styles/blue-period", json={"title": "Bluer"})
    assert r.status_code == 200 and r.json()["title"] == "Bluer" and r.json()["name"] == "blue-period"
    r = client.patch("/api/v1/styles/blue-period", json={"name": "bluest", "title": "Bluest"})
    assert r.status_code == 200 and r.json()["name"] == "bluest", r.text
    assert names(client) == ["bluest", "sea"]
    assert client.get("/api/v1/styles/bluest/image").status_code == 200
    assert client.get("/api/v1/styles/blue-period/image").status_code == 404
    # clear errors: unknown 404, taken or built in 409, bad 422
    assert client.patch("/api/v1/styles/nope", json={"title": "x"}).status_code == 404
    assert client.patch("/api/v1/styles/bluest", json={"name": "sea"}).status_code == 409
    builtin = next(s["name"] for s in client.get("/api/v1/styles").json() if s["builtin"])
    r = client.patch(f"/api/v1/styles/{builtin}", json={"title": "Mine now"})
    assert r.status_code == 409 and "built-in" in r.json()["detail"]
    assert client.delete(f"/api/v1/styles/{builtin}").status_code == 409
    assert client.patch("/api/v1/styles/bluest", json={"name": "Not A Slug!"}).status_code == 422
    assert client.patch("/api/v1/styles/bluest", json={}).status_code == 422
    assert client.patch("/api/v1/styles/bluest", json={"title": "   "}).status_code == 422
    assert client.patch("/api/v1/styles/bluest", json={"colour": "red"}).status_code == 422
    assert client.delete("/api/v1/styles/bluest").status_code == 204
    assert names(client) == ["sea"]
    assert client.delete("/api/v1/styles/bluest").status_code == 404


def test_deleting_a_style_leaves_queued_jobs_their_picture(tmp_path: Path, db_url: str) -> None:
    held = FakeEngine()
    held.gate = threading.Event()
    with client_for(tmp_path, db_url, held, fast_workers=1) as client:
        save(client, "Blue Period")
        files = [("content", ("p.png", png(), "image/png"))]
        ids = [
            client.post("/api/v1/jobs", files=files, data={"style_name": "blue-period"}).json()["jobs"][0][
                "id"
            ]
            for _ in range(2)
        ]
        wait_for(client, ids[0], ("running",))
        assert client.get(f"/api/v1/jobs/{ids[1]}").json()["status"] == "queued"
        assert client.delete("/api/v1/styles/blue-period").status_code == 204
        held.gate.set()
        for job_id in ids:
            assert wait_for(client, job_id)["status"] == "succeeded"
        assert client.get(f"/api/v1/jobs/{ids[1]}/images/style").status_code == 200
        assert all(isinstance(call["style"], bytes) for call in held.calls)


def test_a_renamed_style_keeps_its_history(client: TestClient) -> None:
    save(client, "Blue Period")
    files = [("content", ("p.png", png(), "image/png"))]
    job = client.post("/api/v1/jobs", files=files, data={"style_name": "blue-period"}).json()["jobs"][0]
    wait_for(client, job["id"])
    client.patch("/api/v1/styles/blue-period", json={"name": "azure"})
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["style_name"] == "azure"
    assert client.get("/api/v1/jobs?style=azure").json()["jobs"][0]["id"] == job["id"]


def test_the_styles_page_renames_and_deletes_without_script(client: TestClient) -> None:
    save(client, "Blue Period")
    page = client.get("/styles").text
    assert 'action="/styles/blue-period/rename"' in page and 'action="/styles/blue-period/delete"' in page
    r = client.post(
        "/styles/blue-period/rename", data={"title": "Azure", "name": "azure"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/styles?renamed=azure"
    assert "Renamed to azure." in client.get(r.headers["location"]).text
    r = client.post("/styles/azure/rename", data={"title": "", "name": "azure"})
    assert r.status_code == 422 and "title" in r.text
    builtin = next(s["name"] for s in client.get("/api/v1/styles").json() if s["builtin"])
    r = client.post(f"/styles/{builtin}/delete")
    assert r.status_code == 409 and "built-in" in r.text
    r = client.post("/styles/azure/delete", follow_redirects=False)
    assert r.status_code == 303 and names(client) == []


def test_cli_and_web_share_one_gallery(
    tmp_path: Path, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(data))
    monkeypatch.delenv("IMPASTO_DATABASE_URL", raising=False)
    picture = tmp_path / "mine.png"
    picture.write_bytes(png(color=(200, 30, 90)))
    monkeypatch.setattr(package_gallery, "style_vector", lambda image: [0.0] * 4)  # no engine needed
    monkeypatch.setattr(package_gallery, "predictor_digest", lambda: "test")
    assert main(["styles", "add", "from-cli", str(picture), "--title", "From the CLI"]) == 0
    with client_for(tmp_path, f"sqlite:///{data / 'impasto.db'}", engine) as client:
        assert "from-cli" in names(client)  # saved by the CLI (the public gallery), seen by the web
        save(client, "From The Web")  # this browser's own style
        identity = client.cookies["impasto_id"]
    capsys.readouterr()
    assert main(["styles"]) == 0
    listed = capsys.readouterr().out
    assert "from-the-web" in listed and "from-cli" in listed  # saved on the web, seen by the CLI
    assert "From the CLI (yours)\n" in listed and "  (yours)" not in listed  # one space, as in prose
    assert main(["styles", "rename", "from-the-web", "webby", "--title", "Webby"]) == 0
    assert main(["styles", "delete", "from-cli"]) == 0
    capsys.readouterr()
    assert main(["styles", "delete", "starry-night"]) == 2
    assert "built-in" in capsys.readouterr().err
    assert main(["styles", "rename", "nope", "other"]) == 2
    with client_for(tmp_path, f"sqlite:///{data / 'impasto.db'}", engine) as client:
        client.cookies.set("impasto_id", identity)  # the same browser: the CLI renamed its style
        assert names(client) == ["webby"]
    # `impasto stylize photo webby` (and `impasto video`) finds it in the same gallery
    parse_styles(argparse.Namespace(styles=["webby"], style_weights=None))
    style = package_gallery.style("webby")
    assert style.image.size == (64, 48) and style.label == "webby"


def test_python_api_renames_and_deletes_in_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("IMPASTO_DATABASE_URL", raising=False)
    monkeypatch.setattr(package_gallery, "style_vector", lambda image: [0.0] * 4)
    monkeypatch.setattr(package_gallery, "predictor_digest", lambda: "test")
    attach()
    package_gallery.add_style("mine", png(color=(1, 2, 3)))
    assert package_gallery.rename_style("mine", "ours", title="Ours").title == "Ours"
    assert [s.name for s in package_gallery.list_styles() if not s.builtin] == ["ours"]
    with pytest.raises(OptionsError, match="built-in"):
        package_gallery.remove_style("starry-night")
    package_gallery.remove_style("ours")
    assert [s.name for s in package_gallery.list_styles() if not s.builtin] == []


def test_without_a_data_folder_the_plain_folder_renames_and_deletes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(package_gallery, "style_vector", lambda image: [0.0] * 4)
    monkeypatch.setattr(package_gallery, "predictor_digest", lambda: "test")
    package_gallery.add_style("mine", png(color=(1, 2, 3)))
    renamed = package_gallery.rename_style("mine", "ours", title="Ours")
    assert renamed.path.is_file() and renamed.title == "Ours" and renamed.image().size == (64, 48)
    with pytest.raises(OptionsError, match="built-in"):
        package_gallery.rename_style("starry-night", "mine")
    package_gallery.remove_style("ours")
    assert not renamed.path.exists()
    assert [s.name for s in package_gallery.list_styles() if not s.builtin] == []


def test_scale_out_cli_and_web_share_the_database_and_its_images(
    tmp_path: Path, pg_url: str, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several nodes: PostgreSQL and images in the database, no shared folder at all."""
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(tmp_path / "cli-data"))  # not the web node's folder
    monkeypatch.setenv("IMPASTO_DATABASE_URL", pg_url)
    monkeypatch.setenv("IMPASTO_BLOB_STORE", "database")
    monkeypatch.setattr(package_gallery, "style_vector", lambda image: [0.0] * 4)
    monkeypatch.setattr(package_gallery, "predictor_digest", lambda: "test")
    picture = tmp_path / "mine.png"
    picture.write_bytes(png(color=(200, 30, 90)))
    assert main(["styles", "add", "from-cli", str(picture)]) == 0
    held = FakeEngine()
    held.gate = threading.Event()
    with client_for(tmp_path, pg_url, held, blob_store="database", fast_workers=1) as client:
        assert client.get("/api/v1/styles/from-cli/image").status_code == 200
        files = [("content", ("p.png", png(), "image/png"))]
        made = [client.post("/api/v1/jobs", files=files, data={"style_name": "from-cli"}) for _ in range(2)]
        ids = [r.json()["jobs"][0]["id"] for r in made]
        wait_for(client, ids[0], ("running",))
        assert main(["styles", "delete", "from-cli"]) == 0  # from another machine, as it were
        assert names(client) == []
        held.gate.set()
        assert [wait_for(client, i)["status"] for i in ids] == ["succeeded", "succeeded"]
