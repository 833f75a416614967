"""Fixtures for every test: an isolated environment, the committed test images, the databases and the
fake engine the service tests use, and the real servers the scale-out tests start.

Helpers these build on live in the ``support`` package (``tests/support``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from support.cluster import Cluster, RedisServer
from support.data import CONTENT, STYLE, thumbnail
from support.env import missing_service, postgres_schema, service_env
from support.fakes import FakeEngine

from impasto import device


@pytest.fixture(autouse=True)
def _no_native_bfloat16(monkeypatch: pytest.MonkeyPatch) -> None:
    """``precision="auto"`` picks bfloat16 only on CPUs with AMX-BF16/AVX512-BF16, so without this a
    picture would depend on the machine running the suite. Every test sees a CPU without them; tests
    about precision force ``float32``/``bfloat16`` or patch the capability themselves (test_device)."""
    monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: False)


# Variables a test may read from the machine: where the test services are, and CI itself.
KEPT = ("IMPASTO_TEST_",)


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test sees the caller's IMPASTO_* settings or writes into the real user folders.

    The model cache is shared by the whole session (converting the VGG16 once is enough); data and
    the user gallery are each test's own."""
    for name in list(os.environ):
        if name.startswith("IMPASTO_") and not name.startswith(KEPT):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IMPASTO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(tmp_path / "impasto-data"))
    monkeypatch.setenv("IMPASTO_GALLERY_DIR", str(tmp_path / "impasto-gallery"))


# --- images ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    """Tübingen, 96 px long side: small enough for many engine runs."""
    return thumbnail(CONTENT / "tubingen.jpg", 96)


@pytest.fixture(scope="session")
def starry() -> Image.Image:
    return thumbnail(STYLE / "starry_night.jpg", 128)


@pytest.fixture(scope="session")
def scream() -> Image.Image:
    return thumbnail(STYLE / "the_scream.jpg", 128)


# --- databases and the fake engine ---------------------------------------------------------------


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
    with postgres_schema(postgres_url, "t") as url:
        yield url


@pytest.fixture
def pg_url(postgres_url: str | None) -> Iterator[str]:
    """A PostgreSQL URL whose ``search_path`` is a fresh schema of this test's own."""
    if not postgres_url:
        missing_service("PostgreSQL is not configured (IMPASTO_TEST_POSTGRES_URL)")
    with postgres_schema(postgres_url, "s") as url:
        yield url


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


# --- real servers for the scale-out tests --------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(db_url: str, broker_url: str, fake_engine: bool = False, **env: str) -> Cluster:
        made.append(Cluster(tmp_path, db_url, broker_url, fake_engine, **env))
        return made[-1]

    try:
        yield make
    finally:
        for cluster in made:
            cluster.close()
