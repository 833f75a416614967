"""Hostile input never reaches a 500 (issue 13): unlisted decoders, degenerate pictures, NaN and
infinities, hostile JSON, 6to4/Teredo addresses, clients that disconnect, foreign Host and Origin
headers, and slow clients against a real server on loopback."""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import EpsImagePlugin, Image
from support.fakes import FakeEngine
from support.images import b64, png
from support.net import free_port
from support.web import as_browser, client_for, csrf_token

import impasto
from impasto.cli import main
from impasto.errors import ImageError, OptionsError
from impasto.imageio import MIN_SIDE, READ_FORMATS_TEXT, load_image
from impasto.quality import QualityOptions, run_quality
from impasto.service.config import Settings
from impasto.service.guards.urlfetch import UrlError, UrlFetcher, is_public
from impasto.styles import Style
from impasto.web import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(tmp_path: Path, engine: FakeEngine) -> Iterator[TestClient]:
    with client_for(tmp_path, f"sqlite:///{tmp_path / 'hostile.db'}", engine) as c:
        yield c


def encoded(fmt: str, size: tuple[int, int] = (32, 24)) -> bytes:
    image = Image.new("RGB", size, (200, 40, 30))
    if fmt in ("XBM", "MSP"):
        image = image.convert("1")
    elif fmt == "SPIDER":
        image = image.convert("F")
    buf = io.BytesIO()
    try:
        image.save(buf, fmt)
    except (OSError, KeyError, ValueError) as exc:
        pytest.skip(f"this Pillow cannot write {fmt}: {exc}")
    return buf.getvalue()


EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 32 24\n%%EndComments\n"
    b"newpath 0 0 moveto 32 24 lineto stroke showpage\n%%EOF\n"
)
UNLISTED = ["PPM", "TGA", "PCX", "SGI", "QOI", "ICNS", "XBM", "DDS", "IM", "MSP", "SPIDER", "ICO", "JPEG2000"]


# --- 1. decoders: the documented formats only, never EPS -----------------------------------------


