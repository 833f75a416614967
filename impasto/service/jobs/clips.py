"""Video jobs on the job system: a clip painted frame by frame by :func:`impasto.stylize_video`.

A video job is a row of the ordinary ``jobs`` table with ``kind = "video"``, so it is queued,
claimed, cancelled, re-queued after a lost worker, listed and deleted like a picture, by the same
code (in-process workers and Celery alike). Its ``content_sha`` is the clip's first frame (a
poster) and its ``result_sha`` the first painted frame, so every page and image link made for
pictures works for it too; the clips themselves are ``source_sha`` (uploaded) and ``video_sha``
(painted).

Resuming: the pipeline keeps each painted frame in a work folder, and a run with the same input
and options paints only the frames missing from it. The folder is named by the job's id under
:attr:`~impasto.service.config.Settings.video_work_dir` (the data folder, or the blob folder
Celery workers share), so a job re-run after its worker was killed or its server stopped picks up
where the last run stopped. A job that ends (done, failed or cancelled) deletes its folder.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from sqlalchemy import select

from ...cache import atomic_write_bytes
from ...errors import VideoError
from ...fast.options import FastOptions
from ...imageio import encode_image
from ...options import schema
from ...progress import CancelToken, Event, PreviewEvent, ProgressCallback
from ...video import DEFAULT_STABILITY, stylize_video
from .. import gallery
from ..storage.db import Database
from ..storage.models import Job, JobEvent, JobKind, Status
from . import kinds
from .context import JobContext
from .fields import options_of, pydantic_field

#: Output containers a video job can make.
FORMATS = {"mp4": "video/mp4", "gif": "image/gif"}
POSTER_QUALITY = 90
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


#: The fast engine's options a clip takes, with the engine's type, range and help.
_ClipEngineOptions = create_model(  # type: ignore[call-overload]  # fields made from the schema
    "ClipEngineOptions",
    __config__=ConfigDict(extra="forbid"),
    **{name: pydantic_field(schema(FastOptions)[name]) for name in ("strength", "brush")},
)


class VideoOptions(_ClipEngineOptions):  # type: ignore[misc,valid-type]  # + strength and brush
    """How to paint a clip: the picture's fast-mode choices plus the video's own."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fast"] = Field(
        default="fast", description="clips are painted in fast mode, frame by frame"
    )
    # a clip's frames: up to 4096 px (4K), each painted whole, one after another
    size: int | None = pydantic_field(
        schema(FastOptions)["size"], "long side of the painted clip, px (default: the clip's)", ge=64, le=4096
    )[1]
    preserve_color: Literal["none", "luminance", "histogram"] = "none"
    blend_style: str | None = Field(
        default=None, max_length=100, description="a second gallery style, blended with the first"
    )
    blend: float | None = Field(
        default=None, ge=0.0, le=1.0, description="share of blend_style in the blend (default 0.5)"
    )
    stability: float = Field(
        default=DEFAULT_STABILITY,
        ge=0.0,
        le=1.0,
        description="share of the previous painted frame kept where the optical flow is trusted "
        "(0: every frame on its own; more: steadier)",
    )
    flow: bool = Field(default=True, description="steady the painting along the optical flow")
    format: Literal["mp4", "gif"] = Field(
        default="mp4", description="mp4 (H.264, plays in browsers, keeps the sound) or an animated gif"
    )

    @model_validator(mode="after")
    def _blend_needs_a_style(self) -> VideoOptions:
        if self.blend is not None and not self.blend_style:
            raise ValueError("blend needs blend_style: the gallery style to blend in")
        return self

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`impasto.stylize_video`."""
        kwargs: dict[str, Any] = {
            "mode": self.mode,
            "preserve_color": self.preserve_color,
            "stability": self.stability,
            "flow": self.flow,
        }
        for name in ("size", "strength", "brush"):
            if getattr(self, name) is not None:
                kwargs[name] = getattr(self, name)
        return kwargs


VIDEO_OPTION_FIELDS = tuple(VideoOptions.model_fields)


def video_options_from(values: Mapping[str, Any]) -> VideoOptions:
    """Video options from loosely typed fields (form strings); empty values are left out."""
    return options_of(VideoOptions, values)


def work_folder(root: Path, job_id: str) -> Path:
    """The job's work folder (the id is checked before it becomes a path)."""
    if not _JOB_ID.match(job_id):
        raise VideoError("not a job id")
    return root / job_id


def discard(root: Path, job_id: str) -> None:
    """Delete the job's painted frames and temporary clips (the job has ended)."""
    if _JOB_ID.match(job_id):
        shutil.rmtree(root / job_id, ignore_errors=True)


