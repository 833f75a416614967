"""Sketches: a photo painted small in one gallery style, at once, to choose a style by seeing it;
and a finished fast painting painted again in place with another strength (:func:`restrength`).

The Create page asks for one per gallery style as soon as a photo is chosen. A sketch is not a job:
nothing is stored or queued, so it never waits behind the queue's paintings (a quality job takes
minutes). It is fast mode on a picture of at most :data:`SIDE` px, and one runs at a time in a
process (:data:`_one_at_a_time`), so a page's strip of sketches cannot crowd out the jobs.
"""

from __future__ import annotations

import threading

from PIL import Image

from ...errors import Conflict, JobNotFound, NotFound, TooLarge, Unavailable
from ...imageio import encode_image, fit_long_side, load_image
from ...progress import CancelToken, Event
from .. import gallery
from ..jobs.context import JobContext
from ..jobs.pictures import JobOptions
from ..storage.models import Job, JobKind, Status
from ..storage.refs import blob_in_use
from ..storage.store import BlobPins

SIDE = 192  # px, long side: the page shows sketches at about 120 px (240 on a sharp screen)
MAX_BYTES = 512 * 1024  # the page sends its own small JPEG of the photo; no more is needed
MAX_PIXELS = 1024 * 1024  # refused before decoding: the page's picture is SIDE-ish px on a side
_one_at_a_time = threading.Lock()
# Requests waiting for the lock hold a server thread each: a few may wait, more are told to come back
# (a page asks for its sketches one after another, so only a flood meets this).
_waiting = threading.BoundedSemaphore(4)


def _painting(ctx: JobContext, content: object, style: object, **options: object) -> Image.Image:
    """One fast painting now, one at a time in this process; 503 when too many are waiting."""
    if not _waiting.acquire(blocking=False):
        raise Unavailable("too many sketches at once: try again in a moment", retry_after=2.0)
    try:
        with _one_at_a_time:
            return ctx.engine()(
                content, style, progress=_quiet, cancel=CancelToken(), max_pixels=ctx.max_pixels, **options
            )
    finally:
        _waiting.release()


def _quiet(_event: Event) -> None:
    """A sketch reports no progress: it is done in a fraction of a second."""


def sketch(ctx: JobContext, photo: bytes, style_name: str, viewer: str | None) -> bytes:
    """``photo`` painted in the gallery style ``style_name`` (as ``viewer`` sees the gallery), as a
    JPEG at most :data:`SIDE` px on its long side."""
    if len(photo) > MAX_BYTES:
        raise TooLarge(f"a sketch's photo is at most {MAX_BYTES // 1024} KiB")
    entry = gallery.find(ctx.db, style_name, viewer)
    if entry is None:
        raise NotFound(f"no style named {style_name!r} in the gallery")
    image = load_image(photo, limit=MAX_PIXELS, name="photo")
    if max(image.size) > SIDE:
        image = fit_long_side(image, SIDE)
    style = ctx.store.get(entry.sha) if entry.sha else entry.name
    painted = _painting(ctx, image, style, mode="fast")
    return encode_image(painted, "JPEG", quality=85)


def restrength(ctx: JobContext, pins: BlobPins, job: Job, strength: float) -> Job:
    """A finished fast painting painted again with another ``strength``, in place: the same job
    (its history entry and its links), with the new picture and options; the old picture goes if
    nothing else uses it. Like a sketch it is no job: it runs now (a fast painting takes a second)."""
    if job.kind != JobKind.IMAGE or job.mode != "fast" or job.state != Status.SUCCEEDED:
        raise Conflict("only a finished fast-mode painting can be redone with another strength")
    options = JobOptions.model_validate({**job.options, "strength": strength})
    content = ctx.store.get(job.content_sha)
    style = ctx.store.get(job.style_sha) if job.style_sha else job.style_name
    image = _painting(ctx, content, style, **options.engine_kwargs())
    sha = ctx.store.put(encode_image(image, "PNG"))
    with ctx.db.session() as s:
        row = s.get(Job, job.id)
        if row is None:
            raise JobNotFound(job.id)
        old = row.result_sha
        row.result_sha, row.result_width, row.result_height = sha, image.width, image.height
        row.options = options.model_dump(exclude_none=True)
    if old is not None and old != sha:
        pins.delete_unused(ctx.store, [old], lambda blob: blob_in_use(ctx.db, blob))
    return row
