"""`impasto weights download` against a small HTTP server on 127.0.0.1 serving a synthetic file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from support.net import http_server

from impasto.cli import main
from impasto.errors import WeightsError
from impasto.quality.downloads import download

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, str]]] = []

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        Handler.requests.append(dict(self.headers))
        if self.path == "/missing":
            self.send_error(404, "Not Found")
            return
        start = 0
        if (rng := self.headers.get("Range")) and self.path != "/norange":
            start = int(rng.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/truncated":
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with http_server(Handler) as host:
        yield f"http://{host}"


def test_good_hash_downloads_and_verifies(server: str, tmp_path: Path) -> None:
    seen = []
    out = download(
        f"{server}/w.pth", tmp_path / "w.pth", DIGEST, lambda done, total: seen.append((done, total))
    )
    assert out.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not (tmp_path / "w.pth.part").exists()


def test_hash_prefix_as_in_torchvision_file_names(server: str, tmp_path: Path) -> None:
    assert download(f"{server}/w.pth", tmp_path / "w.pth", DIGEST[:8]).is_file()


def test_bad_hash_is_refused_and_nothing_kept(server: str, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="corrupt"):
        download(f"{server}/w.pth", tmp_path / "w.pth", "0" * 64)
    assert not (tmp_path / "w.pth").exists() and not (tmp_path / "w.pth.part").exists()


def test_truncated_download_resumes_on_the_next_run(server: str, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="interrupted"):
        download(f"{server}/truncated", tmp_path / "w.pth", DIGEST)
    part = tmp_path / "w.pth.part"
    assert 0 < part.stat().st_size < len(PAYLOAD)
    have = part.stat().st_size
    Handler.requests.clear()
    download(f"{server}/w.pth", tmp_path / "w.pth", DIGEST)
    assert Handler.requests[0]["Range"] == f"bytes={have}-"
    assert (tmp_path / "w.pth").read_bytes() == PAYLOAD


def test_server_without_range_support_restarts_cleanly(server: str, tmp_path: Path) -> None:
    (tmp_path / "w.pth.part").write_bytes(PAYLOAD[:1000])
    assert download(f"{server}/norange", tmp_path / "w.pth", DIGEST).read_bytes() == PAYLOAD


def test_404_is_a_clear_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="HTTP 404"):
        download(f"{server}/missing", tmp_path / "w.pth", DIGEST)


def test_offline_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="offline"):
        download("http://127.0.0.1:9/w.pth", tmp_path / "w.pth", DIGEST, timeout=2)


def test_cli_download_with_url(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMPASTO_CACHE_DIR", str(tmp_path))
    assert main(["weights", "download", "vgg19", "--url", f"{server}/w.pth"]) == 2  # wrong file: hash differs
    assert "corrupt" in capsys.readouterr().err
