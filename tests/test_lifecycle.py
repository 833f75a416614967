"""The job state machine: every allowed transition takes (once, with its event), every other one is
refused and leaves the job and its events alone, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from impasto.service.jobs import lifecycle
from impasto.service.jobs.core import StyleRef, create_job, get_job
from impasto.service.jobs.pictures import JobOptions
from impasto.service.storage.db import Database
from impasto.service.storage.models import Job, JobEvent, Status

PAIRS = list(itertools.product(Status, Status))
EXPECTED_ALLOWED = {
    (Status.QUEUED, Status.RUNNING),
    (Status.QUEUED, Status.CANCELLED),
    (Status.QUEUED, Status.FAILED),
    (Status.RUNNING, Status.SUCCEEDED),
    (Status.RUNNING, Status.FAILED),
    (Status.RUNNING, Status.CANCELLED),
    (Status.RUNNING, Status.QUEUED),
}


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def _job_in(db: Database, status: Status) -> str:
    job = create_job(db, content_sha="0" * 64, style=StyleRef("starry-night"), options=JobOptions())
    with db.session() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.status = status.value
    return job.id


def _events(db: Database, job_id: str) -> list[dict[str, object]]:
    with db.session() as s:
        rows = s.scalars(
            select(JobEvent.data)
            .where(JobEvent.job_id == job_id, JobEvent.kind == "status")
            .order_by(JobEvent.id)
        )
        return [dict(r) for r in rows]


def test_the_table_is_the_documented_one() -> None:
    assert {(a, b) for a, b in PAIRS if lifecycle.allowed(a, b)} == EXPECTED_ALLOWED
    assert all(not lifecycle.TRANSITIONS[s] for s in Status if s.finished)


def test_every_transition(db: Database) -> None:
    for source, target in PAIRS:
        job_id = _job_in(db, source)
        before = _events(db, job_id)
        moved = lifecycle.move(db, job_id, target, error="why" if target.finished else None)
        job = get_job(db, job_id)
        after = _events(db, job_id)
        if (source, target) in EXPECTED_ALLOWED:
            assert moved, (source, target)
            assert job.status == target.value
            assert after[len(before) :] == [
                {"kind": "status", "status": target.value, **({"error": "why"} if target.finished else {})}
            ]
            assert (job.finished_at is not None) == target.finished
        else:
            assert not moved, (source, target)
            assert job.status == source.value and after == before


def test_bookkeeping_of_a_run(db: Database) -> None:
    job_id = _job_in(db, Status.QUEUED)
    assert lifecycle.claim(db, job_id)
    assert not lifecycle.claim(db, job_id)  # delivered twice: claimed once
    running = get_job(db, job_id)
    assert running.attempts == 1 and running.started_at is not None and running.stage == "starting"
    assert lifecycle.requeue(db, job_id, "its worker was lost")
    assert _events(db, job_id)[-1] == {"kind": "status", "status": "queued", "message": "its worker was lost"}
    assert lifecycle.claim(db, job_id) and get_job(db, job_id).attempts == 2
    assert lifecycle.move(db, job_id, Status.SUCCEEDED, source=Status.RUNNING, result_sha="a" * 64)
    done = get_job(db, job_id)
    assert done.fraction == 1.0 and done.result_sha == "a" * 64 and done.stage == "succeeded"


def test_a_guard_narrows_the_move(db: Database) -> None:
    job_id = _job_in(db, Status.RUNNING)
    with db.session() as s:
        row = s.get(Job, job_id)
        assert row is not None
        row.cancel_requested = True
    assert not lifecycle.requeue(db, job_id, "stopping", where=[Job.cancel_requested.is_(False)])
    assert get_job(db, job_id).status == "running"


def test_an_impossible_source_is_a_programming_error(db: Database) -> None:
    job_id = _job_in(db, Status.SUCCEEDED)
    with pytest.raises(ValueError, match="cannot go from succeeded to queued"):
        lifecycle.move(db, job_id, Status.QUEUED, source=Status.SUCCEEDED)
