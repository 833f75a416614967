"""The Python API: one call from images to a painting.

>>> import impasto
>>> picture = impasto.stylize("photo.jpg", "starry_night.jpg", size=512)
>>> picture.save("painting.png")

Flow: image in → validate (:mod:`impasto.imageio`) → colour preparation (:mod:`impasto.color`) →
engine (quality: :mod:`impasto.quality`, fast: :mod:`impasto.fast`) → colour finish → image out.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from PIL import Image

from . import color, gallery, masks
from .errors import OptionsError
from .fast import FastOptions, run_fast
from .imageio import ImageInput, load_image, save_image
from .progress import CancelToken, ProgressCallback, ignore
from .quality import QualityOptions, run_quality
from .quality.engine import PaintedRegion
from .styles import Style, StyleSpec, resolve_styles

Mode = Literal["quality", "fast"]
MODES: tuple[Mode, ...] = ("quality", "fast")
#: Each mode's options: the engine's options dataclass, whose fields are the one list of which
#: option belongs to which mode (the CLI, the job options and the web form derive theirs from it).
ENGINE_OPTIONS: dict[str, type[QualityOptions] | type[FastOptions]] = {
    "quality": QualityOptions,
    "fast": FastOptions,
}


def mode_options(mode: str) -> frozenset[str]:
    """The engine options :func:`stylize` takes in ``mode``."""
    return frozenset(f.name for f in dataclasses.fields(ENGINE_OPTIONS[mode]))


def modes_of(option: str) -> list[str]:
    """The modes that take ``option``."""
    return [mode for mode in MODES if option in mode_options(mode)]


def _options(mode: str, options: dict[str, Any]) -> Any:
    names = mode_options(mode)
    unknown = sorted(set(options) - names)
    if unknown:
        raise OptionsError(
            f"unknown option(s) for {mode} mode: {', '.join(unknown)} (known: {', '.join(sorted(names))})"
        )
    return ENGINE_OPTIONS[mode](**options)


def stylize(
    content: ImageInput,
    style: StyleSpec,
    *,
    mode: Mode = "quality",
    style_weights: Sequence[float] | None = None,
    preserve_color: str | bool | None = "none",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_pixels: int | None = None,
    regions: Sequence[tuple[ImageInput, Any]] | None = None,
    **options: Any,
) -> Image.Image:
    """Paint ``content`` in the style of ``style`` and return the picture.

    ``content`` and each style may be a path, bytes, a PIL image or an array; ``style`` may also be
    a gallery name, a list of styles, or a list of ``(style, weight)`` pairs. ``max_pixels`` caps
    each decoded input (default: :func:`impasto.imageio.max_pixels`). ``regions`` pairs masks (any
    greyscale picture; white = the region) with a style for that part, or ``"keep"`` for the photo
    itself: ``regions=[("sky.png", "the-scream"), ("face.png", "keep")]``; ``style`` paints what no
    region claims (later regions lie over earlier ones). Other keyword options are the engine's:
    see :class:`impasto.quality.QualityOptions` and :class:`impasto.fast.FastOptions`.
    """
    if mode not in MODES:
        raise OptionsError(f"unknown mode {mode!r}: use quality or fast")
    color_mode = color.check_mode(preserve_color)
    photo = load_image(content, limit=max_pixels)
    styles = resolve_styles(style, style_weights, by_name=gallery.style, limit=max_pixels)
    parts = load_regions(regions or [], photo.size, max_pixels)
    engine_photo, engine_styles = prepare_colors(photo, styles, color_mode)
    parts = [
        replace(r, styles=prepare_colors(photo, r.styles, color_mode)[1]) if r.styles else r for r in parts
    ]
    report = progress or ignore
    if mode == "fast":
        opts = _options(mode, options)
        painted = run_fast(engine_photo, engine_styles, opts, report, cancel)
        if parts:
            painted = fast_regions(engine_photo, painted, parts, opts, report, cancel)
    else:
        if color_mode != "none":
            # fast mode paints in colours of its own, which would leak into the photo's palette:
            # colour-preserving paintings start from the photo unless told otherwise
            options = {"init": "content", **options}
        opts = _options(mode, options)
        painted = run_quality(engine_photo, engine_styles, opts, report, cancel, parts).image
    return color.finish(painted, photo, color_mode)


def load_regions(
    regions: Sequence[tuple[ImageInput, Any]], size: tuple[int, int], max_pixels: int | None = None
) -> list[PaintedRegion]:
    """``(mask, style or "keep")`` pairs → masks at the photo's ``size`` with their resolved styles."""
    out = []
    for number, item in enumerate(regions, start=1):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise OptionsError(f'region {number}: give a (mask, style or "keep") pair, not {item!r}')
        source, what = item
        label = f"region {number}'s mask" if not isinstance(source, str | os.PathLike) else str(source)
        mask = masks.load_mask(source, size, label)
        if isinstance(what, str) and what == masks.KEEP:
            out.append(PaintedRegion(mask, None))
        else:
            out.append(PaintedRegion(mask, resolve_styles(what, by_name=gallery.style, limit=max_pixels)))
    return out


def fast_regions(
    photo: Image.Image,
    painted: Image.Image,
    regions: list[PaintedRegion],
    opts: FastOptions,
    report: ProgressCallback,
    cancel: CancelToken | None,
) -> Image.Image:
    """Fast mode's regions: each painted whole in its own style at full size (or the photo, kept),
    laid over the main painting through its feathered mask, so no seam and no halo shows."""
    layers = []
    for region in regions:
        own = photo if region.styles is None else run_fast(photo, region.styles, opts, report, cancel)
        layers.append((own, masks.feathered(_at(region.mask, painted.size))))
    return masks.composite(painted, layers)


def _at(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (mask.shape[1], mask.shape[0]) == size:
        return mask
    return np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.BILINEAR))


def prepare_colors(photo: Image.Image, styles: list[Style], mode: str) -> tuple[Image.Image, list[Style]]:
    """Apply the colour mode's preparation to the photo and every style."""
    if mode == "none":
        return photo, styles
    engine_photo, images = color.prepare(photo, [s.image for s in styles], mode)
    return engine_photo, [s.with_image(img) for s, img in zip(styles, images, strict=True)]


def transfer_style(
    content_path: str | os.PathLike[str],
    style_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Image.Image:
    """The call users of the TensorFlow tutorials know: paths in, a picture out (and saved if asked)."""
    picture = stylize(content_path, style_path, **options)
    if output_path is not None:
        save_image(picture, output_path)
    return picture


__all__ = [
    "ENGINE_OPTIONS",
    "MODES",
    "ImageInput",
    "Mode",
    "load_image",
    "mode_options",
    "modes_of",
    "stylize",
    "transfer_style",
]
