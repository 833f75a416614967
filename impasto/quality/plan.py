"""Multi-scale painting as a plan: data that says which sizes to paint and for how long.

Painting coarse to fine is the main lever for speed and for large outputs: the coarse scales are
cheap and settle the composition and colours; each finer scale starts from the previous result
upsampled and only has to add detail, so it needs few iterations. The finest scale still gets the
largest share of the time: the losses that are finally judged are the finest scale's, and every
step up in size costs some of what the coarser scale reached (measured in ``bench/quality.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import OptionsError
from ..imageio import MIN_SIDE

MIN_STEPS = 3  # every scale gets at least this many iterations, when the budget allows
MIN_USEFUL = 2  # under a time budget no scale gets fewer (see `minimum`)


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
    iterations: int | None,
    *,
    multiscale: bool = True,
    min_size: int = 128,
    ratio: float = 2.0,
    growth: float = 2.0,
    base: int = 26,
) -> Plan:
    """Sizes from ``min_size`` up to ``size`` in steps of ``ratio``, with their iterations.

    ``iterations`` given: shared between the scales, each coarser one ``growth`` times the
    iterations of the next finer one. With the default ``ratio`` of 2 (a quarter of the pixels per
    step down) and ``growth`` of 2, each coarser scale costs half the time of the next finer one.
    ``None``: the default schedule (:func:`schedule`), ``base`` iterations for the composition.
    """
    if size < 16:
        raise OptionsError(f"size {size} is too small: use at least 16 px")
    if iterations is not None and iterations < 1:
        raise OptionsError(f"iterations must be at least 1, not {iterations}")
    if ratio <= 1:
        raise OptionsError("the scale ratio must be above 1")
    most = iterations if iterations is not None else base
    sizes = [size]
    if multiscale:  # coarser scales, as long as a thin picture stays paintable at them
        while (
            sizes[-1] / ratio >= min_size * 0.99
            and len(sizes) < most
            and min(fit(content_size, round(sizes[-1] / ratio))) >= MIN_SIDE
        ):
            sizes.append(round(sizes[-1] / ratio))
    sizes.reverse()
    if iterations is None:
        steps = schedule(len(sizes), base, growth)
    else:
        steps = split(iterations, len(sizes), growth)
    return Plan(tuple(Scale(fit(content_size, s), n) for s, n in zip(sizes, steps, strict=True)))


def schedule(count: int, base: int = 26, growth: float = 2.0) -> list[int]:
    """The default iterations of ``count`` scales, coarsest first.

    The first two scales compose the painting: they share ``base`` as :func:`split` shares it
    (17 and 9 for 26, 256 and 512 px from the photo). Each finer scale refines what is already
    painted and gets ``1/growth`` of the previous scale's iterations, at least ``MIN_STEPS``
    (4 at 1024 px, 3 at 2048 px): upsampled with the photo's finer detail, the picture is near
    the finer scale's optimum, and those iterations are the expensive ones.
    """
    steps = split(base, min(count, 2), growth)
    while len(steps) < count:
        steps.append(max(MIN_STEPS, round(steps[-1] / growth)))
    return steps


def minimum(plan: Plan) -> list[int]:
    """The least each scale needs to be worth painting: half its planned iterations, at least two.

    Below this a time budget would return the photo with faint strokes and call it done; a
    budget that cannot pay for it is refused before the painting starts (:class:`BudgetError`).
    """
    return [max(MIN_USEFUL, math.ceil(s.iterations / 2)) for s in plan.scales]


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
    least: list[int] | None = None,
    most: float = 50.0,
) -> Plan:
    """The same scales with as many iterations as fit in ``seconds`` from now.

    The plan's iterations are scaled by one factor (so the budget keeps the plan's shape: more
    where it is cheap, at the coarse scales), up to ``most`` times the plan. ``done`` counts the
    iterations each scale already ran (they stay), ``seconds_per_iteration`` is the expected cost
    of one iteration at each scale, ``least`` the iterations no scale goes below (default one),
    even when that overruns the budget: a painting that stopped short is a photo, not a painting.
    """
    floor = least or [1] * len(plan.scales)

    def steps_for(factor: float) -> list[int]:
        return [
            max(round(s.iterations * factor), d, f) for s, d, f in zip(plan.scales, done, floor, strict=True)
        ]

    def cost(steps: list[int]) -> float:
        return sum((s - d) * c for s, d, c in zip(steps, done, seconds_per_iteration, strict=True))

    lo, hi = 0.0, most
    for _ in range(40):  # the largest factor whose cost fits
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cost(steps_for(mid)) <= seconds else (lo, mid)
    return Plan(tuple(Scale(s.size, n) for s, n in zip(plan.scales, steps_for(lo), strict=True)))


# What one iteration costs, relative to the pixels: a little more per pixel as the picture grows
# (6.0 µs per pixel at 512 × 384, 7.5 at 1024 × 768, 9.9 at 2048 × 1536 in float32 on the 2-core
# AMD EPYC: caches hold less of each layer), and a scale's analysis (the photo's and the painting's
# features) about half an iteration there. bench/scale.py prints the measured figures.
COST_GROWTH = 0.17  # extra cost per pixel for each doubling of the pixels above 512 × 384
COST_KNEE = 512 * 384
SETUP_ITERATIONS = 0.5
FINAL_ITERATIONS = 0.4  # the last scale's final evaluation (forward only)
# loading the network, the palette, resizing the photo to each scale: about four iterations at
# 512 × 384 (with a 4000 × 3000 photo; 17 s estimated for 23 s measured without it at 512 px)
FIXED_UNITS = 4 * 512 * 384


def iteration_cost(size: tuple[int, int]) -> float:
    """The relative cost of one iteration at ``size``: pixels, a little more per pixel when large."""
    pixels = size[0] * size[1]
    return pixels * (1 + COST_GROWTH * max(0.0, math.log2(pixels / COST_KNEE)))


class Costs:
    """A plan's work in relative units, for estimates, budgets and a progress that tells the truth.

    ``seconds_per_unit`` turns units into seconds: measured on this machine (a short probe, or the
    iterations run so far).
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.per_iteration = [iteration_cost(s.size) for s in plan.scales]

    def total(self, steps: list[int] | None = None) -> float:
        steps = steps or [s.iterations for s in self.plan.scales]
        work = sum((SETUP_ITERATIONS + n) * c for n, c in zip(steps, self.per_iteration, strict=True))
        return FIXED_UNITS + work + FINAL_ITERATIONS * self.per_iteration[-1]

    def done(self, started: int, done: list[int]) -> float:
        """Work done when scale ``started`` (0-based) has been set up and ``done`` iterations ran."""
        setups = sum(SETUP_ITERATIONS * c for c in self.per_iteration[: started + 1])
        return FIXED_UNITS + setups + sum(n * c for n, c in zip(done, self.per_iteration, strict=True))

    def minimum(self) -> float:
        return self.total(minimum(self.plan))
