"""Multi-resolution fusion: a painting made at a working resolution, brought to the photo's pixels.

The fast network paints marks of a fixed size *in pixels*, so the size of the marks relative to the
picture is set by the resolution it paints at (the ``brush``). To give a large photo large strokes
and still keep its pixels and sharp edges, the painting is made at a working resolution and the
full-resolution picture is assembled from two bands:

* the **coarse band** (colours, large strokes) always comes from the working-resolution painting;
* the **fine band** (edges, detail finer than the working resolution can hold) comes from one of:

  - ``"photo"`` — a two-level Laplacian pyramid: ``up(painting) + (photo − up(down(photo)))``;
  - ``"paint"`` — the same, with the detail band of a second, full-resolution painting (the
    network's own small strokes, which follow the photo's edges);
  - ``"guided"`` — a fast guided filter (He & Sun 2015): at the working resolution each output
    channel is fitted locally as ``a · luminance + b`` of the photo, and the smoothed, upsampled
    ``a`` and ``b`` are applied to the full-resolution luminance, so the painting's colours snap to
    the photo's edges without the photo's texture.

All three are exact when the output is no larger than the working size (the painting is only
resized). They were compared side by side (``bench/fast_sheet.py --fusions``); see README.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .options import Fusion

_LUMA = (0.299, 0.587, 0.114)


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """``(N, C, H, W)`` to ``size = (H, W)``: area averaging down, bicubic up (clamped)."""
    if (x.shape[2], x.shape[3]) == size:
        return x
    if size[0] <= x.shape[2] and size[1] <= x.shape[3]:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp_(0, 1)


def lowpass(x: Tensor, size: tuple[int, int]) -> Tensor:
    """What of ``x`` a picture of ``size`` can hold, back at ``x``'s size (a Laplacian level's blur)."""
    full = (x.shape[2], x.shape[3])
    return F.interpolate(resize(x, size), size=full, mode="bicubic", align_corners=False)


def luminance(x: Tensor) -> Tensor:
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]


def _box(x: Tensor, radius: int) -> Tensor:
    return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)


def guided_upsample(painting: Tensor, photo: Tensor, radius: int = 2, eps: float = 2e-3) -> Tensor:
    """Fast guided filter: ``painting`` (working size) fitted to ``photo``'s luminance, at photo size.

    ``radius`` is in working-resolution pixels; ``eps`` regularises flat regions (larger: smoother,
    more of the painting's own look; smaller: closer to the photo's local contrast).
    """
    full = (photo.shape[2], photo.shape[3])
    guide_full = luminance(photo)
    guide = resize(guide_full, (painting.shape[2], painting.shape[3]))
    mean_i = _box(guide, radius)
    mean_p = _box(painting, radius)
    cov = _box(guide * painting, radius) - mean_i * mean_p
    var = _box(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    a, b = _box(a, radius), _box(b, radius)
    a = F.interpolate(a, size=full, mode="bilinear", align_corners=False)
    b = F.interpolate(b, size=full, mode="bilinear", align_corners=False)
    return (a * guide_full).add_(b)


def fuse(painting: Tensor, photo: Tensor, method: Fusion, fine_painting: Tensor | None = None) -> Tensor:
    """The working-size ``painting`` brought to ``photo``'s size (both 0..1, ``(1, 3, H, W)``).

    ``fine_painting`` (the network's painting at the photo's size) is needed for ``"paint"``.
    """
    full = (photo.shape[2], photo.shape[3])
    work = (painting.shape[2], painting.shape[3])
    if work[0] >= full[0] and work[1] >= full[1]:
        return resize(painting, full)
    if method == "guided":
        return guided_upsample(painting, photo).clamp_(0, 1)
    source = photo if method == "photo" else fine_painting
    if source is None:
        raise ValueError("fusion 'paint' needs the full-resolution painting")
    up = F.interpolate(painting, size=full, mode="bicubic", align_corners=False)
    return up.add_(source).sub_(lowpass(source, work)).clamp_(0, 1)
