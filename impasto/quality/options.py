"""Every knob of the quality engine, with defaults that give a good picture in one go."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from PIL import Image

from ..errors import OptionsError
from ..imageio import MAX_SIDE, MIN_SIDE
from ..options import Opt, check
from .layers import layer_names

# conv5_1 is left out by default: matched at a coarse scale, its few positions (a 16×16 grid for a
# 256 px painting) carry whole objects of the painting, which W2 then copies into the picture; the
# judge grid's style also got worse with it (bench/judge notes in the README).
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1")
INITS = ("palette", "fast", "content", "noise")
# Each style loss's own unit: ``style_weight`` × this is the weight the loss gets, so that the same
# style weight (10, or the web page's 3 / 10 / 30) strikes about the same balance with the content
# loss whichever style loss is chosen (calibrated on the test photos by bench/quality.py --sheet).
# W2's unit was chosen on the judge grid (README: judged on many pairs): 3 per unit of style weight
# paints more of the painting than 1 and 2, with the photo's lines kept; the others keep their
# balance relative to W2.
STYLE_LOSS_UNITS = {"gram": 3.0, "w2": 3.0, "sliced": 9.0}
# By default a painting is as large as the photo, up to this long side: 2048 × 1536 takes about
# 3 minutes and 6.7 GiB in float32 on a 2-core CPU (bench/scale.py); larger sizes when asked for.
DEFAULT_MAX_SIZE = 2048


StyleLossName = Literal["gram", "w2", "sliced"]
Optimizer = Literal["lbfgs", "adam"]
Pooling = Literal["max", "avg"]
Backbone = Literal["vgg16", "vgg19"]
Precision = Literal["auto", "float32", "bfloat16"]


@dataclass
class QualityOptions:
    """Options of :func:`impasto.quality.run_quality` (also accepted by :func:`impasto.stylize`).

    Each option's type, range, default and help are here, once (:mod:`impasto.options`): the CLI
    flags and the REST API's fields are made from them."""

    size: Annotated[
        int | None,
        Opt(
            "long side of the output in px (default: the photo's own size; quality mode at most 2048 "
            "unless asked for more)",
            ge=MIN_SIDE,
            le=MAX_SIDE,
            unit=" px",
            cli=True,
        ),
    ] = None
    iterations: Annotated[
        int | None,
        Opt(
            "iterations in all, shared between the scales (default 26 from the photo, 13 from a fast "
            "draft, up to 512 px; each larger scale adds a few: 4 at 1024 px, 3 at 2048 px)",
            ge=1,
            le=100_000,
            cli=True,
            api=True,
        ),
    ] = None
    content_weight: Annotated[float, Opt("how much the photo's layout counts", ge=0, cli=True, api=True)] = (
        1.0
    )
    # relative: see STYLE_LOSS_UNITS
    style_weight: Annotated[float, Opt("how much the style counts", ge=0, cli=True, api=True)] = 10.0
    # W2 (mean + covariance of the features) by default: it paints the painting's shapes, where
    # the Gram loss keeps to small strokes; chosen with the other defaults on the judge grid.
    style_loss: Annotated[
        StyleLossName,
        Opt(
            "how the painting's style is compared with the artwork's: gram (classic), w2 (Wasserstein "
            "between Gaussian fits), sliced (sliced Wasserstein)",
            cli=True,
            api=True,
        ),
    ] = "w2"
    tv_weight: Annotated[float, Opt("smoothness: penalty on pixel noise", ge=0, cli=True)] = 2.0
    content_layer: str = "conv4_2"
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # None: equal
    # style image seen at this multiple of the output's long side
    style_scale: Annotated[
        float, Opt("size the style is seen at, relative to the output", ge=0.05, le=8, cli=True, api=True)
    ] = 1.0
    pooling: Annotated[Pooling, Opt("the network's pooling", cli=True)] = "max"
    # "palette" (the photo in the painting's colours, and the result's colours matched to the
    # painting's at the end), "content" (the photo as it is), "fast" (fast mode's painting),
    # "noise", or an image
    init: Annotated[
        str | Image.Image,
        Opt(
            "palette (default: the photo in the painting's colours), content (the photo as it is), "
            "fast (fast mode's painting), noise, or an image file",
            cli=True,
            show_default=False,
        ),
    ] = "palette"
    optimizer: Annotated[Optimizer, Opt("optimiser", cli=True)] = "lbfgs"
    learning_rate: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam
    history_size: int = 50  # L-BFGS memory
    seed: Annotated[int | None, Opt("random seed, for repeatable noise", cli=True)] = 0
    backbone: Annotated[Backbone, Opt("the network that judges", cli=True)] = "vgg16"
    weights: Annotated[str | None, Opt("weights file for the vgg19 backbone", cli=True)] = None
    device: str = "auto"
    precision: Annotated[Precision, Opt("number format: auto measures this machine")] = "auto"
    multiscale: Annotated[
        bool, Opt("paint at the final size only (slower)", cli=True, flag="--no-multiscale")
    ] = True
    min_size: int | None = None  # coarsest scale's long side; None: see `first_size`
    scale_ratio: float = 2.0  # size step between scales
    preview_every: int = 0  # emit a preview every N iterations (0: never)
    memory_limit: int | None = None  # bytes; None: what the machine has free
    # iterate averaging: EMA decay of the iterates (0: off; e.g. 0.7)
    average: Annotated[
        float,
        Opt("iterate averaging: EMA decay, e.g. 0.7", ge=0, cli=True, metavar="DECAY", show_default=False),
    ] = 0.0
    # seconds: plan the iterations to finish in about this long
    time_budget: Annotated[
        float | None,
        Opt(
            "plan the iterations to finish in about this many seconds on this machine",
            ge=1,
            le=86_400,
            unit=" s",
            cli=True,
            api=True,
            flag="--time",
            metavar="SECONDS",
        ),
    ] = None

    def __post_init__(self) -> None:
        """The schema's ranges and choices (:func:`impasto.options.check`), then the rules between
        options and those no type can say."""
        self.style_layers = tuple(self.style_layers)
        check(self)
        if self.content_weight == 0 and self.style_weight == 0:
            raise OptionsError("content weight and style weight cannot both be 0")
        if self.average >= 1:
            raise OptionsError(f"average must be 0 (off) or an EMA decay below 1, not {self.average}")
        if isinstance(self.init, str) and self.init not in INITS and not Path(self.init).is_file():
            raise OptionsError(f"init {self.init!r} is neither {', '.join(INITS)} nor an image file")
        self._check_layers()
        if self.learning_rate is not None and not (0 < self.learning_rate <= 100):
            raise OptionsError(f"learning rate must be in (0, 100], not {self.learning_rate}")
        if self.min_size is not None and not self.min_size >= 16:
            raise OptionsError("min size must be at least 16 px")
        if self.scale_ratio <= 1.05:
            raise OptionsError("scale ratio must be above 1.05")
        if self.preview_every < 0:
            raise OptionsError("preview_every must be 0 (off) or a positive number of iterations")
        if not 1 <= self.history_size <= 1000:
            raise OptionsError("history size must be between 1 and 1000")

    def _check_layers(self) -> None:
        names = layer_names(self.backbone)
        for layer in (self.content_layer, *self.style_layers):
            if layer not in names:
                raise OptionsError(
                    f"unknown layer {layer!r} for {self.backbone}: use one of {', '.join(names)}"
                )
        if not self.style_layers:
            raise OptionsError("at least one style layer is needed")
        if self.style_layer_weights is not None:
            self.style_layer_weights = tuple(float(w) for w in self.style_layer_weights)
            if len(self.style_layer_weights) != len(self.style_layers):
                raise OptionsError(
                    f"{len(self.style_layer_weights)} style layer weights for {len(self.style_layers)} layers"
                )
            weights = self.style_layer_weights
            if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
                raise OptionsError("style layer weights must be non-negative and not all zero")

    @property
    def drafted(self) -> bool:
        """True when the painting starts from fast mode's feed-forward painting."""
        return isinstance(self.init, str) and self.init == "fast"

    @property
    def paletted(self) -> bool:
        """True when the photo is painted in the painting's colours from the start to the end."""
        return isinstance(self.init, str) and self.init == "palette"

    @property
    def steps(self) -> int:
        """The iterations given, or by default the composition's: those of the first two scales.

        From the photo 26 iterations, 256:17 → 512:9 (float32 on the 2-core AMD EPYC: 21.6 s at
        512 px, the former 42 from 128 px 21.2 s; 30 iterations painted a little more of the
        painting in 9% more time, 24 a little less); each larger scale adds a few to refine it
        (:func:`impasto.quality.plan.schedule`: 4 at 1024 px, 3 at 2048 px). From a fast-mode
        draft the composition and palette are already there: 13 iterations refine it.
        """
        if self.iterations is not None:
            return self.iterations
        return 13 if self.drafted else 26

    def output_side(self, content_size: tuple[int, int]) -> int:
        """The painting's long side: ``size``, or the photo's own up to ``DEFAULT_MAX_SIZE``."""
        return self.size if self.size is not None else min(max(content_size), DEFAULT_MAX_SIZE)

    @property
    def first_size(self) -> int:
        """The coarsest scale's long side: 512 px from a fast-mode draft, 256 px otherwise.

        Not 128 px: at 128 px the deep layers see whole objects of the painting (a figure, a
        cartouche, a wave) and the optimisation copies them into the picture, bends the photo's
        lines and smears faces; started at 256 px the judge grid kept more of the photo (structure
        0.72 → 0.85 on a 12-pair subset) with as much of the painting. The draft already settles
        what the coarse scales are for: up to 512 px it is refined at the output size alone.
        """
        if self.min_size is not None:
            return self.min_size
        return 512 if self.drafted else 256

    @property
    def layer_weights(self) -> dict[str, float]:
        weights = self.style_layer_weights or (1.0,) * len(self.style_layers)
        total = sum(weights)
        return {name: w / total for name, w in zip(self.style_layers, weights, strict=True)}

    @property
    def style_factor(self) -> float:
        """The weight the chosen style loss gets: ``style_weight`` in that loss's unit."""
        return self.style_weight * STYLE_LOSS_UNITS[self.style_loss]

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02
