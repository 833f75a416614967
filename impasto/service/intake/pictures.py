"""From a request to queued jobs: check limits, fetch URLs, store pictures, save styles, create and
queue jobs, all or nothing.

What the REST API and the pages both ask of the service, one function each, so they refuse the same
things with the same messages. Nothing here knows HTTP: the web layer parses a request into a
:class:`Submission` and maps the :mod:`impasto.errors` kinds raised here to status codes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from PIL import Image

from ... import masks
from ...errors import (
    InvalidInput,
    JobNotFound,
    OptionsError,
)
from ...imageio import check_paintable, check_style_shape, encode_image, image_size
from .. import gallery
from ..identity.owners import LOCAL, Owner, owned_job, owner_filter
from ..jobs.core import StyleRef, create_job, resolve_style, store_image
from ..jobs.fields import options_of
from ..jobs.pictures import JobOptions, JobRegion, decode_mask
from ..runtime import Runtime
from ..storage.models import Job, JobKind
from .common import (
    check_style_choice,
    keep_style,
    queue,
    room_for_a_style,
    room_in_queue,
    room_to_store,
    take,
)
from .estimates import check_time

OPTION_FIELDS = tuple(JobOptions.model_fields)


@dataclass
class Submission:
    """What one create request asks for, before anything is stored."""

    contents: list[tuple[bytes, str]] = field(default_factory=list)  # (bytes, display name)
    content_url: str | None = None
    style: bytes | None = None
    style_name: str | None = None
    save_style_as: str | None = None
    options: JobOptions = field(default_factory=lambda: JobOptions.model_validate({}))


def options_from(values: Mapping[str, Any]) -> JobOptions:
    """Job options from loosely typed fields (form strings, JSON); empty values are left out."""
    return options_of(JobOptions, values)


def submit(
    rt: Runtime, sub: Submission, client: str, *, owner: Owner = LOCAL, parent_id: str | None = None
) -> list[Job]:
    """Validate everything, store the images, create and queue the jobs (``owner``'s); all or nothing."""
    settings = rt.settings
    if sub.content_url and sub.contents:
        raise InvalidInput("give either photos or a URL, not both")
    if not sub.contents and not sub.content_url:
        raise InvalidInput("choose a photo to paint (upload one or give its URL)")
    check_style_choice(sub.style, sub.style_name, sub.save_style_as)
    if len(sub.contents) > settings.max_files:
        raise InvalidInput(f"at most {settings.max_files} photos at once")
    style = resolve_style(rt.db, sub.style_name, owner_filter(owner)) if sub.style_name else None
    if sub.save_style_as:
        room_for_a_style(rt, owner)
    room_in_queue(rt, sub.options.mode, max(1, len(sub.contents)), owner)
    take(rt, client, max(1, len(sub.contents)))
    contents = sub.contents
    if sub.content_url:
        contents = [(rt.fetcher.fetch(sub.content_url), sub.content_url.rsplit("/", 1)[-1][:80] or "photo")]
    limit = settings.max_pixels
    sizes = []
    for data, name in contents:  # from the header alone, before anything is decoded or stored
        size = image_size(data, name, limit)
        check_paintable(size, sub.options.size, name)
        check_time(size, sub.options)
        sizes.append(size)
    options = with_regions(sub.options, sizes)
    if sub.style is not None:
        check_style_shape(image_size(sub.style, "style picture", limit), "style picture")
    room_to_store(rt, sum(len(data) for data, _ in contents) + len(sub.style or b""))
    with rt.pins.hold() as pin:  # until the jobs' rows refer to them (no deletion can take them)
        budget = rt.pixels  # decoding holds pixels from the shared budget
        stored = [
            (store_image(rt.store, data, max_pixels=limit, label=name, pin=pin, budget=budget)[0], name)
            for data, name in contents
        ]
        style = keep_style(rt, style, sub.style, sub.save_style_as, owner, pin)
        jobs = [
            create_job(
                rt.db,
                content_sha=sha,
                content_name=name,
                style=style,
                options=options,
                parent_id=parent_id,
                owner=owner.id,
            )
            for sha, name in stored
        ]
    queue(rt, jobs)
    return jobs


def again(rt: Runtime, job_id: str, changes: Mapping[str, Any], client: str, owner: Owner = LOCAL) -> Job:
    """ "Same again with …": the job's photo and style with some options changed (a job ``owner``
    may see; the new job is ``owner``'s)."""
    source = owned_job(rt.db, job_id, owner)
    if source.kind == JobKind.VIDEO:
        raise OptionsError("“same again” is for pictures: upload the clip again to paint it differently")
    changed = {k: v for k, v in changes.items() if k in OPTION_FIELDS}
    options = options_from({**source.options, **changed}).for_mode()
    if rt.store.exists(source.content_sha):  # a deleted photo is refused below
        photo = rt.store.get(source.content_sha)
        size = image_size(photo, source.content_name, rt.settings.max_pixels)
        check_paintable(size, options.size, source.content_name)
        check_time(size, options)
        options = with_regions(options, [size])
    room_in_queue(rt, options.mode, 1, owner)
    take(rt, client)
    if source.style_sha is None and gallery.find(rt.db, source.style_name, owner_filter(owner)) is None:
        raise OptionsError(f"the style {source.style_name!r} is no longer in the gallery")
    style = StyleRef(source.style_name, source.style_sha)
    with rt.pins.hold() as pin:
        pictures = [sha for sha in (source.content_sha, source.style_sha) if sha is not None]
        for sha in pictures:
            pin(sha)
        if not all(rt.store.exists(sha) for sha in pictures):  # deleted before we pinned them
            raise JobNotFound(job_id)
        job = create_job(
            rt.db,
            content_sha=source.content_sha,
            content_name=source.content_name,
            style=style,
            options=options,
            parent_id=source.id,
            owner=owner.id,
        )
    queue(rt, [job])
    return job


REGION_MASK_SIDE = 1024  # regions' masks are kept this large at most, in the job's options


def with_regions(options: JobOptions, sizes: list[tuple[int, int]]) -> JobOptions:
    """The options with each region checked against every photo (a picture, not empty, the photo's
    shape) and its mask kept as a small greyscale PNG; region styles are built-in paintings or keep."""
    if not options.regions:
        return options
    builtin = {entry.name for entry in gallery.builtin_styles()}
    kept = []
    for number, region in enumerate(options.regions, start=1):
        if region.style != masks.KEEP and region.style not in builtin:
            raise OptionsError(
                f"region {number}: {region.style!r} is neither a built-in gallery painting nor keep "
                "(see GET /api/v1/styles)"
            )
        data = decode_mask(region.mask)
        grey = [masks.load_mask(data, size, f"region {number}'s mask") for size in sizes]
        small = Image.fromarray((grey[0] * 255 + 0.5).astype(np.uint8), "L")
        small.thumbnail((REGION_MASK_SIDE, REGION_MASK_SIDE), Image.Resampling.LANCZOS)
        png = base64.b64encode(encode_image(small, "PNG")).decode("ascii")
        kept.append(JobRegion(mask=f"data:image/png;base64,{png}", style=region.style))
    return cast(JobOptions, options.model_copy(update={"regions": kept}))
