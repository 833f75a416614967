"""The periodic sweep: old jobs and orphaned pictures go, and jobs nobody is running any more fail.

- Retention (``IMPASTO_RETENTION_DAYS``; default: keep forever): finished or queued jobs older than
  that are deleted with their events and every picture nothing else uses (as a user's delete).
- Orphans: a picture stored by a request that then failed (a bad second photo, a full queue) is
  referred to by nothing; once older than an hour and not pinned by an upload in progress, it goes.
- Video work folders: the painted frames of video jobs that ended without deleting them (failed
  after losing their worker too often, or deleted while waiting for a re-run).
- Stale runs (scale-out only): a job a Celery worker was running when it died is redelivered by
  Redis; if Redis lost its data too, nothing ever would, and the job said "running" forever. A
  running job with no progress event for ``stale_after`` seconds is failed with that reason.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ...errors import JobConflict, JobNotFound
from ..config import Settings
from ..jobs import kinds, lifecycle
from ..jobs.core import delete_job
from ..storage.db import Database
from ..storage.models import Job, JobEvent, Status, utcnow
from ..storage.refs import blob_in_use
from ..storage.store import BlobPins, BlobStore

log = logging.getLogger("impasto.sweep")

ORPHAN_GRACE = timedelta(hours=1)  # far longer than any upload takes to become a job


@dataclass
class SweepReport:
    jobs_deleted: int = 0
    orphans_deleted: int = 0
    stale_failed: int = 0
    work_folders_deleted: int = 0


def sweep(
    db: Database, store: BlobStore, pins: BlobPins, settings: Settings, now: datetime | None = None
) -> SweepReport:
    now = now or utcnow()
    report = SweepReport()
    if settings.retention_days is not None:
        cutoff = now - timedelta(days=settings.retention_days)
        with db.session() as s:
            old = list(
                s.scalars(select(Job.id).where(Job.created_at < cutoff, Job.status != Status.RUNNING.value))
            )
        for job_id in old:
            try:
                delete_job(db, store, job_id, pins)
                report.jobs_deleted += 1
            except (JobNotFound, JobConflict):  # deleted or started meanwhile
                pass
    old_blobs = list(store.older_than(now - ORPHAN_GRACE))
    report.orphans_deleted = len(pins.delete_unused(store, old_blobs, lambda sha: blob_in_use(db, sha)))
    report.work_folders_deleted = sum(kind.sweep(db, settings.video_work_dir) for kind in kinds.every())
    if settings.broker_url:
        report.stale_failed = _fail_stale(db, now - timedelta(seconds=settings.stale_after))
    if report != SweepReport():
        log.info(
            "sweep: %d old jobs deleted, %d orphaned pictures deleted, %d stale runs failed, "
            "%d work folders deleted",
            report.jobs_deleted,
            report.orphans_deleted,
            report.stale_failed,
            report.work_folders_deleted,
        )
    return report


def _fail_stale(db: Database, cutoff: datetime) -> int:
    last_event = (
        select(JobEvent.job_id, func.max(JobEvent.created_at).label("at"))
        .group_by(JobEvent.job_id)
        .subquery()
    )
    with db.session() as s:
        stale = list(
            s.scalars(
                select(Job.id)
                .join(last_event, last_event.c.job_id == Job.id, isouter=True)
                .where(
                    Job.status == Status.RUNNING.value,
                    func.coalesce(last_event.c.at, Job.started_at) < cutoff,
                )
            )
        )
    reason = "the worker running this job stopped answering; please try again"
    return sum(
        lifecycle.move(db, job_id, Status.FAILED, source=Status.RUNNING, error=reason) for job_id in stale
    )


class Sweeper:
    """Runs :func:`sweep` every ``settings.sweep_interval`` seconds in a daemon thread."""

    def __init__(self, db: Database, store: BlobStore, pins: BlobPins, settings: Settings) -> None:
        self.db, self.store, self.pins, self.settings = db, store, pins, settings
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="impasto-sweep", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def _run(self) -> None:
        while not self.stopping.wait(self.settings.sweep_interval):
            try:
                sweep(self.db, self.store, self.pins, self.settings)
            except Exception:  # a database blip must not end the sweeping
                log.warning("sweep failed; trying again later", exc_info=True)
