"""Fixtures and helpers for the web/service tests (imported with ``from service_support import *``).

Databases: every test that takes ``db_url`` runs on SQLite and on PostgreSQL. PostgreSQL comes from
``IMPASTO_TEST_POSTGRES_URL`` or ``build/test-services.env`` (written by ``.ci/services``); each test
gets its own schema. Without a server the PostgreSQL cases skip locally and fail when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from impasto.errors import Cancelled, ImpastoError
from impasto.progress import CancelToken, DoneEvent, IterationEvent, PreviewEvent, StageEvent
from impasto.service.config import Settings
from impasto.web import create_app

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"

__all__ = [
    "FakeEngine",
    "client_for",
    "db_url",
    "engine",
    "jpeg",
    "missing_service",
    "png",
    "postgres_url",
    "service_env",
    "wait_for",
]


def service_env(name: str) -> str | None:
    """A test-service URL from the environment or from build/test-services.env."""
    if os.environ.get(name):
        return os.environ[name]
    env_file = ROOT / "build" / "test-services.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == name:
                return value.strip()
    return None


def missing_service(reason: str) -> None:
    """Fail in CI (a missing service is a broken CI), skip with the reason elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: run .ci/services first)")
    pytest.skip(f"{reason}: run .ci/services to start it")


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 30)) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 8):  # a little structure, not a flat colour
        for y in range(height):
            image.putpixel((x, y), (color[2], color[0], color[1]))
    image.save(buf, "PNG")
    return buf.getvalue()


def jpeg(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


class FakeEngine:
    """Stands in for :func:`impasto.stylize`: reports progress like an engine, obeys the cancel token.

    ``gate`` (when set) holds every run until it is opened; a style picture that is pure black makes
    the run fail with an :class:`ImpastoError`; pure white raises an unexpected ``RuntimeError``.
    """

    def __init__(self, steps: int = 3, delay: float = 0.0) -> None:
        self.steps, self.delay = steps, delay
        self.gate: threading.Event | None = None
        self.calls: list[dict[str, Any]] = []
        self.running = 0
        self.peak: dict[str, int] = {"fast": 0, "quality": 0}
        self.lock = threading.Lock()

    def __call__(
        self,
        content: Any,
        style: Any,
        *,
        progress: Callable[[Any], None],
        cancel: CancelToken,
        mode: str = "fast",
        size: int = 512,
        **options: Any,
    ) -> Image.Image:
        from impasto.imageio import load_image

        with self.lock:
            self.calls.append({"mode": mode, "size": size, "style": style, **options})
            self.running += 1
            self.peak[mode] = max(self.peak[mode], self.running)
        try:
            photo = load_image(content)
            if isinstance(style, bytes):
                colors = load_image(style).getcolors(4)
                if colors and len(colors) == 1 and colors[0][1] == (0, 0, 0):
                    raise ImpastoError("style picture is all black")
                if colors and len(colors) == 1 and colors[0][1] == (255, 255, 255):
                    raise RuntimeError("engine bug")
            progress(StageEvent("painting", "painting"))
            steps = options.get("iterations") or self.steps
            for step in range(1, steps + 1):
                if self.gate is not None:
                    while not self.gate.wait(0.02):
                        if cancel.cancelled:
                            raise Cancelled("cancelled")
                if cancel.cancelled:
                    raise Cancelled("cancelled")
                time.sleep(self.delay)
                progress(
                    IterationEvent(
                        1,
                        1,
                        photo.size,
                        step,
                        steps,
                        step,
                        steps,
                        {"total": 1.0 / step},
                        0.01 * step,
                        0.01 * (steps - step),
                    )
                )
                progress(PreviewEvent(step, photo))
            progress(DoneEvent(0.01 * steps, {"total": 0.1}))
            scale = size / max(photo.size)
            return photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))))
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture(scope="session")
def postgres_url() -> str | None:
    return service_env("IMPASTO_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not postgres_url:
        missing_service("PostgreSQL is not configured (IMPASTO_TEST_POSTGRES_URL)")
    with postgres_schema(str(postgres_url), "t") as url:
        yield url


@contextlib.contextmanager
def postgres_schema(base: str, prefix: str) -> Iterator[str]:
    """``base`` with its ``search_path`` set to a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        admin.dispose()
        missing_service(f"PostgreSQL at {base} is not reachable ({type(exc).__name__})")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def client_for(tmp_path: Path, db_url: str, stylize: Any, **settings: Any) -> TestClient:
    """A TestClient over a fresh app (use it as a context manager: that runs startup/shutdown)."""
    fetcher = settings.pop("fetcher", None)
    base: dict[str, Any] = {"jobs_per_minute": 6000.0, "jobs_burst": 1000, "preview_interval": 0.0}
    base.update(settings)
    config = Settings(data_dir=tmp_path / "data", database_url=db_url, **base)
    return TestClient(create_app(config, stylize=stylize, fetcher=fetcher))


def wait_for(
    client: TestClient,
    job_id: str,
    statuses: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
    timeout: float = 20.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not reach {statuses}: {job}")
