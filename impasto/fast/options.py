"""Fast mode's options (no torch): each option's type, range, default and help, once
(:mod:`impasto.options`), and what a brush means in pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from ..errors import OptionsError
from ..imageio import MAX_SIDE, MIN_SIDE
from ..options import Opt, check

Fusion = Literal["photo", "paint", "guided"]
FUSIONS: tuple[Fusion, ...] = ("photo", "paint", "guided")
#: Working long side (px) of the finest and the broadest brush; between them it goes geometrically.
FINE_SIDE = 768
BROAD_SIDE = 192
BRUSHES = {"fine": 0.0, "medium": 0.5, "broad": 1.0}
#: ``brush="native"``: paint at the output size itself (marks of the network's size in pixels).
NATIVE = "native"
DEFAULT_BRUSH = "medium"
DEFAULT_FUSION: Fusion = "paint"


Brush = Literal["fine", "medium", "broad", "native"]
Precision = Literal["auto", "float32", "bfloat16"]


@dataclass
class FastOptions:
    """Options of the fast engine (``impasto.stylize(..., mode="fast", **options)``); each option's
    type, range, default and help are here, once (:mod:`impasto.options`)."""

    size: Annotated[
        int | None,
        Opt(
            "long side of the output in px (default: the photo's own size)",
            ge=MIN_SIDE,
            le=MAX_SIDE,
            unit=" px",
        ),
    ] = None
    # 0 = the content's own style vector, 1 = the target style's
    strength: Annotated[
        float, Opt("0 (photo's own style) to 1 (full style)", ge=0, le=1, cli=True, api=True)
    ] = 1.0
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    precision: Annotated[Precision, Opt("number format: auto measures this machine")] = "auto"
    # tile side per layer; None = whole image up to 2048², else 1024
    tile_size: Annotated[int | None, Opt("tile size in px for large images", ge=32, unit=" px", cli=True)] = (
        None
    )
    #: size of the painted marks relative to the picture: fine, medium, broad, a number from 0
    #: (fine) to 1 (broad), or native (the network's own mark size in pixels, at any output size)
    brush: Annotated[
        Brush | float | str,
        Opt(
            "size of the marks relative to the picture: fine, medium (default), broad, a number from 0 "
            "(fine) to 1 (broad), or native (the network's own size in pixels)",
            ge=0,
            le=1,
            cli=True,
            api=True,
            show_default=False,
        ),
    ] = DEFAULT_BRUSH
    # how the full-size picture gets its fine band: guided, photo, paint
    fusion: Annotated[Fusion, Opt("how the full-size picture gets its fine band")] = DEFAULT_FUSION

    def __post_init__(self) -> None:
        check(self)  # the schema's types, ranges and choices
        brush_side(self.brush, 512)  # a brush's name or number (also given as text)
        if not isinstance(self.device, str):
            raise OptionsError(f"device must be a name such as auto, cpu or cuda, got {self.device!r}")


def brush_side(brush: float | str, output_side: int) -> int:
    """The long side (px) the network paints at for ``brush``, for an output of ``output_side`` px."""
    if isinstance(brush, str):
        if brush == NATIVE:
            return output_side
        if brush not in BRUSHES:
            try:
                brush = float(brush)
            except ValueError:
                names = ", ".join([*BRUSHES, NATIVE])
                raise OptionsError(f"unknown brush {brush!r}: use {names} or a number from 0 to 1") from None
        else:
            brush = BRUSHES[brush]
    if isinstance(brush, bool) or not isinstance(brush, int | float) or not 0.0 <= float(brush) <= 1.0:
        raise OptionsError(f"brush must be fine, medium, broad, native or a number 0..1, got {brush!r}")
    side: float = FINE_SIDE * (BROAD_SIDE / FINE_SIDE) ** float(brush)
    return round(side)


__all__ = ["BRUSHES", "DEFAULT_BRUSH", "FUSIONS", "NATIVE", "Brush", "FastOptions", "Fusion", "brush_side"]
