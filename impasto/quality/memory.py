"""Peak-memory estimate for a painting, so a size that will not fit is refused before it starts.

The estimate counts what one L-BFGS iteration keeps alive per input pixel: the activations
autograd saves for the backward pass (each ReLU's output, which the next convolution reads too,
up to the deepest layer used), the widest conv output before its ReLU, the transient gradients of
the backward pass, and the optimiser's history (L-BFGS keeps ``2 × history`` image-sized vectors;
one pair per iteration run). A fixed overhead covers the network weights and the runtime. Checked
against the measured peak RSS (``bench/sizes.py``): 2048 × 1536 in float32, 3 iterations at that
scale, estimated 6.8 GiB, measured 6.8 GiB (the 4000 × 3000 photo's decoding included).
"""

from __future__ import annotations

from pathlib import Path

import torch

from .. import environment
from .layers import BLOCKS, CHANNELS

BASE_BYTES = 900 * 2**20  # interpreter, torch, weights (~60 MB), style images, safety margin
FLOAT = 4


def activation_floats_per_pixel(arch: str, deepest: str) -> float:
    """Floats per input pixel that the forward pass keeps for the backward pass."""
    total = 0.0
    for block, count in enumerate(BLOCKS[arch], start=1):
        area = 4.0 ** -(block - 1)
        for i in range(1, count + 1):
            total += CHANNELS[block - 1] * area  # the ReLU's output (the next conv's input)
            if f"conv{block}_{i}" == deepest:
                return total
        total += CHANNELS[block - 1] * area / 4  # pooled output
    return total


def estimate_bytes(
    pixels: int, *, arch: str = "vgg16", deepest: str = "conv5_1", optimizer: str = "lbfgs", history: int = 50
) -> int:
    """Estimated peak bytes to paint ``pixels`` (width × height) at one scale."""
    per_pixel = activation_floats_per_pixel(arch, deepest)
    per_pixel += 3 * CHANNELS[0]  # the widest conv output before its ReLU; backward: two gradient buffers
    per_pixel += 3 * (2 * history + 4) if optimizer == "lbfgs" else 3 * 4  # optimiser state
    return int(BASE_BYTES + per_pixel * FLOAT * pixels)


def largest_long_side(
    budget: int,
    aspect: tuple[int, int],
    *,
    arch: str = "vgg16",
    deepest: str = "conv5_1",
    optimizer: str = "lbfgs",
    history: int = 50,
) -> int:
    """The largest long side (px) with the given aspect ratio whose estimate fits in ``budget``."""
    width, height = aspect
    area_per_side2 = min(width, height) / max(width, height)  # pixels = long² × this
    lo, hi = 16, 65536
    while lo < hi:
        mid = (lo + hi + 1) // 2
        pixels = int(mid * mid * area_per_side2)
        fits = (
            estimate_bytes(pixels, arch=arch, deepest=deepest, optimizer=optimizer, history=history) <= budget
        )
        lo, hi = (mid, hi) if fits else (lo, mid - 1)
    return lo


def available_bytes(device_type: str = "cpu") -> int:
    """Memory we may use: ``IMPASTO_MEMORY_LIMIT`` (bytes, or with a G/M suffix), else what is free."""
    limit = environment.memory_limit()
    if limit:
        return parse_bytes(limit)
    if device_type == "cuda":
        free, _total = torch.cuda.mem_get_info()
        return int(free)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30  # unknown platform: assume a modest laptop


def parse_bytes(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))
