"""Where the test services are (``.ci/services`` writes ``build/test-services.env``) and what to do
when one is missing: skip with the reason on a developer's machine, fail under ``CI=true``."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"


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


def missing_service(reason: str) -> NoReturn:
    """Fail in CI (a missing service is a broken CI), skip with the reason elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: run .ci/services first)")
    pytest.skip(f"{reason}: start it with `bash .ci/services` (PostgreSQL 127.0.0.1:55432, Redis :56379)")


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