@pytest.mark.parametrize("fmt", UNLISTED)
def test_unlisted_formats_are_refused(fmt: str) -> None:
    data = encoded(fmt)
    assert Image.open(io.BytesIO(data)).format == fmt  # Pillow itself would decode it
    with pytest.raises(ImageError, match=READ_FORMATS_TEXT):
        load_image(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_listed_formats_still_load(fmt: str) -> None:
    assert load_image(encoded(fmt)).size == (32, 24)


@pytest.fixture
def ghostscript(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A stand-in for Ghostscript that records being asked to run PostScript (and would succeed)."""
    calls: list[Any] = []

    def fake(tile: Any, size: tuple[int, int], fp: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(size)
        return Image.new("RGB", size, (0, 0, 0)).im

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", fake)
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", "gs")
    return calls


def test_eps_never_reaches_ghostscript(ghostscript: list[Any], client: TestClient) -> None:
    with pytest.raises(ImageError, match=READ_FORMATS_TEXT):
        load_image(EPS)
    r = client.post("/api/v1/jobs", json={"content": b64(EPS), "style_name": "udnie"})
    assert r.status_code == 422 and READ_FORMATS_TEXT in r.json()["detail"]
    assert ghostscript == []


def test_api_names_the_formats_it_reads(client: TestClient) -> None:
    for fmt in ("PPM", "TGA", "PCX", "SGI"):
        files = {"content": (f"photo.{fmt.lower()}", encoded(fmt), "image/png")}
        r = client.post("/api/v1/jobs", files=files, data={"style_name": "udnie"})
        assert r.status_code == 422, r.text
        assert READ_FORMATS_TEXT in r.json()["detail"]
    r = client.post("/api/v1/styles", json={"name": "targa", "image": b64(encoded("TGA"))})
    assert r.status_code == 422 and READ_FORMATS_TEXT in r.json()["detail"]


def test_readme_names_the_same_formats() -> None:
    assert READ_FORMATS_TEXT in (ROOT / "README.md").read_text(encoding="utf-8")


# --- 2. degenerate pictures: refused on arrival, or painted ---------------------------------------


def test_degenerate_photos_are_refused_on_upload(client: TestClient, engine: FakeEngine) -> None:
    r = client.post("/api/v1/jobs", json={"content": b64(png(1, 2000)), "style_name": "udnie"})
    assert r.status_code == 422 and f"{MIN_SIDE} px" in r.json()["detail"]
    thin = b64(png(10, 100))  # 51×512 at 512 px, 6×64 at 64 px
    r = client.post("/api/v1/jobs", json={"content": thin, "style_name": "udnie", "size": 64})
    assert r.status_code == 422 and "6x64" in r.json()["detail"]
    r = client.post("/api/v1/jobs", json={"content": thin, "style_name": "udnie", "size": 512})
    assert r.status_code == 201, r.text
    job = r.json()["jobs"][0]["id"]
    r = client.post(f"/jobs/{job}/again", data={"size": "64", "csrf_token": csrf_token(client)})
    assert r.status_code == 422
    assert client.get("/api/v1/jobs").json()["total"] == 1  # nothing else was queued


def test_degenerate_styles_are_refused_on_upload(client: TestClient) -> None:
    r = client.post("/api/v1/jobs", json={"content": b64(png()), "style": b64(png(2, 40))})
    assert r.status_code == 422 and "style" in r.json()["detail"]
    r = client.post("/api/v1/styles", json={"name": "sliver", "image": b64(png(1, 2000))})
    assert r.status_code == 422 and "too thin" in r.json()["detail"]
    r = client.post("/api/v1/jobs", json={"content": b64(png()), "style": b64(png(4, 60))})
    assert r.status_code == 201, r.text


def test_quality_paints_thin_pictures_or_says_why(photo: Image.Image, starry: Image.Image) -> None:
    thin = photo.resize((20, 512))  # 5×128 at the first scale: that scale is skipped
    painted = run_quality(thin, [Style(starry)], QualityOptions(size=512, **QUALITY_QUICK))
    assert painted.image.size == (20, 512)
    with pytest.raises(OptionsError, match=f"{MIN_SIDE} px"):
        run_quality(photo.resize((8, 512)), [Style(starry)], QualityOptions(size=512, **QUALITY_QUICK))
    sliver = starry.resize((4, 60))  # a thin style is enlarged to 16 px on its short side
    assert run_quality(photo, [Style(sliver)], QualityOptions(size=64, **QUALITY_QUICK)).image.size
    with pytest.raises(ImageError, match="too thin"):
        run_quality(photo, [Style(starry.resize((2, 40)))], QualityOptions(size=64, **QUALITY_QUICK))


QUALITY_QUICK: dict[str, Any] = {"iterations": 2, "init": "content", "precision": "float32", "device": "cpu"}


# --- 3. NaN and infinities -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        ["{starry}", "--style-weights", "nan"],
        ["{starry}:inf"],
        ["{starry}:nan", "{scream}:1"],
        ["{starry}", "{scream}", "--style-weights", "inf,1"],
        ["{starry}", "--content-weight", "nan"],
        ["{starry}", "--style-scale", "inf"],
        ["{starry}", "--mode", "fast", "--strength", "nan"],
    ],
)
def test_cli_refuses_non_finite_numbers(
    tmp_path: Path,
    photo: Image.Image,
    starry: Image.Image,
    scream: Image.Image,
    extra: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = {"photo": tmp_path / "photo.png", "starry": tmp_path / "starry.png", "scream": tmp_path / "s.png"}
    photo.save(paths["photo"])
    starry.save(paths["starry"])
    scream.save(paths["scream"])
    args = [a.format(**{k: str(v) for k, v in paths.items()}) for a in extra]
    out = tmp_path / "out.png"
    assert main(["stylize", str(paths["photo"]), *args, "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("impasto: error:") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_python_api_refuses_non_finite_style_weights(photo: Image.Image, starry: Image.Image) -> None:
    for weights in ([math.nan, 1.0], [math.inf, 1.0]):
        with pytest.raises(OptionsError, match="finite"):
            impasto.stylize(photo, [starry, starry], style_weights=weights, mode="fast", size=64)


@pytest.mark.parametrize(
    "fragment",
    [
        '"strength": NaN',
        '"strength": Infinity',
        '"strength": -Infinity',
        '"mode": "quality", "style_weight": 1e999',
    ],
)
def test_api_refuses_non_finite_json(client: TestClient, fragment: str) -> None:
    body = f'{{"content": "{b64(png())}", "style_name": "udnie", {fragment}}}'
    for path in ("/api/v1/jobs", "/api/v1/stylize"):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "invalid" and "number" in r.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value"), [("strength", "nan"), ("strength", "inf"), ("style_weight", "nan")]
)
def test_api_refuses_non_finite_form_fields(client: TestClient, field: str, value: str) -> None:
    data = {"style_name": "udnie", field: value, "mode": "quality" if field == "style_weight" else "fast"}
    r = client.post("/api/v1/jobs", files={"content": ("p.png", png(), "image/png")}, data=data)
    assert r.status_code == 422, r.text


# --- 4. hostile JSON -----------------------------------------------------------------------------

HOSTILE_JSON = {
    "deep array": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "deep field": '{"name": "x", "strength": ' + "[" * 5_000 + "]" * 5_000 + "}",
    "huge integer": '{"size": ' + "7" * 5_000 + ', "style_name": "udnie"}',
    "huge integer alone": "9" * 5_000,
    "long float": '{"strength": 0.' + "1" * 5_000 + "}",
}


@pytest.mark.parametrize("name", list(HOSTILE_JSON))
@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/styles", "/api/v1/stylize"])
def test_hostile_json_is_a_4xx(client: TestClient, name: str, path: str) -> None:
    r = client.post(path, content=HOSTILE_JSON[name], headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text  # a body that is not the JSON asked for
    assert r.json()["code"] == "invalid" and isinstance(r.json()["detail"], str)


def test_hostile_json_in_a_rating(client: TestClient) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    r = client.put("/api/v1/jobs/x/rating", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 422


# --- 5. the URL guard unwraps IPv4 carried in IPv6 --------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254 (cloud metadata)
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "2001:0:53aa:64c:0:0:f5ff:fffe",  # Teredo, client 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "::ffff:169.254.169.254",
    ],
)
def test_ipv4_inside_ipv6_is_unwrapped(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(UrlError, match="private or reserved"):
        UrlFetcher().check(f"http://[{address}]/photo.jpg")


def test_public_6to4_stays_public() -> None:
    assert is_public(ipaddress.ip_address("2002:808:808::1"))  # 6to4 of 8.8.8.8


# --- 6. a client that disconnects mid-upload: one info line ------------------------------------


def test_disconnect_mid_upload_is_one_info_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    app = client.app
    boundary = "xyz"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="p.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + png()[:40]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/jobs",
        "raw_path": b"/api/v1/jobs",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
            (b"content-length", b"100000"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": head, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        pass

    caplog.set_level(logging.INFO)
    # A thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    worker = threading.Thread(target=lambda: asyncio.run(app(scope, receive, send)))  # type: ignore[arg-type]
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    went = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(went) == 1 and went[0].levelno == logging.INFO and not went[0].exc_info


# --- 7. Host allow-list, redirects, CSRF ------------------------------------------------------


def test_unknown_hosts_are_refused_before_routing(client: TestClient) -> None:
    for path in ("/", "/api/v1/health", "/api/v1/jobs", "/nowhere"):
        r = client.get(path, headers={"Host": "evil.example"})
        assert r.status_code == 400, (path, r.status_code)
    rebinding = {"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}
    assert client.delete("/api/v1/jobs/x", headers=rebinding).status_code == 400
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "LOCALHOST.", "testserver"):
        assert client.get("/api/v1/health", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_come_from_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPASTO_ALLOWED_HOSTS", "paint.example, 10.0.0.5")
    settings = Settings.from_env(data_dir=tmp_path)
    assert settings.allowed_hosts == ("paint.example", "10.0.0.5")
    assert Settings().allowed_hosts == ("127.0.0.1", "localhost", "[::1]")
    with TestClient(create_app(settings, stylize=FakeEngine(), workers=False)) as c:
        assert c.get("/api/v1/health", headers={"Host": "paint.example"}).status_code == 200
        assert c.get("/api/v1/health", headers={"Host": "127.0.0.1"}).status_code == 400


def test_trailing_slash_redirects_are_relative(client: TestClient) -> None:
    r = client.get("/history/?style=udnie", follow_redirects=False)
    assert r.status_code in (307, 308) and r.headers["location"] == "/history?style=udnie"
    r = client.get("//evil.example/", follow_redirects=False)
    assert not r.headers.get("location", "/").startswith("//")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},
        {"Origin": "https://evil.example"},
        {"Origin": "https://testserver"},  # the same host, another scheme
        {"Origin": "http://testserver:8080"},  # the same host, another port
        {"Referer": "https://evil.example/page"},  # no Origin, a foreign referer
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
    ],
)
def test_cross_site_writes_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post("/", data={}, headers=headers).status_code == 403
    assert client.delete("/api/v1/jobs/x", headers=headers).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://testserver"},
        {"Referer": "http://testserver/history"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
    ],
)
def test_same_origin_writes_pass(client: TestClient, headers: dict[str, str]) -> None:
    browser = as_browser(client)  # its cookie and CSRF token, as the pages send them
    assert browser.delete("/api/v1/jobs/x", headers=headers).status_code == 404


# --- 8. slow clients against a real server --------------------------------------------------------


def range_port() -> int:
    """A free loopback port in 18700-18799 (this project's range for test servers), else any."""
    for port in range(18700, 18800):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[int]:
    import uvicorn

    from impasto.web import server

    settings = Settings(data_dir=tmp_path / "data", header_timeout=1.0, body_timeout=1.0)
    app = create_app(settings, stylize=FakeEngine())
    port = range_port()
    srv = uvicorn.Server(server.config(app, settings, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(20)


def trickle(port: int, head: bytes, drip: bytes, bound: float = 30.0) -> tuple[bool, bytes]:
    """Send ``head``, then one byte of ``drip`` every 0.2 s until the server closes the connection
    (True) or ``bound`` seconds pass (False); returns what the server said."""
    said = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        sock.settimeout(0.2)
        deadline = time.monotonic() + bound
        index = 0
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
                if not chunk:
                    return True, said
                said += chunk
            except TimeoutError:
                pass
            except ConnectionError:
                return True, said
            try:
                if drip:
                    sock.send(drip[index % len(drip) : index % len(drip) + 1])
                    index += 1
            except (BrokenPipeError, ConnectionError):
                return True, said
    return False, said


def test_slow_clients_are_cut_off(slow_server: int) -> None:
    port = slow_server
    results: dict[str, tuple[bool, bytes]] = {}
    clients = {
        "silent": (b"", b""),
        "slow headers": (b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: aaaaaaaa\r\n"),
        "slow body": (
            b"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n",
            b"{",
        ),
    }
    threads = [
        threading.Thread(target=lambda n=name, c=conn: results.__setitem__(n, trickle(port, *c)))
        for name, conn in clients.items()
    ]
    for thread in threads:
        thread.start()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # others are still served
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    for thread in threads:
        thread.join(60)
    for name in clients:
        assert results[name][0], f"{name}: still open after 30 s"
    assert results["slow body"][1].startswith(b"HTTP/1.1 408")
