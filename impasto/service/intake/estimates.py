"""How long a quality painting will take on this server, before it is queued.

Quality mode's time grows with the size (about 10 s at 512 px, 3 min at 2048 px on a 2-core CPU),
so the page shows the expected time of every size, and a job whose time budget cannot pay for its
size is refused at once, with the time it needs, instead of coming back as a faintly painted photo.
The figures are this process's: the network is timed once, here (workers on other machines may be
faster or slower).
"""

from __future__ import annotations

from functools import lru_cache

from ...quality import QualityOptions, estimate
from ..jobs.pictures import JobOptions

TYPICAL_PHOTO = (4000, 3000)  # what the page's sizes are estimated for: a phone photo, 4:3


def check_time(size: tuple[int, int], options: JobOptions) -> None:
    """Refuse (:class:`~impasto.errors.BudgetError`) a quality job whose time budget is too short."""
    if options.mode != "quality" or options.time_budget is None:
        return
    estimate(
        size,
        QualityOptions(size=options.size, iterations=options.iterations, time_budget=options.time_budget),
    )


@lru_cache(maxsize=16)
def quality_seconds(size: int | None) -> float:
    """Expected seconds of a default quality painting of a typical photo at ``size`` (None: the
    photo's own size, up to the engine's largest default)."""
    return estimate(TYPICAL_PHOTO, QualityOptions(size=size)).seconds
