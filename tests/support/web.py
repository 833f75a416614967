"""An app under test: a TestClient over a fresh app, and waiting for a job to reach a state."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from impasto.service.config import Settings
from impasto.web import create_app


def client_for(tmp_path: Path, db_url: str, stylize: Any, **settings: Any) -> TestClient:
    """A TestClient over a fresh app (use it as a context manager: that runs startup/shutdown)."""
    fetcher = settings.pop("fetcher", None)
    base: dict[str, Any] = {
        "jobs_per_minute": 6000.0,
        "jobs_burst": 1000,
        "max_queued": 10_000,
        "max_queued_quality": 10_000,
        "max_queued_per_owner": 10_000,
        "preview_interval": 0.0,
        "allowed_hosts": ("127.0.0.1", "localhost", "[::1]", "testserver"),  # TestClient's Host
    }
    base.update(settings)
    config = Settings(data_dir=tmp_path / "data", database_url=db_url, **base)
    return KeepsCookie(create_app(config, stylize=stylize, fetcher=fetcher))


class KeepsCookie(TestClient):
    """A keyless client that keeps the identity cookie the server sets, as ``curl -c jar -b jar``
    does: it makes one GET when it starts, since a write with no key and no cookie is refused."""

    def __enter__(self) -> KeepsCookie:
        super().__enter__()
        self.get("/")
        return self


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_token(client: TestClient) -> str:
    """The CSRF token a page gives this client's identity (visiting it sets the identity cookie)."""
    match = CSRF_META.search(client.get("/").text)
    assert match, "no CSRF token on the page"
    return match.group(1)


POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.DOTALL | re.IGNORECASE)


TOKEN_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="[^"]+">')


def forms_without_token(page: str) -> list[str]:
    """The state-changing forms of a page that do not carry its CSRF token (a plain post of one,
    without the pages' script, would be refused)."""
    return [body[:80] for body in POST_FORM.findall(page) if not TOKEN_FIELD.search(body)]


def as_browser(client: TestClient) -> TestClient:
    """The client with an identity cookie, sending its CSRF token with every request as the pages'
    forms and scripts do."""
    client.headers["X-CSRF-Token"] = csrf_token(client)
    return client


def wait_for(
    client: TestClient,
    job_id: str,
    statuses: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
    timeout: float = 60.0,
) -> dict[str, Any]:
    """The job once its status is one of ``statuses`` (a generous bound: a loaded machine is slow)."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not reach {statuses}: {job}")
