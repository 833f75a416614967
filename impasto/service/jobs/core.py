"""Jobs of every kind: create them, run them, cancel, rate and delete them, recover them after a
restart.

:func:`run_job` is *the* job function: it takes a job id and a :class:`~.context.JobContext`, finds
the job's :mod:`kind <.kinds>` and has it paint the job with a progress callback that persists
events and previews (:mod:`.progress`), and writes the result. It knows nothing about who calls it:
the in-process :mod:`~impasto.service.workers.pool` and the Celery task both call it, and nothing
about what a kind paints. Claiming a job is an atomic ``queued → running`` move of
:mod:`.lifecycle`, so a job delivered twice runs once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import delete, select, update

from ...cache import sha256_bytes
from ...errors import Cancelled, ErrorKind, ImpastoError, JobConflict, JobNotFound
from ...imageio import image_size, load_image
from ...progress import CancelToken
from .. import gallery
from ..guards.pixels import PixelBudget
from ..storage.db import Database
from ..storage.models import FINISHED, LOCAL_OWNER, Job, JobEvent, JobKind, Status
from ..storage.refs import blob_in_use
from ..storage.store import BlobPins, BlobStore
from . import kinds, lifecycle
from .context import JobContext
from .progress import Recorder

log = logging.getLogger("impasto.jobs")


@dataclass(frozen=True)
class StyleRef:
    """A job's style: a gallery name, or a stored picture (``sha``) with a display name."""

    name: str
    sha: str | None = None


# --- creating -------------------------------------------------------------------------------


def store_image(
    store: BlobStore,
    data: bytes,
    *,
    max_pixels: int,
    label: str,
    pin: Callable[[str], None] | None = None,
    budget: PixelBudget | None = None,
) -> tuple[str, Image.Image]:
    """Decode ``data`` (that is how an image is identified) and keep the original bytes, pinned
    (see :class:`~impasto.service.storage.store.BlobPins`) before they are stored when ``pin`` is given.
    With a ``budget``, its pixels (from the header) are held from it while it decodes."""
    if budget is None:
        image = load_image(data, limit=max_pixels, name=label)
    else:
        width, height = image_size(data, label, max_pixels)
        with budget.hold(width * height):
            image = load_image(data, limit=max_pixels, name=label)
    if pin is not None:
        pin(sha256_bytes(data))
    return store.put(data), image


def resolve_style(db: Database, name: str, viewer: str | None = None) -> StyleRef:
    """The gallery style ``name`` as ``viewer`` sees it (``None``: everyone's)."""
    entry = gallery.find(db, name, viewer)
    if entry is None:
        raise ImpastoError(f"no style named {name!r} in the gallery")
    return StyleRef(entry.name, entry.sha)


def create_job(
    db: Database,
    *,
    content_sha: str,
    style: StyleRef,
    options: kinds.KindOptions,
    content_name: str = "photo",
    parent_id: str | None = None,
    kind: str = JobKind.IMAGE,
    source_sha: str | None = None,
    owner: str = LOCAL_OWNER,
) -> Job:
    job = Job(
        kind=kinds.of(kind).name,  # a kind that is known
        source_sha=source_sha,
        owner=owner,
        mode=options.mode,
        content_sha=content_sha,
        content_name=content_name[:200] or "photo",
        style_sha=style.sha,
        style_name=style.name[:100],
        options=options.model_dump(exclude_none=True),
        status=Status.QUEUED.value,
        stage="queued",
        fraction=0.0,
        attempts=0,
        cancel_requested=False,
        parent_id=parent_id,
    )
    with db.session() as s:
        s.add(job)
        s.flush()
        s.add(JobEvent(job_id=job.id, kind="status", data={"kind": "status", "status": "queued"}))
    return job


def get_job(db: Database, job_id: str) -> Job:
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job


# --- running --------------------------------------------------------------------------------


def run_job(job_id: str, ctx: JobContext, cancel: CancelToken | None = None) -> Status | None:
    """Run one queued job to its end; returns its final status, or ``None`` if it was not queued."""
    token = cancel or ctx.tokens.setdefault(job_id, CancelToken())
    try:
        if not lifecycle.claim(ctx.db, job_id):
            return None
        return _execute(job_id, ctx, token)
    finally:
        ctx.tokens.pop(job_id, None)


def _execute(job_id: str, ctx: JobContext, token: CancelToken) -> Status:
    job = get_job(ctx.db, job_id)
    try:
        kind = kinds.of(job.kind)
        result = kind.paint(job, ctx, Recorder(ctx, job_id, token, unit=kind.unit), token)
    except kinds.UnknownKind as exc:
        return _finish(ctx, job_id, Status.FAILED, error=str(exc))
    except kinds.StoppedEarly as stopped:
        status = _stopped(ctx, job_id, **stopped.values)
    except Cancelled:
        status = _stopped(ctx, job_id)
    except ImpastoError as exc:
        status = _finish(ctx, job_id, Status.FAILED, error=str(exc))
    except Exception as exc:
        status = _crashed(ctx, job_id, exc)
    else:
        status = _finish(ctx, job_id, Status.SUCCEEDED, **result)
    if status != Status.QUEUED:  # ended: what its runs kept is of no more use
        kind.ended(ctx, job_id)
    return status


#: how the error of a job that crashed (a fault of the server's, not of its input) begins
INTERNAL_ERROR = "internal error"


