"""A real server (uvicorn on a free loopback port) with the real engine, and Debian's Chromium.

Every page runs offline: the browser context refuses any request that would leave the machine
(the test fails if a page tried one), and screenshots are taken at a desktop and a phone size.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.env import ROOT, missing_service, service_env
from support.fakes import FakeEngine
from support.images import png
from support.net import free_port

from impasto.errors import Cancelled
from impasto.imageio import load_image
from impasto.service.config import Settings
from impasto.video import pipeline as video_pipeline

ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def real_engine_missing() -> str | None:
    """Why the real fast engine and gallery cannot be used here, or None when they can."""
    try:
        from impasto import fast, gallery

        getattr(fast, "run_fast")  # noqa: B009 - the engine entry point must exist
        styles = gallery.list_styles()
    except Exception as exc:
        return f"the fast engine or gallery is not available ({type(exc).__name__}: {exc})"
    return None if styles else "the gallery has no styles"


@contextlib.contextmanager
def running_server(data: Path, stylize: Any) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, for as long as the block runs."""
    import uvicorn

    from impasto.web import create_app

    app = create_app(Settings(data_dir=data, preview_interval=0.1), stylize=stylize)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def _add_style(base: str, name: str, data: Path) -> None:
    """A style in the public gallery every visitor sees: an admin key's to add."""
    import base64

    import httpx

    from impasto.service.identity import owners
    from impasto.service.storage.db import Database

    db = Database(Settings(data_dir=data).db_url)
    _, key = owners.create_key(db, f"e2e {name}", admin=True)
    db.dispose()
    body = {"name": name, "image": base64.b64encode(png(200, 150, (40, 80, 200))).decode()}
    httpx.post(
        f"{base}/api/v1/styles", json=body, headers={"Authorization": f"Bearer {key}"}
    ).raise_for_status()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real engine and gallery (a fake engine only with IMPASTO_E2E_FAKE_ENGINE=1, for page work)."""
    fake = os.environ.get("IMPASTO_E2E_FAKE_ENGINE") == "1"
    if not fake:
        reason = real_engine_missing()
        if reason:
            missing_service(reason)
    stylize = FakeEngine(steps=20, delay=0.05) if fake else None
    data = tmp_path_factory.mktemp("e2e-data")
    with running_server(data, stylize) as base:
        if fake:
            _add_style(base, "Fake Sky", data)
        yield base


class KeepsSoFar(FakeEngine):
    """Like the quality engine, a cancelled run returns the painting as far as it got."""

    def __call__(self, content: Any, style: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(content, style, **kwargs)
        except Cancelled:
            if not kwargs["cancel"].cancelled:
                raise
            return load_image(content).resize((96, 64))


@pytest.fixture(scope="session")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fake engine that takes a few seconds, to watch progress and press Cancel."""
    data = tmp_path_factory.mktemp("e2e-slow")
    with running_server(data, KeepsSoFar(steps=60, delay=0.1)) as base:
        _add_style(base, "Slow Sky", data)
        yield base


@pytest.fixture
def gated_server(tmp_path: Path) -> Iterator[tuple[str, threading.Event]]:
    """A fake engine that holds every run until the test opens the gate (two fast workers)."""
    engine = FakeEngine(steps=4, delay=0.01)
    engine.gate = threading.Event()
    with running_server(tmp_path / "data", engine) as base:
        _add_style(base, "Gate Sky", tmp_path / "data")
        try:
            yield base, engine.gate
        finally:
            engine.gate.set()


@pytest.fixture
def clip_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Video jobs whose frames a slow stand-in paints (the negative, 0.4 s a frame), to watch."""

    def slow_negative(_painter: Any, rgb: np.ndarray, _init: Any) -> np.ndarray:
        time.sleep(0.4)
        return np.ascontiguousarray(255 - rgb)

    monkeypatch.setattr(video_pipeline.FramePainter, "__call__", slow_negative)
    with running_server(tmp_path / "data", None) as base:
        _add_style(base, "Clip Sky", tmp_path / "data")
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    chromium = service_env("IMPASTO_TEST_CHROMIUM") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        missing_service(f"Chromium is not installed at {chromium}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("the playwright package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that can reach only this machine: any other request is refused and fails the test,
    as do JavaScript errors and requests that fail."""
    from urllib.parse import urlsplit

    context = browser.new_context(viewport=DESKTOP)
    outside: list[str] = []
    failed: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        scheme = urlsplit(url).scheme
        if scheme in ("data", "blob") or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "requestfailed",
        lambda r: (
            failed.append(f"{r.url} ({r.failure})")
            if "/events" not in r.url and r.failure != "net::ERR_ABORTED"
            else None
        ),
    )
    page.on("response", lambda r: failed.append(f"{r.url} ({r.status})") if r.status >= 500 else None)
    yield page
    context.close()
    assert not outside, f"pages tried to reach outside the machine: {outside}"
    assert not errors, f"JavaScript errors: {errors}"
    assert not failed, f"requests failed: {failed}"


@pytest.fixture
def shot() -> Any:
    """Full-page screenshots at 1440×900 and 390×844 (``NAME-desktop.png``, ``NAME-phone.png``)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page: Any, name: str) -> Path:
        size = page.viewport_size or DESKTOP
        path = ARTIFACTS / f"{name}-desktop.png"
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(size)
        return path

    return take
