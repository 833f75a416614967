"""Style inputs: files, images or arrays, each with a blending weight.

A leaf of the package: names (gallery styles) are resolved by whoever calls
:func:`resolve_styles` and passes a ``by_name`` lookup (:func:`impasto.api.stylize` passes the
gallery's), so this module knows nothing above images.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image

from .errors import OptionsError
from .imageio import ImageInput, describe, load_image


@dataclass(frozen=True)
class Style:
    """One style image and its share of the blend.

    ``vector`` is an optional precomputed fast-mode style vector of ``image``, made by the style
    predictor whose ONNX file has the SHA-256 ``vector_digest``; the fast engine uses it only when
    that digest is its own predictor's (the gallery ships vectors so its styles cost nothing).
    """

    image: Image.Image
    weight: float = 1.0
    label: str = "style"
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    vector_digest: str = field(default="", repr=False)

    def with_image(self, image: Image.Image) -> Style:
        """The same style seen through a colour transform: its precomputed vector no longer fits."""
        return replace(self, image=image, vector=None, vector_digest="")


StyleInput = ImageInput | Style
StyleSpec = StyleInput | Sequence[StyleInput] | Sequence[tuple[StyleInput, float]]
#: Finds a style by name (``"starry-night"``) with a weight, or raises :class:`OptionsError`.
NameLookup = Callable[[str, float], Style]


def parse_weighted(text: str) -> tuple[str, float | None]:
    """``"starry.jpg:0.7"`` → ``("starry.jpg", 0.7)``; a plain path or name has no weight."""
    head, sep, tail = text.rpartition(":")
    if sep and head and not Path(text).exists():
        try:
            return head, float(tail)
        except ValueError:
            pass
    return text, None


def looks_like_name(text: str) -> bool:
    """``"starry-night"`` is a name; ``"starry.jpg"`` or ``"art/starry"`` are paths."""
    return os.sep not in text and "." not in Path(text).name


def resolve_one(
    source: StyleInput,
    weight: float = 1.0,
    *,
    by_name: NameLookup | None = None,
    limit: int | None = None,
) -> Style:
    if isinstance(source, Style):
        return replace(source, weight=weight) if weight != 1.0 else source
    if isinstance(source, str | os.PathLike) and not Path(source).exists():
        text = str(source)
        name, parsed = parse_weighted(text)
        if parsed is not None:
            return resolve_one(name, weight * parsed, by_name=by_name, limit=limit)
        if by_name is not None and looks_like_name(text):
            return by_name(text, weight)
    return Style(load_image(source, limit=limit), weight, describe(source))


def resolve_styles(
    spec: StyleSpec,
    weights: Sequence[float] | None = None,
    *,
    by_name: NameLookup | None = None,
    limit: int | None = None,
) -> list[Style]:
    """Turn whatever the user gave as style(s) into weighted :class:`Style` objects (weights sum to 1).

    Names go to ``by_name``; without it a name is just a missing file. ``limit`` caps the decoded
    pixels of each image (default: :func:`impasto.imageio.max_pixels`)."""
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
        styles.append(resolve_one(source, float(weight), by_name=by_name, limit=limit))
    if not all(math.isfinite(s.weight) for s in styles):
        raise OptionsError(f"style weights must be finite numbers, not {[s.weight for s in styles]}")
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
