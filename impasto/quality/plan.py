"""Multi-scale painting as a plan: data that says which sizes to paint and for how long.

Painting coarse to fine is the main lever for speed and for large outputs: the coarse scales are
cheap and settle the composition and colours; each finer scale starts from the previous result
upsampled and only has to add detail, so it needs few iterations. The finest scale still gets the
largest share of the time: the losses that are finally judged are the finest scale's, and every
step up in size costs some of what the coarser scale reached (measured in ``bench/quality.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionsError
from ..imageio import MIN_SIDE

MIN_STEPS = 3  # every scale gets at least this many iterations, when the budget allows


@dataclass(frozen=True)
class Scale:
    size: tuple[int, int]  # (width, height)
    iterations: int

    @property
    def long_side(self) -> int:
        return max(self.size)


@dataclass(frozen=True)
class Plan:
    scales: tuple[Scale, ...]

    @property
    def steps(self) -> int:
        return sum(s.iterations for s in self.scales)

    def describe(self) -> str:
        return " → ".join(f"{s.size[0]}×{s.size[1]}:{s.iterations}" for s in self.scales)


def fit(aspect_size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) with the given long side and the aspect ratio of ``aspect_size``."""
    width, height = aspect_size
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_plan(
    content_size: tuple[int, int],
    size: int,
    iterations: int,
    *,
    multiscale: bool = True,
    min_size: int = 128,
    ratio: float = 2.0,
    growth: float = 2.0,
) -> Plan:
    """Sizes from ``min_size`` up to ``size`` in steps of ``ratio``, sharing ``iterations`` between them.

    Each coarser scale gets ``growth`` times the iterations of the next finer one. With the default
    ``ratio`` of 2 (a quarter of the pixels per step down) and ``growth`` of 2, each coarser scale
    costs half the time of the next finer one: most iterations go where they are cheap and settle
    the composition, and more than half of the time goes to the finest scale.
    """
    if size < 16:
        raise OptionsError(f"size {size} is too small: use at least 16 px")
    if iterations < 1:
        raise OptionsError(f"iterations must be at least 1, not {iterations}")
    if ratio <= 1:
        raise OptionsError("the scale ratio must be above 1")
    sizes = [size]
    if multiscale:  # coarser scales, as long as a thin picture stays paintable at them
        while (
            sizes[-1] / ratio >= min_size * 0.99
            and len(sizes) < iterations
            and min(fit(content_size, round(sizes[-1] / ratio))) >= MIN_SIDE
        ):
            sizes.append(round(sizes[-1] / ratio))
    sizes.reverse()
    steps = split(iterations, len(sizes), growth)
    return Plan(tuple(Scale(fit(content_size, s), n) for s, n in zip(sizes, steps, strict=True)))


def split(iterations: int, count: int, growth: float = 2.0) -> list[int]:
    """``iterations`` shared by ``count`` scales, coarsest first, each coarser one ``growth``× more."""
    shares = [growth ** (count - 1 - i) for i in range(count)]
    floor = MIN_STEPS if iterations >= MIN_STEPS * count else 1
    steps = [max(floor, round(iterations * share / sum(shares))) for share in shares]
    steps[0] += iterations - sum(steps)  # rounding and floors: settle the difference, coarsest first
    for i in range(len(steps) - 1):
        if steps[i] < floor:
            steps[i + 1] -= floor - steps[i]
            steps[i] = floor
    return steps


def fit_budget(
    plan: Plan,
    done: list[int],
    seconds_per_iteration: list[float],
    seconds: float,
    *,
    growth: float = 2.0,
    most: int = 100_000,
) -> Plan:
    """The same scales with as many iterations as fit in ``seconds`` from now.

    ``done`` counts the iterations each scale already ran (they stay), ``seconds_per_iteration``
    is the expected cost of one iteration at each scale. Iterations are shared between the scales
    as :func:`make_plan` shares them; every scale not yet finished keeps at least one iteration,
    even when the budget is already spent.
    """
    count = len(plan.scales)

    def steps_for(total: int) -> list[int]:
        steps = split(total, count, growth) if total >= count else [1] * count
        return [max(s, d, 1) for s, d in zip(steps, done, strict=True)]

    def cost(steps: list[int]) -> float:
        return sum((s - d) * c for s, d, c in zip(steps, done, seconds_per_iteration, strict=True))

    lo, hi = count, most
    if cost(steps_for(lo)) > seconds:
        best = steps_for(lo)
    else:
        while lo < hi:  # the largest total whose cost fits
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if cost(steps_for(mid)) <= seconds else (lo, mid - 1)
        best = steps_for(lo)
    return Plan(tuple(Scale(s.size, n) for s, n in zip(plan.scales, best, strict=True)))
