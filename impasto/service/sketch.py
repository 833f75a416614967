"""Sketches: a photo painted small in one gallery style, at once, to choose a style by seeing it.

The Create page asks for one per gallery style as soon as a photo is chosen. A sketch is not a job:
nothing is stored or queued, so it never waits behind the queue's paintings (a quality job takes
minutes). It is fast mode on a picture of at most :data:`SIDE` px, and one runs at a time in a
process (:data:`_one_at_a_time`), so a page's strip of sketches cannot crowd out the jobs.
"""

from __future__ import annotations

import threading

from ..errors import NotFound, TooLarge
from ..imageio import encode_image, fit_long_side, load_image
from ..progress import CancelToken, Event
from . import gallery
from .jobs import JobContext

SIDE = 192  # px, long side: the page shows sketches at about 120 px (240 on a sharp screen)
MAX_BYTES = 512 * 1024  # the page sends its own small JPEG of the photo; no more is needed
MAX_PIXELS = 1024 * 1024  # refused before decoding: the page's picture is SIDE-ish px on a side
_one_at_a_time = threading.Lock()


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
    with _one_at_a_time:
        painted = ctx.engine()(
            image, style, progress=_quiet, cancel=CancelToken(), mode="fast", max_pixels=ctx.max_pixels
        )
    return encode_image(painted, "JPEG", quality=85)
