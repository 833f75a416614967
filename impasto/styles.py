"""Style inputs: files, images, arrays or gallery names, each with a blending weight."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from PIL import Image

from .errors import OptionsError
from .imageio import ImageInput, describe, load_image


@dataclass(frozen=True)
class Style:
    """One style image and its share of the blend."""

    image: Image.Image
    weight: float = 1.0
    label: str = "style"
    gallery_name: str | None = None  # set when the style came from the gallery (precomputed data)

    def with_image(self, image: Image.Image) -> Style:
        """The same style seen through a colour transform: no longer the gallery's own pixels."""
        return replace(self, image=image, gallery_name=None)


StyleInput = ImageInput | Style
StyleSpec = StyleInput | Sequence[StyleInput] | Sequence[tuple[StyleInput, float]]


def parse_weighted(text: str) -> tuple[str, float | None]:
    """``"starry.jpg:0.7"`` → ``("starry.jpg", 0.7)``; a plain path or name has no weight."""
    head, sep, tail = text.rpartition(":")
    if sep and head and not Path(text).exists():
        try:
            return head, float(tail)
        except ValueError:
            pass
    return text, None


def resolve_one(source: StyleInput, weight: float = 1.0) -> Style:
    if isinstance(source, Style):
        return replace(source, weight=weight) if weight != 1.0 else source
    if isinstance(source, str | os.PathLike) and not Path(source).exists():
        text = str(source)
        name, parsed = parse_weighted(text)
        if parsed is not None:
            return resolve_one(name, weight * parsed)
        if os.sep not in text and "." not in Path(text).name:
            from . import gallery  # gallery names like "starry-night"

            return gallery.style(text, weight)
    return Style(load_image(source), weight, describe(source))


def resolve_styles(spec: StyleSpec, weights: Sequence[float] | None = None) -> list[Style]:
    """Turn whatever the user gave as style(s) into weighted :class:`Style` objects (weights sum to 1)."""
    items: list[object] = list(spec) if isinstance(spec, list | tuple) and not _is_pair(spec) else [spec]
    if not items:
        raise OptionsError("at least one style image is needed")
    if weights is not None and len(weights) != len(items):
        raise OptionsError(f"{len(weights)} style weights given for {len(items)} styles")
    styles = []
    for i, item in enumerate(items):
        source, weight = _split(item)
        if weights is not None:
            weight = weights[i]
        styles.append(resolve_one(source, float(weight)))
    total = sum(s.weight for s in styles)
    if any(s.weight < 0 for s in styles) or total <= 0:
        raise OptionsError("style weights must be non-negative and not all zero")
    return [replace(s, weight=s.weight / total) for s in styles]


def _split(item: object) -> tuple[Any, float]:
    if _is_pair(item):
        source, weight = cast(tuple[Any, float], item)
        return source, float(weight)
    return item, 1.0


def _is_pair(item: object) -> bool:
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[1], int | float)
        and not isinstance(item[1], bool)
    )