def _crashed(ctx: JobContext, job_id: str, exc: Exception) -> Status:
    log.exception("job %s failed", job_id, exc_info=exc)
    error = f"{INTERNAL_ERROR} ({type(exc).__name__}); see the server log"
    return _finish(ctx, job_id, Status.FAILED, error=error)


def failure_kind(job: Job) -> ErrorKind:
    """Why a finished job has no picture, as an error kind: it was cancelled (a conflict with the
    request that waited for it), it crashed (internal), or its input could not be painted (invalid)."""
    if job.state == Status.CANCELLED:
        return ErrorKind.CONFLICT
    return ErrorKind.INTERNAL if (job.error or "").startswith(INTERNAL_ERROR) else ErrorKind.INVALID


def _stopped(ctx: JobContext, job_id: str, **values: Any) -> Status:
    """A run that stopped early: back to the queue when its server is stopping (unless a person
    cancelled it too), else cancelled (keeping any picture it made)."""
    if ctx.stopping.is_set() and requeue_for_restart(ctx.db, job_id):
        return Status.QUEUED
    return _finish(ctx, job_id, Status.CANCELLED, **values)  # asked for: a state, not an error


def requeue_for_restart(db: Database, job_id: str) -> bool:
    """``running → queued`` when the server stops: not the job's fault, so the run is not counted."""
    return lifecycle.requeue(
        db,
        job_id,
        "server stopping; re-queued",
        where=[Job.cancel_requested.is_(False)],
        attempts=Job.attempts - 1,
    )


def _finish(ctx: JobContext, job_id: str, status: Status, **values: Any) -> Status:
    lifecycle.move(ctx.db, job_id, status, source=Status.RUNNING, **values)
    return status


# --- after the fact -------------------------------------------------------------------------


def request_cancel(db: Database, job_id: str, tokens: dict[str, CancelToken] | None = None) -> Job:
    """Cancel a queued job at once, or ask a running one to stop (it sees the flag or the token)."""
    with db.session() as s:
        flagged = s.execute(
            update(Job).where(Job.id == job_id, Job.status.not_in(FINISHED)).values(cancel_requested=True)
        )
    if flagged.rowcount != 1:  # type: ignore[attr-defined]
        raise JobConflict(f"job already {get_job(db, job_id).status}")  # or JobNotFound
    lifecycle.move(db, job_id, Status.CANCELLED, source=Status.QUEUED)
    if tokens and job_id in tokens:
        tokens[job_id].cancel()
    return get_job(db, job_id)


def rate_job(db: Database, job_id: str, rating: int | None) -> Job:
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.result_sha is None:
            raise JobConflict("only a finished painting can be rated")
        job.rating = rating
    return get_job(db, job_id)


def delete_job(db: Database, store: BlobStore, job_id: str, pins: BlobPins | None = None) -> None:
    """Delete a job, its events, and every image no other job, saved style or upload in progress
    (``pins``) still uses."""
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.state == Status.RUNNING:
            raise JobConflict("the job is running: cancel it first")
        previews = s.scalars(
            select(JobEvent.data).where(JobEvent.job_id == job_id, JobEvent.kind == "preview")
        )
        shas = {
            job.content_sha,
            job.style_sha,
            job.result_sha,
            job.preview_sha,
            job.source_sha,
            job.video_sha,
            *(p.get("sha") for p in previews),
        }
        gone = s.execute(
            delete(Job).where(Job.id == job_id, Job.status != Status.RUNNING.value)
        )  # events cascade
        if gone.rowcount != 1:  # type: ignore[attr-defined]
            raise JobConflict("the job started running: cancel it first")
    candidates = [sha for sha in shas if isinstance(sha, str)]
    (pins or BlobPins()).delete_unused(store, candidates, lambda sha: blob_in_use(db, sha))


def resumed_further(db: Database, job_id: str) -> bool:
    """Did the job's latest run get further, in a kind that keeps what a run did (a clip's painted
    frames)? Then that run is not counted among its attempts when its worker is lost; a picture's
    run, which starts again from nothing, always is."""
    with db.session() as s:
        name = s.scalar(select(Job.kind).where(Job.id == job_id))
    try:
        resumable = name is not None and kinds.of(name).resumable
    except kinds.UnknownKind:
        return False
    return resumable and lifecycle.progressed(db, job_id)


def recover(db: Database, max_attempts: int) -> list[tuple[str, str]]:
    """After a restart: re-queue jobs a dead process was running (or fail them after too many
    tries) and return every queued ``(id, mode)``, oldest first, to be handed to workers."""
    with db.session() as s:
        interrupted = s.execute(select(Job.id, Job.attempts).where(Job.status == Status.RUNNING.value)).all()
    for job_id, attempts in interrupted:
        if resumed_further(db, job_id):  # it got further: this run does not use up an attempt
            message = "interrupted by a server restart after some progress; re-queued"
            lifecycle.requeue(db, job_id, message, attempts=Job.attempts - 1)
        elif attempts >= max_attempts:
            error = f"interrupted by a server restart ({attempts} attempts); not retried"
            lifecycle.move(db, job_id, Status.FAILED, source=Status.RUNNING, error=error)
        else:
            lifecycle.requeue(db, job_id, "interrupted by a server restart; re-queued")
        log.warning("job %s was interrupted (%d attempts)", job_id, attempts)
    with db.session() as s:
        rows = s.execute(
            select(Job.id, Job.mode).where(Job.status == Status.QUEUED.value).order_by(Job.created_at)
        ).all()
    return [(r[0], r[1]) for r in rows]
