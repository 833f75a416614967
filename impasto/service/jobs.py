"""Jobs: create them, run them, cancel, rate and delete them.

:func:`run_job` is *the* job function: it takes a job id and a :class:`JobContext`, loads the
inputs from the blob store, calls :func:`impasto.stylize` (a video job:
:func:`~impasto.service.video_jobs.paint`) with a progress callback that persists events and
previews, and writes the result. It knows nothing about who calls it: the in-process
:mod:`~impasto.service.pool` and the Celery task both call it. Claiming a job is an atomic
``queued → running`` move of :mod:`~impasto.service.lifecycle`, so a job delivered twice runs once.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..api import mode_options, modes_of, stylize
from ..cache import sha256_bytes
from ..errors import Cancelled, Conflict, ImpastoError, InvalidInput, NotFound
from ..imageio import encode_image, fit_long_side, image_size, load_image, open_image
from ..progress import CancelToken, DoneEvent, Event, IterationEvent, PreviewEvent, StageEvent
from ..video import VideoLimits
from . import gallery, lifecycle, video_jobs
from .blobdb import make_store
from .config import Settings
from .db import Database
from .models import FINISHED, LOCAL_OWNER, Job, JobEvent, JobKind, Status
from .pixels import PixelBudget
from .refs import blob_in_use
from .store import BlobNotFound, BlobPins, BlobStore

log = logging.getLogger("impasto.jobs")

Stylize = Callable[..., Image.Image]
PREVIEW_SIDE = 768
QUALITY_PREVIEW_EVERY = 5  # iterations between previews the quality engine sends


#: Job options that are engine options of one mode only (:func:`impasto.api.mode_options` says which).
ENGINE_FIELDS = (
    "strength",
    "brush",
    "iterations",
    "style_weight",
    "content_weight",
    "style_loss",
    "time_budget",
)


def _described(option: str, text: str) -> str:
    """``text`` prefixed with the mode that takes ``option``, when only one does."""
    modes = modes_of(option)
    return f"{modes[0]} mode: {text}" if len(modes) == 1 else text


MAX_REGIONS = 8


class JobRegion(BaseModel):
    """A part of the picture with a style of its own, or kept (see :mod:`impasto.masks`)."""

    model_config = ConfigDict(extra="forbid")

    mask: str = Field(
        description="a greyscale picture as Base64 (a data URL is fine): white = the region, soft "
        "edges allowed; the photo's shape (within 5%)",
        max_length=16_000_000,
    )
    style: str = Field(
        description='a built-in gallery painting for this part, or "keep" for the photo itself',
        min_length=1,
        max_length=100,
    )


def decode_mask(text: str) -> bytes:
    """A region's mask from its Base64 text (refused with a message when it is not Base64)."""
    body = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    try:
        return base64.b64decode(body.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("a region's mask is not valid Base64") from None


class JobOptions(BaseModel):
    """What to paint and how. ``None`` leaves an option to the engine's default."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fast", "quality"] = "fast"
    size: int | None = Field(
        default=None,
        ge=64,
        le=2048,
        description="long side of the result, pixels (default: the photo's size; quality mode up to 2048)",
    )
    preserve_color: Literal["none", "luminance", "histogram"] = "none"
    strength: float | None = Field(
        default=None, ge=0.0, le=1.0, description=_described("strength", "0 = photo, 1 = full style")
    )
    brush: Literal["fine", "medium", "broad", "native"] | Annotated[float, Field(ge=0.0, le=1.0)] | None = (
        Field(
            default=None,
            description=_described("brush", "size of the marks: fine, medium (default), broad, 0 to 1"),
        )
    )
    iterations: int | None = Field(
        default=None,
        ge=1,
        le=2000,
        description=_described(
            "iterations",
            "steps in all (default 26 up to 512 px, a few more per larger scale; 13 from a draft)",
        ),
    )
    style_weight: float | None = Field(
        default=None, gt=0, le=1e9, description=_described("style_weight", "weight of style loss")
    )
    content_weight: float | None = Field(
        default=None, gt=0, le=1e9, description=_described("content_weight", "weight of content loss")
    )
    style_loss: Literal["gram", "w2", "sliced"] | None = Field(
        default=None, description=_described("style_loss", "how style is compared (w2, gram, sliced)")
    )
    time_budget: float | None = Field(
        default=None,
        ge=1,
        le=3600,
        description=_described("time_budget", "finish in about this many seconds"),
    )

    regions: list[JobRegion] | None = Field(
        default=None,
        max_length=MAX_REGIONS,
        description="parts of the picture in styles of their own, or kept; later ones lie over earlier "
        "ones, and the job's style paints what none claims",
    )

    def for_mode(self) -> JobOptions:
        """These options without the ones the mode does not take."""
        return self.model_copy(update={n: None for n in ENGINE_FIELDS if n not in mode_options(self.mode)})

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`impasto.stylize`: only the options this mode knows."""
        kwargs: dict[str, Any] = {"mode": self.mode, "preserve_color": self.preserve_color}
        if self.size is not None:  # else the engine's default: the photo's size (quality: up to 2048 px)
            kwargs["size"] = self.size
        options = self.for_mode()
        kwargs.update({n: getattr(options, n) for n in ENGINE_FIELDS if getattr(options, n) is not None})
        if self.mode == "quality":
            kwargs["preview_every"] = QUALITY_PREVIEW_EVERY
        if self.regions:
            kwargs["regions"] = [(decode_mask(r.mask), r.style) for r in self.regions]
        return kwargs


class JobNotFound(NotFound):
    """No job with that id."""

    def __init__(self, job_id: str) -> None:
        super().__init__("no such job")
        self.job_id = job_id


class JobConflict(Conflict):
    """The job is in a state that does not allow this (e.g. rating an unfinished job)."""


@dataclass(frozen=True)
class StyleRef:
    """A job's style: a gallery name, or a stored picture (``sha``) with a display name."""

    name: str
    sha: str | None = None


@dataclass
class JobContext:
    """What a worker needs to run jobs; any process can build one from :class:`Settings`."""

    db: Database
    store: BlobStore
    stylize: Stylize | None = None  # None: the real impasto.stylize
    max_pixels: int = 40_000_000
    preview_interval: float = 0.5
    event_interval: float = 0.2
    cancel_poll_interval: float = 0.5
    tokens: dict[str, CancelToken] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)  # set: runs stop to be re-queued
    video_limits: VideoLimits = field(default_factory=VideoLimits)
    video_dir: Path = Path("data/video-work")  # video jobs' painted frames, by job id (see video_jobs)

    @classmethod
    def from_settings(cls, settings: Settings, stylize: Stylize | None = None) -> JobContext:
        """A context on the settings' database and blob store, applying their pixel limit."""
        db = Database(settings.db_url)
        return cls(
            db,
            make_store(settings, db),
            stylize,
            max_pixels=settings.max_pixels,
            preview_interval=settings.preview_interval,
            video_limits=video_jobs.limits_of(
                settings.video_max_seconds, settings.video_max_pixels, settings.video_max_frames
            ),
            video_dir=settings.video_work_dir,
        )

    def engine(self) -> Stylize:
        return self.stylize or stylize


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
    (see :class:`~impasto.service.store.BlobPins`) before they are stored when ``pin`` is given.
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
    options: JobOptions | video_jobs.VideoOptions,
    content_name: str = "photo",
    parent_id: str | None = None,
    kind: JobKind = JobKind.IMAGE,
    source_sha: str | None = None,
    owner: str = LOCAL_OWNER,
) -> Job:
    job = Job(
        kind=kind.value,
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


def job_options(job: Job) -> JobOptions:
    return JobOptions.model_validate(job.options)


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
    if job.kind == JobKind.VIDEO:
        status = _execute_video(job, ctx, token)
        if status != Status.QUEUED:  # ended: its painted frames are of no more use
            video_jobs.discard(ctx.video_dir, job_id)
        return status
    recorder = _Recorder(ctx, job_id, token)
    try:
        content = ctx.store.get(job.content_sha)
        style: Any = ctx.store.get(job.style_sha) if job.style_sha else job.style_name
        kwargs = job_options(job).engine_kwargs()
        image = ctx.engine()(
            content, style, progress=recorder, cancel=token, max_pixels=ctx.max_pixels, **kwargs
        )
    except Cancelled:
        return _stopped(ctx, job_id)
    except ImpastoError as exc:
        return _finish(ctx, job_id, Status.FAILED, error=str(exc))
    except Exception as exc:
        return _crashed(ctx, job_id, exc)
    sha = ctx.store.put(encode_image(image, "PNG"))
    result = {"result_sha": sha, "result_width": image.width, "result_height": image.height}
    if token.cancelled:  # the quality engine hands back its best picture so far
        return _stopped(ctx, job_id, **result)
    return _finish(ctx, job_id, Status.SUCCEEDED, **result)


def _execute_video(job: Job, ctx: JobContext, token: CancelToken) -> Status:
    """A clip, frame by frame; a run that stops keeps no result (only its frames, for a re-run)."""
    try:
        result = video_jobs.paint(job, ctx, _Recorder(ctx, job.id, token, unit="frame"), token)
    except Cancelled:
        return _stopped(ctx, job.id)
    except ImpastoError as exc:
        return _finish(ctx, job.id, Status.FAILED, error=str(exc))
    except Exception as exc:
        return _crashed(ctx, job.id, exc)
    return _finish(ctx, job.id, Status.SUCCEEDED, **result)  # every frame is painted: done


def _crashed(ctx: JobContext, job_id: str, exc: Exception) -> Status:
    log.exception("job %s failed", job_id, exc_info=exc)
    return _finish(
        ctx, job_id, Status.FAILED, error=f"internal error ({type(exc).__name__}); see the server log"
    )


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


class _Recorder:
    """The progress callback: persists events (throttled) and previews, and polls for cancellation."""

    def __init__(self, ctx: JobContext, job_id: str, token: CancelToken, unit: str | None = None) -> None:
        self.ctx, self.job_id, self.token = ctx, job_id, token
        self.unit = unit  # "frame": a step is a frame of a clip
        self.last_iteration = self.last_preview = self.last_poll = 0.0

    def __call__(self, event: Event) -> None:
        now = time.monotonic()
        try:
            self._record(event, now)
            if now - self.last_poll >= self.ctx.cancel_poll_interval:
                self.last_poll = now
                self._poll_cancel()
        except SQLAlchemyError:
            log.warning("job %s: could not record progress", self.job_id, exc_info=True)

    def _record(self, event: Event, now: float) -> None:
        data = event.to_dict()
        job_values: dict[str, Any] = {}
        if isinstance(event, PreviewEvent):
            if now - self.last_preview < self.ctx.preview_interval:
                return
            self.last_preview = now
            preview = (
                fit_long_side(event.image, PREVIEW_SIDE)
                if max(event.image.size) > PREVIEW_SIDE
                else event.image
            )
            data["sha"] = job_values["preview_sha"] = self.ctx.store.put(
                encode_image(preview.convert("RGB"), "JPEG", 85)
            )
        elif isinstance(event, IterationEvent):
            last_of_scale = event.iteration == event.iterations
            if now - self.last_iteration < self.ctx.event_interval and not last_of_scale:
                return
            self.last_iteration = now
            stage = f"painting {event.scale}/{event.scales}"
            if self.unit:
                stage = f"{self.unit} {event.step} of {event.steps}"
            job_values.update(fraction=event.fraction, eta=event.eta, stage=stage)
        elif isinstance(event, StageEvent):
            job_values["stage"] = event.stage[:100]
        elif isinstance(event, DoneEvent):
            job_values["eta"] = 0.0
        with self.ctx.db.session() as s:
            s.add(
                JobEvent(job_id=self.job_id, kind=str(data.get("kind", "event"))[:16], data=_jsonable(data))
            )
            if job_values:
                s.execute(update(Job).where(Job.id == self.job_id).values(**job_values))

    def _poll_cancel(self) -> None:
        with self.ctx.db.session() as s:
            wanted = s.scalar(select(Job.cancel_requested).where(Job.id == self.job_id))
        if wanted is None or wanted:
            self.token.cancel()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


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


def recover(db: Database, max_attempts: int) -> list[tuple[str, str]]:
    """After a restart: re-queue jobs a dead process was running (or fail them after too many
    tries) and return every queued ``(id, mode)``, oldest first, to be handed to workers."""
    with db.session() as s:
        interrupted = s.execute(select(Job.id, Job.attempts).where(Job.status == Status.RUNNING.value)).all()
    for job_id, attempts in interrupted:
        if lifecycle.progressed(db, job_id):  # it got further: this run does not use up an attempt
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


def ahead_of(db: Database, job: Job) -> int | None:
    """How many queued jobs of the same mode were queued before ``job`` (``None`` unless it is queued).

    Each mode has its own workers, so only jobs of the same mode stand in its way."""
    if job.status != Status.QUEUED.value:
        return None
    earlier = or_(Job.created_at < job.created_at, and_(Job.created_at == job.created_at, Job.id < job.id))
    with db.session() as s:
        query = select(func.count()).where(Job.status == Status.QUEUED.value, Job.mode == job.mode, earlier)
        return int(s.scalar(query) or 0)


def waiting(db: Database, owner: str | None = None) -> dict[str, int]:
    """How many jobs (of ``owner``) are queued, per mode."""
    query = select(Job.mode, func.count()).where(Job.status == Status.QUEUED.value)
    if owner is not None:
        query = query.where(Job.owner == owner)
    with db.session() as s:
        rows = s.execute(query.group_by(Job.mode))
        return {str(mode): int(count) for mode, count in rows}


def find_jobs(
    db: Database,
    *,
    status: str | None = None,
    style: str | None = None,
    min_rating: int | None = None,
    limit: int = 50,
    offset: int = 0,
    count: bool = False,
    owner: str | None = None,
) -> tuple[list[Job], int | None]:
    """Jobs, newest first, filtered (``owner``: only theirs); and how many match in all when
    ``count`` is asked for."""
    query = select(Job)
    if owner is not None:
        query = query.where(Job.owner == owner)
    if status:
        query = query.where(Job.status == status)
    if style:
        query = query.where(Job.style_name == style)
    if min_rating:
        query = query.where(Job.rating >= min_rating)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0 if count else None
        jobs = s.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)).all()
        return list(jobs), total


