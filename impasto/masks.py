"""Regions of a picture: greyscale masks (white = the region, soft edges allowed) and what each gets.

A region gets a style of its own (a gallery name or an image, with a weight) or ``"keep"``: the
photo stays there, blended in softly at the edge. Whatever no region claims gets the main style.
Masks may be any size; one whose aspect ratio is close to the photo's (within ``ASPECT_SLACK``) is
resized to it, one further off is refused, saying which. Edges are feathered by ``FEATHER`` of the
picture's long side so that painted and kept parts meet without a seam or a halo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter

from .errors import OptionsError
from .imageio import ImageInput, load_image

KEEP: Literal["keep"] = "keep"
ASPECT_SLACK = 0.05  # a mask up to 5% off the photo's aspect ratio is stretched to fit it
FEATHER = 0.01  # blur radius of a mask's edge, as a share of the picture's long side
EMPTY = 1e-3  # a mask whose mean is below this (of white) covers nothing


@dataclass(frozen=True)
class Region:
    """One region: its mask (float 0..1 at the photo's size) and what it gets."""

    mask: np.ndarray  # (height, width) float32, 1 = fully this region
    style: object  # a style spec (name, image, path, (style, weight)) or KEEP
    label: str = "mask"

    @property
    def keep(self) -> bool:
        return isinstance(self.style, str) and self.style == KEEP


def load_mask(source: ImageInput, size: tuple[int, int], label: str = "mask") -> np.ndarray:
    """A mask as float 0..1 at ``size`` (width, height): any image, read as grey. Clear errors for
    what is not a picture, is empty (all black), or is far off the photo's shape."""
    grey = load_image(source, name=label).convert("L")
    photo_aspect, mask_aspect = size[0] / size[1], grey.width / grey.height
    off = abs(mask_aspect / photo_aspect - 1)
    if off > ASPECT_SLACK:
        raise OptionsError(
            f"{label} is {grey.width}x{grey.height}, the photo {size[0]}x{size[1]}: their shapes differ "
            f"by {off:.0%} (masks up to {ASPECT_SLACK:.0%} off are resized to fit; this one is refused). "
            "Draw the mask over the photo itself, or crop it to the photo's shape"
        )
    if grey.size != size:
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    mask = np.asarray(grey, dtype=np.float32) / 255.0
    if mask.mean() < EMPTY:
        raise OptionsError(f"{label} is empty: it has no white (the region's part) at all")
    return mask


def feathered(mask: np.ndarray, radius: float | None = None) -> np.ndarray:
    """The mask with its edge softened (Gaussian blur of ``FEATHER`` × the long side by default)."""
    height, width = mask.shape
    r = radius if radius is not None else max(1.0, FEATHER * max(width, height))
    img = Image.fromarray((np.clip(mask, 0, 1) * 255).astype(np.uint8), "L")
    return np.asarray(img.filter(ImageFilter.GaussianBlur(r)), dtype=np.float32) / 255.0


def coverage(regions: list[Region], shape: tuple[int, int]) -> tuple[list[np.ndarray], np.ndarray]:
    """Each region's share of every pixel (later regions over earlier ones) and what is left for the
    main style; the shares and the rest sum to one everywhere."""
    rest = np.ones(shape, dtype=np.float32)
    shares: list[np.ndarray] = [np.zeros(shape, dtype=np.float32) for _ in regions]
    for i in reversed(range(len(regions))):  # the last region is on top
        take = regions[i].mask * rest
        shares[i] = take
        rest = rest - take
    return shares, np.clip(rest, 0, 1)


def composite(base: Image.Image, layers: list[tuple[Image.Image, np.ndarray]]) -> Image.Image:
    """``base`` with each (picture, feathered mask) laid over it in order."""
    out = np.asarray(base.convert("RGB"), dtype=np.float32)
    for picture, mask in layers:
        top = np.asarray(picture.convert("RGB").resize(base.size, Image.Resampling.LANCZOS), dtype=np.float32)
        alpha = mask[..., None]
        out = out * (1 - alpha) + top * alpha
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")