def sweep_work(db: Database, root: Path) -> int:
    """Delete the work folders of jobs that ended or are gone (failed after losing their worker too
    often, or deleted while queued for a re-run); queued and running jobs keep theirs. How many."""
    if not root.is_dir():
        return 0
    names = [p.name for p in root.iterdir() if p.is_dir() and _JOB_ID.match(p.name)]
    if not names:
        return 0
    waiting = (Status.QUEUED.value, Status.RUNNING.value)
    with db.session() as s:
        live = set(s.scalars(select(Job.id).where(Job.id.in_(names), Job.status.in_(waiting))))
    ended = [name for name in names if name not in live]
    for name in ended:
        shutil.rmtree(root / name, ignore_errors=True)
    return len(ended)


def paint(job: Job, ctx: JobContext, progress: ProgressCallback, cancel: CancelToken) -> dict[str, Any]:
    """Paint the job's clip; return the job's result columns. Raises :class:`~impasto.errors.Cancelled`
    when cancelled (the painted frames stay for a re-run) and ImpastoError for a clip it cannot paint."""
    if job.source_sha is None:
        raise VideoError("the job has no clip")
    options = VideoOptions.model_validate(job.options)
    folder = work_folder(ctx.video_dir, job.id)
    source = folder / "source"
    if not source.is_file():  # the first run, or a worker that does not see the last run's disk
        atomic_write_bytes(source, ctx.store.get(job.source_sha))
    style: Any = ctx.store.get(job.style_sha) if job.style_sha else job.style_name
    if options.blend_style:
        entry = gallery.find(ctx.db, options.blend_style, job.owner)  # as its owner saw it
        if entry is None:
            raise VideoError(f"the style {options.blend_style!r} is no longer in the gallery")
        second = ctx.store.get(entry.sha) if entry.sha else entry.name
        share = 0.5 if options.blend is None else options.blend
        style = [(style, 1.0 - share), (second, share)]
    first: list[Image.Image] = []

    def report(event: Event) -> None:
        if isinstance(event, PreviewEvent) and not first:
            first.append(event.image)
        progress(event)

    output = folder / f"painted.{options.format}"
    result = stylize_video(
        source,
        style,
        output,
        work_dir=folder / "frames",
        limits=ctx.video_limits,
        label=job.content_name,  # the uploaded file's name: no server path in any message
        progress=report,
        cancel=cancel,
        **options.engine_kwargs(),
    )
    video_sha = ctx.store.put(output.read_bytes())
    poster = first[0].convert("RGB")
    values = {
        "video_sha": video_sha,
        "result_sha": ctx.store.put(encode_image(poster, "JPEG", POSTER_QUALITY)),
        "result_width": result.size[0],
        "result_height": result.size[1],
    }
    summary = {
        "kind": "video",
        "frames": result.frames,
        "painted": result.painted,
        "resumed": result.frames - result.painted,
        "fps": round(result.fps, 3),
        "size": list(result.size),
        "audio": result.audio,
        "format": options.format,
    }
    with ctx.db.session() as s:
        s.add(JobEvent(job_id=job.id, kind="video", data=summary))
    return values


class Clips:
    """The clip kind: its runs keep their painted frames (a work folder per job), so a run that got
    further than the last is not counted among its attempts."""

    name: ClassVar[str] = JobKind.VIDEO.value
    options: ClassVar[type[BaseModel]] = VideoOptions
    unit: ClassVar[str | None] = "frame"
    resumable: ClassVar[bool] = True

    def paint(
        self, job: Job, ctx: JobContext, progress: ProgressCallback, cancel: CancelToken
    ) -> dict[str, Any]:
        return paint(job, ctx, progress, cancel)  # a run that stops keeps its frames, not a result

    def ended(self, ctx: JobContext, job_id: str) -> None:
        discard(ctx.video_dir, job_id)

    def sweep(self, db: Database, work_dir: Path) -> int:
        return sweep_work(db, work_dir)

    def served(self, job: Job) -> dict[str, kinds.Served]:
        """``video``: the painted clip (once painted), in the format asked for; ``source``: the
        uploaded one (its type read from its bytes)."""
        files = {}
        if job.video_sha is not None:
            mime = FORMATS.get(str(job.options.get("format", "mp4")), "video/mp4")
            files["video"] = kinds.Served(job.video_sha, mime)
        if job.source_sha is not None:
            files["source"] = kinds.Served(job.source_sha)
        return files


CLIPS = kinds.register(Clips())

__all__ = [
    "CLIPS",
    "DEFAULT_STABILITY",
    "FORMATS",
    "VideoOptions",
    "discard",
    "paint",
    "sweep_work",
    "video_options_from",
    "work_folder",
]
