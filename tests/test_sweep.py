"""The periodic sweep: retention, orphaned pictures, and runs whose worker vanished with Redis."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from support.fakes import FakeEngine
from support.images import png
from support.web import client_for, wait_for

from impasto.cache import sha256_bytes
from impasto.errors import OptionsError
from impasto.service.config import Settings
from impasto.service.jobs import lifecycle
from impasto.service.jobs.core import StyleRef, create_job, get_job
from impasto.service.jobs.pictures import JobOptions
from impasto.service.storage.db import Database
from impasto.service.storage.models import Job, JobEvent, Status, utcnow
from impasto.service.storage.store import BlobPins, FileStore
from impasto.service.workers.sweep import sweep


def _job(client: object, color: tuple[int, int, int]) -> str:
    files = [
        ("content", ("p.png", png(40, 30, color), "image/png")),
        ("style", ("s.png", png(), "image/png")),
    ]
    job_id: str = client.post("/api/v1/jobs", files=files).json()["jobs"][0]["id"]  # type: ignore[attr-defined]
    return job_id


def test_retention_deletes_old_jobs_and_their_pictures_only(tmp_path: Path, db_url: str) -> None:
    with client_for(tmp_path, db_url, FakeEngine()) as client:
        old, new = _job(client, (1, 2, 3)), _job(client, (4, 5, 6))
        wait_for(client, old), wait_for(client, new)
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        with rt.db.session() as s:
            s.execute(update(Job).where(Job.id == old).values(created_at=utcnow() - timedelta(days=40)))
        assert sweep(rt.db, rt.store, rt.pins, rt.settings).jobs_deleted == 0  # keep forever by default
        report = sweep(rt.db, rt.store, rt.pins, replace(rt.settings, retention_days=30))
        assert report.jobs_deleted == 1
        assert client.get(f"/api/v1/jobs/{old}").status_code == 404
        assert client.get(f"/api/v1/jobs/{new}").status_code == 200
        assert not rt.store.exists(sha256_bytes(png(40, 30, (1, 2, 3))))
        assert rt.store.exists(sha256_bytes(png(40, 30, (4, 5, 6))))
        assert rt.store.exists(sha256_bytes(png()))  # the style: the new job still uses it


def test_orphaned_pictures_go_once_old_unless_pinned(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.migrate()
    store, pins, settings = FileStore(tmp_path / "blobs"), BlobPins(), Settings(data_dir=tmp_path)
    orphan, fresh, pinned = store.put(b"orphan"), store.put(b"fresh"), store.put(b"pinned")
    past = time.time() - 2 * 3600
    for sha in (orphan, pinned):
        os.utime(tmp_path / "blobs" / sha[:2] / sha, (past, past))
    with pins.hold() as pin:
        pin(pinned)
        assert sweep(db, store, pins, settings).orphans_deleted == 1
    assert not store.exists(orphan) and store.exists(fresh) and store.exists(pinned)
    db.dispose()


def test_a_run_whose_worker_vanished_fails_in_scale_out(tmp_path: Path, db_url: str) -> None:
    db = Database(db_url)
    db.migrate()
    store = FileStore(tmp_path / "blobs")
    options = JobOptions(mode="fast", size=64)
    jobs = [
        create_job(db, content_sha=store.put(png()), style=StyleRef("x", None), options=options) for _ in "ab"
    ]
    for job in jobs:
        assert lifecycle.claim(db, job.id)
    with db.session() as s:  # the first started two hours ago and said nothing since
        two_hours_ago = utcnow() - timedelta(hours=2)
        s.execute(update(Job).where(Job.id == jobs[0].id).values(started_at=two_hours_ago))
        s.execute(update(JobEvent).where(JobEvent.job_id == jobs[0].id).values(created_at=two_hours_ago))
    embedded = Settings(data_dir=tmp_path)
    assert sweep(db, store, BlobPins(), embedded).stale_failed == 0  # in-process: the pool owns its runs
    scaled = replace(embedded, broker_url="redis://127.0.0.1:1/0")
    assert sweep(db, store, BlobPins(), scaled).stale_failed == 1
    gone, alive = get_job(db, jobs[0].id), get_job(db, jobs[1].id)
    assert gone.state == Status.FAILED and "stopped answering" in (gone.error or "")
    assert alive.state == Status.RUNNING
    db.dispose()


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf", "soon"])
def test_retention_days_must_be_a_positive_number(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("IMPASTO_RETENTION_DAYS", value)
    with pytest.raises(OptionsError, match="IMPASTO_RETENTION_DAYS"):
        Settings.from_env()
    monkeypatch.setenv("IMPASTO_RETENTION_DAYS", "30")
    assert Settings.from_env().retention_days == 30.0
