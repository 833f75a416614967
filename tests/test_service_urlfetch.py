"""URL import and SSRF: only public http(s) addresses, checked again after every redirect.

Everything runs against a local HTTP server; "public" hosts come from an injected resolver plus an
allow-list for 127.0.0.1, so no test reaches beyond loopback (refused addresses are never dialled).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from support.fakes import FakeEngine
from support.images import png
from support.net import http_server
from support.web import client_for, wait_for

from impasto.service.guards.urlfetch import UrlError, UrlFetcher

PHOTO = png(50, 40)


SLOW = 30.0  # seconds the /slow page takes: far beyond the fetcher's time limit


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/photo.png":
            self._send(200, PHOTO, "image/png")
        elif self.path == "/big":
            self._send(200, b"\x00" * 300_000, "image/png")
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"\x00" * 10_000)
        elif self.path == "/slow":
            time.sleep(SLOW)
            self._send(200, PHOTO, "image/png")
        elif self.path == "/text":
            self._send(200, b"<html>hello</html>", "text/html")
        elif self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        else:
            self._send(404, b"no", "text/plain")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with http_server(Handler) as host:
        yield host


NAMES = {
    "photos.test": ["127.0.0.1"],
    "internal.test": ["192.168.1.5"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["93.184.216.34", "127.0.0.2"],
    "v6loop.test": ["::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "multicast.test": ["224.0.0.1"],
    "cgnat.test": ["100.64.0.1"],
}


def resolver(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise UrlError(f"cannot resolve host {host!r}")
    return NAMES[host]


@pytest.fixture
def fetcher() -> UrlFetcher:
    """Treats 127.0.0.1 (only) as allowed, standing in for a public web server."""
    return UrlFetcher(resolver=resolver, allow=["127.0.0.1/32"], timeout=1.0, max_bytes=200_000)


def test_fetches_an_allowed_picture_and_follows_safe_redirects(server: str, fetcher: UrlFetcher) -> None:
    port = server.split(":")[1]
    assert fetcher.fetch(f"http://photos.test:{port}/photo.png") == PHOTO
    assert fetcher.fetch(f"http://{server}/redirect?to=/photo.png") == PHOTO
    assert fetcher.fetch(f"http://{server}/redirect?to=http://photos.test:{port}/photo.png") == PHOTO


@pytest.mark.parametrize(
    "url, reason",
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://photos.test/x.png", "only http and https"),
        ("gopher://photos.test/", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http://user:pw@photos.test/x", "user name or password"),
        ("http:///nohost", "no host"),
        ("http://10.0.0.1/x.png", "private"),
        ("http://192.168.0.10/x.png", "private"),
        ("http://172.16.5.4/x.png", "private"),
        ("http://169.254.169.254/latest/meta-data/", "private"),
        ("http://0.0.0.0/", "private"),
        ("http://[::1]/", "private"),
        ("http://[fe80::1]/", "private"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://internal.test/x.png", "private"),
        ("http://metadata.test/x.png", "private"),
        ("http://mixed.test/x.png", "private"),
        ("http://v6loop.test/x.png", "private"),
        ("http://mapped.test/x.png", "private"),
        ("http://multicast.test/x.png", "private"),
        ("http://cgnat.test/x.png", "private"),
        ("http://unknown.test/x.png", "cannot resolve"),
        ("not a url at all", "only http and https"),
    ],
)
def test_refuses_unsafe_urls_before_connecting(fetcher: UrlFetcher, url: str, reason: str) -> None:
    with pytest.raises(UrlError, match=reason):
        fetcher.fetch(url)


def test_loopback_is_refused_without_an_allow_list(server: str) -> None:
    strict = UrlFetcher(timeout=1.0)  # the system resolver: "localhost" is resolved locally
    for url in (
        f"http://{server}/photo.png",
        "http://localhost/photo.png",
        "http://127.1/",
        "http://2130706433/",
    ):
        with pytest.raises(UrlError):
            strict.fetch(url)


def test_redirects_are_checked_again(server: str, fetcher: UrlFetcher) -> None:
    for target in (
        "http://10.1.2.3/x.png",
        "http://internal.test/x",
        "http://169.254.169.254/",
        "file:///etc/passwd",
        "http://127.0.0.2/x",
    ):
        with pytest.raises(UrlError):
            fetcher.fetch(f"http://{server}/redirect?to={target}")
    with pytest.raises(UrlError, match="redirects"):
        fetcher.fetch(f"http://{server}/loop")


def test_size_time_and_status_limits(server: str, fetcher: UrlFetcher) -> None:
    with pytest.raises(UrlError, match="larger than"):
        fetcher.fetch(f"http://{server}/big")
    with pytest.raises(UrlError, match="larger than"):
        fetcher.fetch(f"http://{server}/big-chunked")
    started = time.monotonic()
    with pytest.raises(UrlError, match="too long"):
        fetcher.fetch(f"http://{server}/slow")
    assert time.monotonic() - started < SLOW / 2  # gave up on its own time limit, did not wait it out
    with pytest.raises(UrlError, match="404"):
        fetcher.fetch(f"http://{server}/missing")


def test_jobs_from_urls_through_the_api(
    tmp_path: Path, db_url: str, server: str, fetcher: UrlFetcher
) -> None:
    with client_for(tmp_path, db_url, FakeEngine(), fetcher=fetcher) as client:
        style = {"name": "Any", "image": __import__("base64").b64encode(png()).decode()}
        name = client.post("/api/v1/styles", json=style).json()["name"]
        r = client.post(
            "/api/v1/jobs", json={"content_url": f"http://{server}/photo.png", "style_name": name}
        )
        assert r.status_code == 201, r.text
        assert wait_for(client, r.json()["jobs"][0]["id"])["status"] == "succeeded"
        for url in ("http://10.0.0.1/x.png", f"http://{server}/text", "file:///etc/passwd"):
            r = client.post("/api/v1/jobs", json={"content_url": url, "style_name": name})
            assert r.status_code == 422, (url, r.text)
        r = client.post(
            "/api/v1/jobs",
            files={"style": ("s.png", png(), "image/png")},
            data={"content_url": "http://169.254.169.254/"},
        )
        assert r.status_code == 422 and "private" in r.json()["detail"]
