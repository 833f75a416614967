"""From a request to queued jobs: check limits, fetch URLs, store pictures, save styles, create and
queue jobs, all or nothing.

What the REST API and the pages both ask of the service, one function each, so they refuse the same
things with the same messages. Nothing here knows HTTP: the web layer parses a request into a
:class:`Submission` and maps the :mod:`impasto.errors` kinds raised here to status codes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from PIL import Image
from pydantic import ValidationError

from ... import masks
from ...errors import (
    ErrorKind,
    ImpastoError,
    InvalidInput,
    JobNotFound,
    OptionsError,
    RateLimited,
    StorageFull,
    Unavailable,
)
from ...imageio import check_paintable, check_style_shape, encode_image, image_size
from .. import gallery
from ..identity.owners import LOCAL, Owner, owned_job, owner_filter, style_owner
from ..jobs import queries
from ..jobs.core import StyleRef, create_job, resolve_style, store_image
from ..jobs.pictures import JobOptions, JobRegion, decode_mask
from ..runtime import Runtime
from ..storage.models import Job, JobKind
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
    try:
        given = {k: v for k, v in values.items() if v not in (None, "")}
        return cast(JobOptions, JobOptions.model_validate(given))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"{where}: {first['msg']}",
            exc.errors(include_url=False, include_context=False, include_input=False),
        ) from None


def check_style_choice(picture: bytes | None, name: str | None, save_as: str | None) -> None:
    """One style, chosen one way: a gallery name or an uploaded picture (which may be saved)."""
    if picture is not None and name:
        raise InvalidInput("give either a style picture or a gallery style name, not both")
    if picture is None and not name:
        raise InvalidInput("choose a style: pick one from the gallery or upload a picture")
    if save_as and picture is None:
        raise InvalidInput("save_style_as needs an uploaded style picture")


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
        _room_for_a_style(rt, owner)
    _room_in_queue(rt, sub.options.mode, max(1, len(sub.contents)), owner)
    _take(rt, client, max(1, len(sub.contents)))
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


def keep_style(
    rt: Runtime,
    style: StyleRef | None,
    picture: bytes | None,
    save_as: str | None,
    owner: Owner,
    pin: Callable[[str], None],
) -> StyleRef:
    """The job's style, held for it: a gallery style's picture pinned, or the uploaded ``picture``
    stored (decoding within the shared pixel budget) and, when ``save_as`` is given, saved among
    ``owner``'s styles."""
    if style is not None:
        if style.sha is not None:
            pin(style.sha)
        return style
    assert picture is not None
    limit, label = rt.settings.max_pixels, "style picture"
    sha, _ = store_image(rt.store, picture, max_pixels=limit, label=label, pin=pin, budget=rt.pixels)
    name = gallery.save(rt.db, save_as, sha, owner=style_owner(owner)).name if save_as else "upload"
    return StyleRef(name, sha)


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
    _room_in_queue(rt, options.mode, 1, owner)
    _take(rt, client)
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


def queue(rt: Runtime, jobs: list[Job]) -> None:
    """Hand the jobs to the workers. A broker that is down fails them all (with the reason), so no
    job is left half-queued, and raises :class:`~impasto.errors.Unavailable`."""
    try:
        for job in jobs:
            rt.submit(job.id, job.mode)
    except Unavailable:
        if rt.dispatcher is not None:
            for job in jobs:
                rt.dispatcher.fail(job.id)
        raise


class StyleQuota(ImpastoError):
    """An owner already keeps as many saved styles as one may (HTTP 429)."""

    kind = ErrorKind.RATE_LIMITED


def _room_for_a_style(rt: Runtime, owner: Owner) -> None:
    """Refuse a new saved style from an owner at the quota (admins: no limit)."""
    limit = rt.settings.max_styles_per_owner
    if not owner.admin and gallery.count_owned(rt.db, style_owner(owner)) >= limit:
        raise StyleQuota(f"you have saved {limit} styles, the most one may keep: delete one to save another")


def add_to_gallery(
    rt: Runtime, title: str, data: bytes, *, owner: Owner, client: str = "local"
) -> gallery.GalleryEntry:
    """Store a picture and save it under ``title``: in the public gallery for an admin, else
    among ``owner``'s own styles (within their quota, and within ``client``'s rate limit, which a
    new identity does not reset: one upload counts as one job against it)."""
    _room_for_a_style(rt, owner)
    if not owner.admin:
        _take(rt, client, what="style uploads")
    check_style_shape(image_size(data, "style picture", rt.settings.max_pixels), "style picture")
    room_to_store(rt, len(data))
    with rt.pins.hold() as pin:
        label, limit = "style picture", rt.settings.max_pixels
        sha, _ = store_image(rt.store, data, max_pixels=limit, label=label, pin=pin, budget=rt.pixels)
        return gallery.save(rt.db, title, sha, owner=style_owner(owner))


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


def room_to_store(rt: Runtime, incoming: int) -> None:
    """Refuse (507) new pictures once the stored ones have reached the configured budget
    (``IMPASTO_MAX_STORE_BYTES``): the disk must not fill up with uploads and saved styles."""
    budget = rt.settings.max_store_bytes
    if budget is None:
        return
    used = rt.store.used_bytes()
    if used + incoming > budget:
        raise StorageFull(
            f"the server's picture storage is full ({used / 2**30:.2f} of {budget / 2**30:.2f} GiB used): "
            "delete paintings you no longer need, or ask the administrator for more room"
        )


def _take(rt: Runtime, client: str, cost: int = 1, what: str = "jobs") -> None:
    wait = rt.limiter.take(client, cost)
    if wait > 0:
        raise RateLimited(wait, what)


class OwnerQueueFull(ImpastoError):
    """One owner already has as many paintings waiting as one may (HTTP 429, Retry-After)."""

    kind = ErrorKind.RATE_LIMITED
    retry_after = 60.0


def _room_in_queue(rt: Runtime, mode: str, count: int, owner: Owner) -> None:
    """Refuse jobs that would make the queue longer than configured: one owner's (429; admins have
    no limit), or the whole queue (503, come back later): one client's burst must not queue hours
    of work for everyone behind it."""
    settings = rt.settings
    if not owner.admin:
        mine = sum(queries.waiting(rt.db, owner.id).values())
        if mine + count > settings.max_queued_per_owner:
            raise OwnerQueueFull(
                f"you have {mine} paintings waiting, and one may queue {settings.max_queued_per_owner}: "
                "wait for some to finish"
            )
    waiting = queries.waiting(rt.db)
    total = sum(waiting.values())
    if total + count > settings.max_queued:
        raise Unavailable(f"the queue is full ({total} paintings waiting); try again in a minute", 60.0)
    quality = waiting.get("quality", 0)
    if mode == "quality" and quality + count > settings.max_queued_quality:
        raise Unavailable(
            f"too many quality paintings are waiting ({quality}); try again in a few minutes, "
            "or use fast mode",
            120.0,
        )
