"""What every kind of request shares on its way to queued jobs: one style chosen one way (and kept,
saved to the gallery when asked), room in the owner's quotas, the queue and the storage, the
client's rate limit, and handing the jobs to the workers. The kinds' own intake is in
:mod:`.pictures` and :mod:`.clips`."""

from __future__ import annotations

from collections.abc import Callable

from ...errors import ErrorKind, ImpastoError, InvalidInput, RateLimited, StorageFull, Unavailable
from ...imageio import check_style_shape, image_size
from .. import gallery
from ..identity.owners import Owner, style_owner
from ..jobs import queries
from ..jobs.core import StyleRef, store_image
from ..runtime import Runtime
from ..storage.models import Job


def check_style_choice(picture: bytes | None, name: str | None, save_as: str | None) -> None:
    """One style, chosen one way: a gallery name or an uploaded picture (which may be saved)."""
    if picture is not None and name:
        raise InvalidInput("give either a style picture or a gallery style name, not both")
    if picture is None and not name:
        raise InvalidInput("choose a style: pick one from the gallery or upload a picture")
    if save_as and picture is None:
        raise InvalidInput("save_style_as needs an uploaded style picture")


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


def room_for_a_style(rt: Runtime, owner: Owner) -> None:
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
    room_for_a_style(rt, owner)
    if not owner.admin:
        take(rt, client, what="style uploads")
    check_style_shape(image_size(data, "style picture", rt.settings.max_pixels), "style picture")
    room_to_store(rt, len(data))
    with rt.pins.hold() as pin:
        label, limit = "style picture", rt.settings.max_pixels
        sha, _ = store_image(rt.store, data, max_pixels=limit, label=label, pin=pin, budget=rt.pixels)
        return gallery.save(rt.db, title, sha, owner=style_owner(owner))


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


def take(rt: Runtime, client: str, cost: int = 1, what: str = "jobs") -> None:
    wait = rt.limiter.take(client, cost)
    if wait > 0:
        raise RateLimited(wait, what)


class OwnerQueueFull(ImpastoError):
    """One owner already has as many paintings waiting as one may (HTTP 429, Retry-After)."""

    kind = ErrorKind.RATE_LIMITED
    retry_after = 60.0


def room_in_queue(rt: Runtime, mode: str, count: int, owner: Owner) -> None:
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


__all__ = [
    "OwnerQueueFull",
    "StyleQuota",
    "add_to_gallery",
    "check_style_choice",
    "keep_style",
    "queue",
    "room_for_a_style",
    "room_in_queue",
    "room_to_store",
    "take",
]
