"""Multi-scale painting as a plan: data that says which sizes to paint and for how long.

Painting coarse to fine is the main lever for speed and for large outputs: the coarse scales are
cheap and settle the composition and colours; each finer scale starts from the previous result
upsampled and only has to add detail, so it needs few iterations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import OptionsError


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
    ratio: float = math.sqrt(2),
    growth: float = 0.5,
) -> Plan:
    """Sizes from ``min_size`` up to ``size`` in steps of ``ratio``, coarse scales iterated more.

    ``iterations`` is what the finest scale gets; each coarser scale gets ``1/growth`` times the
    next finer one's (they cost about ``ratio²`` times less each), capped at 4× ``iterations``.
    """
    if size < 16:
        raise OptionsError(f"size {size} is too small: use at least 16 px")
    if iterations < 1:
        raise OptionsError(f"iterations must be at least 1, not {iterations}")
    if ratio <= 1:
        raise OptionsError("the scale ratio must be above 1")
    sizes = [size]
    if multiscale:
        while sizes[-1] / ratio >= min_size * 0.99:
            sizes.append(round(sizes[-1] / ratio))
    sizes.reverse()
    count = len(sizes)
    steps = [max(1, min(4 * iterations, round(iterations / growth ** (count - 1 - i)))) for i in range(count)]
    return Plan(tuple(Scale(fit(content_size, s), n) for s, n in zip(sizes, steps, strict=True)))
