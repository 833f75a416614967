"""From an uploaded clip to a queued video job: the clip is checked against the configured limits
*at upload*, so a clip that is not a video, too long, too large per frame or without frames is
refused with a clear message (HTTP 422) before anything is stored or queued.

The rules for the style (a gallery name or an uploaded picture, optionally saved), the rate limit
and the queue's length are every kind's (:mod:`.common`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ...cache import sha256_bytes
from ...errors import InvalidInput, TooLarge, VideoError
from ...imageio import MIN_SIDE, check_style_shape, encode_image, fit_long_side, image_size
from ...video import VideoReader
from ...video.pipeline import output_size
from ..identity.owners import LOCAL, Owner, owner_filter
from ..jobs import clips as video_jobs
from ..jobs.clips import VideoOptions
from ..jobs.core import create_job, resolve_style
from ..jobs.progress import PREVIEW_SIDE
from ..runtime import Runtime
from ..storage.models import Job, JobKind
from . import common

NO_CLIP = "choose a clip to paint (MP4, WebM, MOV or animated GIF)"


@dataclass
class VideoSubmission:
    """What one video request asks for, before anything is stored."""

    video: bytes | None = None
    video_name: str = "clip"
    style: bytes | None = None
    style_name: str | None = None
    save_style_as: str | None = None
    options: VideoOptions = field(default_factory=lambda: VideoOptions.model_validate({}))


def poster(rt: Runtime, data: bytes, name: str, size: int | None) -> bytes:
    """Check the clip against the limits (its header, and its first frame decoded) and return that
    frame as a JPEG: the job's picture until painted frames come."""
    limits = rt.ctx.video_limits
    with tempfile.TemporaryDirectory(prefix="impasto-upload-") as tmp:
        path = Path(tmp) / "clip"
        path.write_bytes(data)
        with VideoReader(path, limits, label=name, check=True) as reader:
            info = reader.info
            painted = output_size(info.width, info.height, size)
            limits.check_frame(name, *painted)
            if min(painted) < MIN_SIDE:  # the engines cannot paint it: refused now, not by the worker
                at = f" at {size} px" if size is not None else ""
                raise VideoError(
                    f"{name}: a {info.width}x{info.height} clip painted{at} is {painted[0]}x{painted[1]}; "
                    f"Impasto paints {MIN_SIDE} px or more a side (give a larger size)"
                )
            first = next(reader.frames(), None)
            reader.scan()  # what the clip holds, not what its header says: every frame counted
    if first is None:
        raise VideoError(f"{name}: the video track has no frames")
    image = Image.fromarray(first.rgb)
    if max(image.size) > PREVIEW_SIDE:
        image = fit_long_side(image, PREVIEW_SIDE)
    return encode_image(image, "JPEG", video_jobs.POSTER_QUALITY)


def submit_video(rt: Runtime, sub: VideoSubmission, client: str, owner: Owner = LOCAL) -> Job:
    """Validate the clip and the style, store them, create and queue the job (``owner``'s); all or
    nothing."""
    settings = rt.settings
    if not sub.video:
        raise InvalidInput(NO_CLIP)
    if len(sub.video) > settings.max_video_bytes:
        raise TooLarge(f"the clip is larger than {settings.max_video_bytes / 2**20:.0f} MiB")
    common.check_style_choice(sub.style, sub.style_name, sub.save_style_as)
    viewer = owner_filter(owner)
    style = resolve_style(rt.db, sub.style_name, viewer) if sub.style_name else None
    if sub.options.blend_style:
        resolve_style(rt.db, sub.options.blend_style, viewer)  # refused now, not when it runs
    if sub.save_style_as:
        common.room_for_a_style(rt, owner)
    common.room_in_queue(rt, sub.options.mode, 1, owner)
    common.take(rt, client)
    first = poster(rt, sub.video, sub.video_name, sub.options.size)
    if sub.style is not None:
        check_style_shape(image_size(sub.style, "style picture", rt.settings.max_pixels), "style picture")
    common.room_to_store(rt, len(sub.video) + len(first) + len(sub.style or b""))
    with rt.pins.hold() as pin:  # until the job's row refers to them (no deletion can take them)
        for data in (sub.video, first):
            pin(sha256_bytes(data))
        source_sha, poster_sha = rt.store.put(sub.video), rt.store.put(first)
        style = common.keep_style(rt, style, sub.style, sub.save_style_as, owner, pin)
        job = create_job(
            rt.db,
            content_sha=poster_sha,
            content_name=sub.video_name,
            style=style,
            options=sub.options,
            kind=JobKind.VIDEO,
            source_sha=source_sha,
            owner=owner.id,
        )
    common.queue(rt, [job])
    return job


__all__ = ["VideoSubmission", "poster", "submit_video"]