def job_style_names(db: Database, owner: str | None = None) -> list[str]:
    """Every style name some job (of ``owner``) used, sorted (the history page's filter)."""
    query = select(Job.style_name).distinct()
    if owner is not None:
        query = query.where(Job.owner == owner)
    with db.session() as s:
        return sorted(s.scalars(query).all())


def preview_sha(db: Database, job_id: str, event_id: int) -> str:
    """The picture of one of the job's preview events."""
    with db.session() as s:
        event = s.get(JobEvent, event_id)
        sha = event.data.get("sha") if event is not None and event.job_id == job_id else None
    if not isinstance(sha, str):
        raise BlobNotFound("preview")
    return sha


def events_after(
    db: Database, job_id: str, after: int, limit: int = 200
) -> tuple[list[JobEvent], str | None]:
    """Events with id > ``after`` and the job's status (``None`` when the job is gone)."""
    with db.session() as s:
        status = s.scalar(select(Job.status).where(Job.id == job_id))
        events = list(
            s.scalars(
                select(JobEvent)
                .where(JobEvent.job_id == job_id, JobEvent.id > after)
                .order_by(JobEvent.id)
                .limit(limit)
            )
        )
    return events, status


def thumbnail(data: bytes, side: int) -> bytes:
    source = open_image(io.BytesIO(data))  # only the formats the docs list, as everywhere
    source.draft("RGB", (side, side))
    image = source.convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return encode_image(image, "JPEG", 85)


__all__ = ["FINISHED", "JobContext", "JobOptions", "StyleRef", "create_job", "run_job"]
