"""A kind of job is a small object (:mod:`impasto.service.jobs.kinds`): a toy kind registered here
runs through the generic job machinery (create, claim, run, cancel, recover, sweep, the worker
pool) with no change to it."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image, ImageOps
from pydantic import BaseModel
from support.images import png

from impasto.errors import Cancelled, ImpastoError
from impasto.progress import CancelToken, ProgressCallback, StageEvent
from impasto.service.config import Settings
from impasto.service.jobs import kinds, lifecycle
from impasto.service.jobs.context import JobContext
from impasto.service.jobs.core import StyleRef, create_job, get_job, recover, request_cancel, run_job
from impasto.service.storage.db import Database
from impasto.service.storage.models import Job, JobEvent, Status
from impasto.service.storage.store import BlobPins, FileStore
from impasto.service.workers.pool import WorkerPool
from impasto.service.workers.sweep import sweep


class MirrorOptions(BaseModel):
    mode: str = "fast"  # whose workers run it
    fail: bool = False
    wait: bool = False  # stop at the cancel token, as a long run would


class Mirror:
    """A toy kind: the photo, mirrored."""

    name: ClassVar[str] = "mirror"
    options: ClassVar[type[BaseModel]] = MirrorOptions
    unit: ClassVar[str | None] = None
    resumable: ClassVar[bool] = False

    def __init__(self) -> None:
        self.ended_ids: list[str] = []
        self.swept_dirs: list[Path] = []

    def paint(
        self, job: Job, ctx: JobContext, progress: ProgressCallback, cancel: CancelToken
    ) -> dict[str, Any]:
        options = MirrorOptions.model_validate(job.options)
        progress(StageEvent("mirroring"))
        if options.fail:
            raise ImpastoError("the mirror is cracked")
        if options.wait:
            cancel.cancel()  # as if a person had asked
            raise Cancelled("stopped")
        photo = Image.open(io.BytesIO(ctx.store.get(job.content_sha))).convert("RGB")
        out = io.BytesIO()
        ImageOps.mirror(photo).save(out, "PNG")
        return {"result_sha": ctx.store.put(out.getvalue()), "result_width": photo.width}

    def ended(self, ctx: JobContext, job_id: str) -> None:
        self.ended_ids.append(job_id)

    def sweep(self, db: Database, work_dir: Path) -> int:
        self.swept_dirs.append(work_dir)
        return 3

    def served(self, job: Job) -> dict[str, kinds.Served]:
        return {"original": kinds.Served(job.content_sha, "image/png")} if job.result_sha else {}


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    kind = Mirror()
    kinds.register(kind)
    yield kind
    kinds.unregister(kind.name)


@pytest.fixture
def ctx(tmp_path: Path, db_url: str) -> Iterator[JobContext]:
    db = Database(db_url)
    db.migrate()
    yield JobContext(db, FileStore(tmp_path / "blobs"), preview_interval=0.0)
    db.dispose()


def _photo() -> bytes:
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, 10, 30))  # a blue band on the left
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _mirror_job(ctx: JobContext, **options: Any) -> str:
    sha = ctx.store.put(_photo())
    job = create_job(
        ctx.db, content_sha=sha, style=StyleRef("none"), options=MirrorOptions(**options), kind="mirror"
    )
    return job.id


def test_a_new_kind_runs_through_the_generic_machinery(ctx: JobContext, mirror: Mirror) -> None:
    job_id = _mirror_job(ctx)
    assert get_job(ctx.db, job_id).kind == "mirror"
    assert run_job(job_id, ctx) == Status.SUCCEEDED
    job = get_job(ctx.db, job_id)
    assert job.result_sha is not None and job.result_width == 40 and job.stage == "succeeded"
    result = Image.open(io.BytesIO(ctx.store.get(job.result_sha))).convert("RGB")
    assert result.getpixel((35, 15)) == (20, 20, 220) and result.getpixel((5, 15)) == (200, 30, 30)
    assert mirror.ended_ids == [job_id]  # told once, when it ended
    with ctx.db.session() as s:
        stages = [e.data.get("stage") for e in s.query(JobEvent).filter_by(job_id=job_id, kind="stage")]
    assert stages == ["mirroring"]  # its progress went through the shared recorder
    assert run_job(job_id, ctx) is None  # delivered twice: runs once


def test_a_kinds_errors_and_cancels_end_its_jobs_as_any_jobs(ctx: JobContext, mirror: Mirror) -> None:
    failing, cancelled = _mirror_job(ctx, fail=True), _mirror_job(ctx, wait=True)
    assert run_job(failing, ctx) == Status.FAILED
    assert get_job(ctx.db, failing).error == "the mirror is cracked"
    assert run_job(cancelled, ctx) == Status.CANCELLED
    queued = _mirror_job(ctx)
    assert request_cancel(ctx.db, queued).state == Status.CANCELLED
    assert mirror.ended_ids == [failing, cancelled]


def test_the_worker_pool_runs_a_new_kind(ctx: JobContext, mirror: Mirror) -> None:
    job_id = _mirror_job(ctx)
    pool = WorkerPool(ctx, fast_workers=1)
    pool.start()  # hands it the queued job
    try:
        deadline = time.monotonic() + 30
        while not get_job(ctx.db, job_id).state.finished and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        pool.stop()
    assert get_job(ctx.db, job_id).state == Status.SUCCEEDED


def test_recovery_and_the_sweep_ask_each_kind(tmp_path: Path, ctx: JobContext, mirror: Mirror) -> None:
    job_id = _mirror_job(ctx)
    assert lifecycle.claim(ctx.db, job_id)  # its process died while running it
    assert recover(ctx.db, max_attempts=1) == []  # not resumable: its one attempt is used up
    assert get_job(ctx.db, job_id).state == Status.FAILED
    settings = Settings(data_dir=tmp_path)
    report = sweep(ctx.db, ctx.store, BlobPins(), settings)
    assert report.work_folders_deleted == 3 and mirror.swept_dirs == [settings.video_work_dir]


def test_a_job_of_a_kind_this_version_does_not_know_fails_with_a_reason(ctx: JobContext) -> None:
    with pytest.raises(kinds.UnknownKind):
        create_job(ctx.db, content_sha="0" * 64, style=StyleRef("x"), options=MirrorOptions(), kind="nope")
    sha = ctx.store.put(png())
    with ctx.db.session() as s:  # a row a newer version wrote
        s.add(Job(kind="nope", mode="fast", content_sha=sha, style_name="x", options={}, status="queued"))
    with ctx.db.session() as s:
        job_id = s.query(Job.id).filter_by(kind="nope").scalar()
    assert run_job(job_id, ctx) == Status.FAILED
    assert "does not paint jobs of kind 'nope'" in (get_job(ctx.db, job_id).error or "")
