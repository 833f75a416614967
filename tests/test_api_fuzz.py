"""Property-based fuzzing of the REST API from its own OpenAPI document (schemathesis).

Bounded: a fixed number of examples per operation, derandomised so CI runs are repeatable. Every
response must be documented, match its schema, and never be a 500. The service is started once for
the module (the ASGI wrapper below keeps schemathesis from starting and stopping it per call).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import positive_data_acceptance
from support.fakes import FakeEngine

from impasto.service.config import Settings
from impasto.web import create_app

DATA = Path(tempfile.mkdtemp(prefix="impasto-fuzz-"))
APP = create_app(
    Settings(
        data_dir=DATA,
        jobs_per_minute=1e6,
        jobs_burst=100_000,
        preview_interval=0.0,
        sync_timeout=5.0,
        allowed_hosts=("testserver",),  # the Host header of schemathesis's ASGI client
    ),
    stylize=FakeEngine(),
)


async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await APP(scope, receive, send)


schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", without_lifespan)


@pytest.fixture(scope="module", autouse=True)
def running_service() -> Iterator[None]:
    runtime = APP.state.runtime
    runtime.start()
    yield
    runtime.stop()


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_api_holds_up_to_fuzzing(case: Any) -> None:
    # Creating a job needs a photo *and* a style, which the schema cannot say of optional fields:
    # schema-valid requests may get a 422, so "valid data must be accepted" is left out.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
