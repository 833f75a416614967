"""The Gatys et al. optimisation: paint the pixels until their VGG statistics match.

One encoder pass per iteration serves every loss: the network runs once on the image being
painted and the content, style and total-variation losses read the features they need.
"""

from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.nn import functional as F

from .. import color, masks
from ..device import select_device, select_dtype
from ..errors import BudgetError, Cancelled, MemoryLimitError, OptionsError
from ..fast import FastOptions, run_fast
from ..imageio import MIN_SIDE, check_style_shape, load_image
from ..progress import (
    CancelToken,
    DoneEvent,
    IterationEvent,
    PreviewEvent,
    ProgressCallback,
    StageEvent,
    duration,
)
from ..styles import Style
from .backbones import VGGFeatures, load_backbone
from .losses import ContentLoss, RegionStyleLoss, build_style_loss, tv_loss
from .memory import available_bytes, estimate_bytes, largest_long_side
from .optim import LBFGS
from .options import QualityOptions
from .plan import (
    FINAL_ITERATIONS,
    SETUP_ITERATIONS,
    Costs,
    Plan,
    Scale,
    fit,
    fit_budget,
    iteration_cost,
    make_plan,
    minimum,
)

MAX_STYLE_SIDE = 1024  # style images are analysed at most this large
DRAFT_MIN_SIDE = 256  # fast-mode drafts are painted at least this large


@dataclass
class QualityResult:
    image: Image.Image
    losses: dict[str, float]
    plan: Plan
    elapsed: float
    cancelled: bool = False
    seconds_per_iteration: list[float] = field(default_factory=list)  # one figure per scale
    device: str = "cpu"
    precision: str = "float32"


def to_tensor(img: Image.Image, device: torch.device) -> Tensor:
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def to_image(tensor: Tensor) -> Image.Image:
    arr = tensor.detach().float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
    return Image.fromarray((arr * 255.0 + 0.5).astype(np.uint8), "RGB")


def resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    return img if img.size == size else img.resize(size, Image.Resampling.LANCZOS)


class Encoder:
    """The frozen network plus how to run it: device, autocast precision and memory layout."""

    def __init__(self, net: VGGFeatures, device: torch.device, dtype: torch.dtype) -> None:
        self.device, self.dtype = device, dtype
        self.net = net.to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def autocast(self) -> AbstractContextManager[object]:
        if self.dtype == torch.float32:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def __call__(self, image: Tensor, layers: list[str]) -> dict[str, Tensor]:
        with self.autocast():
            features: dict[str, Tensor] = self.net(
                image.contiguous(memory_format=torch.channels_last), layers
            )
        return features


def deepest_layer(opts: QualityOptions) -> str:
    return max([opts.content_layer, *opts.style_layers], key=lambda n: (int(n[4]), int(n[6])))


def memory_need(plan: Plan, opts: QualityOptions) -> int:
    """Estimated peak bytes of the plan's finest scale (L-BFGS keeps one pair per iteration run)."""
    finest = plan.scales[-1]
    return estimate_bytes(
        finest.size[0] * finest.size[1],
        arch=opts.backbone,
        deepest=deepest_layer(opts),
        optimizer=opts.optimizer,
        history=min(opts.history_size, finest.iterations),
    )


def largest_fitting(plan: Plan, opts: QualityOptions, budget: int) -> int:
    finest = plan.scales[-1]
    return largest_long_side(
        budget,
        finest.size,
        arch=opts.backbone,
        deepest=deepest_layer(opts),
        optimizer=opts.optimizer,
        history=min(opts.history_size, finest.iterations),
    )


def check_memory(plan: Plan, opts: QualityOptions, device: torch.device) -> None:
    finest = plan.scales[-1]
    budget = opts.memory_limit or available_bytes(device.type)
    need = memory_need(plan, opts)
    if need > budget:
        largest = largest_fitting(plan, opts, budget)
        raise MemoryLimitError(
            f"a {finest.size[0]}×{finest.size[1]} painting needs about {need / 2**30:.1f} GiB but "
            f"{budget / 2**30:.1f} GiB is available; the largest size that fits is {largest} px "
            f"(long side)",
            largest_size=largest,
        )


def style_features(
    encoder: Encoder, styles: list[Style], scale: Scale, opts: QualityOptions
) -> list[dict[str, Tensor]]:
    """Each style's features at this scale: the style seen at ``style_scale`` × the long side."""
    side = min(MAX_STYLE_SIDE, max(MIN_SIDE, round(scale.long_side * opts.style_scale)))
    out = []
    with torch.no_grad():
        for style in styles:
            width, height = style.image.size  # a thin style: its short side no less than MIN_SIDE
            long_side = max(side, math.ceil(MIN_SIDE * max(width, height) / min(width, height)))
            img = resize(style.image, fit(style.image.size, long_side))
            out.append(encoder(to_tensor(img, encoder.device), list(opts.style_layers)))
    return out


def upsample(image: Tensor, content: Tensor, coarse_content: Tensor | None) -> Tensor:
    """Start a finer scale: the coarse painting upsampled, plus the detail the photo gains at this size.

    Upsampling alone gives a blurred picture whose missing high frequencies the first style layers
    and the content layer penalise heavily; adding back the photo's own band of detail (as in a
    Laplacian pyramid) starts the finer scale much closer to its optimum.
    """
    size = (content.shape[2], content.shape[3])
    up = F.interpolate(image, size=size, mode="bicubic")
    if coarse_content is not None:
        up = up + content - F.interpolate(coarse_content, size=size, mode="bicubic")
    return up.clamp(0, 1)


def fast_painting(photo: Image.Image, styles: list[Style], plan: Plan, device: torch.device) -> Image.Image:
    """Fast mode's feed-forward painting of the photo, as the first scale's starting point.

    The draft already has the style's palette and strokes, so the optimisation only refines it.
    It is painted at the first scale's size, but at least 256 px (the fast networks were trained
    on pictures of a few hundred pixels, not on thumbnails), and shrunk to the first scale.
    """
    first, final = plan.scales[0], plan.scales[-1]
    side = min(final.long_side, max(first.long_side, DRAFT_MIN_SIDE))
    options = FastOptions(device=str(device), brush="native")  # the size the refinement expects
    painted = run_fast(resize(photo, fit(photo.size, side)), styles, options, lambda _e: None, None)
    return resize(painted, first.size)


def initial_image(
    opts: QualityOptions,
    content: Tensor,
    generator: torch.Generator,
    draft: Image.Image | None = None,
) -> Tensor:
    if isinstance(opts.init, str) and opts.init in ("content", "palette"):
        return content.clone()
    if isinstance(opts.init, str) and opts.init == "noise":
        noise = torch.rand(content.shape, generator=generator)
        return noise.to(content.device)
    if isinstance(opts.init, str) and opts.init == "fast":
        if draft is None:
            raise OptionsError("init fast needs the fast-mode draft")
        return to_tensor(resize(draft, (content.shape[3], content.shape[2])), content.device)
    img = load_image(opts.init, name=f"init image {opts.init}" if isinstance(opts.init, str) else None)
    return to_tensor(resize(img, (content.shape[3], content.shape[2])), content.device)


def make_optimizer(opts: QualityOptions, image: Tensor, curvature: float | None) -> LBFGS | torch.optim.Adam:
    if opts.optimizer == "lbfgs":
        return LBFGS(image, lr=opts.lr, history_size=opts.history_size, curvature=curvature)
    return torch.optim.Adam([image], lr=opts.lr)


class Timer:
    """Seconds per unit of work (:class:`~impasto.quality.plan.Costs`), for ETAs across scales."""

    def __init__(self, rate: float | None = None) -> None:
        self.start = time.perf_counter()
        self.rate = rate  # seconds per unit: the probe's until iterations are measured
        self.measured = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def update(self, seconds: float, units: float) -> None:
        sample = seconds / units
        self.rate = sample if not self.measured or self.rate is None else 0.7 * self.rate + 0.3 * sample
        self.measured = True

    def eta(self, remaining_units: float) -> float | None:
        return None if self.rate is None else self.rate * max(remaining_units, 0.0)


REGION_BLEND = 0.025  # regions' styles and palettes fade into each other over this share of the long side


@dataclass(frozen=True)
class PaintedRegion:
    """A part of the picture painted in styles of its own (``styles``), or kept (``None``)."""

    mask: np.ndarray  # (height, width) at the photo's size, 0..1
    styles: list[Style] | None


def region_shares(regions: list[PaintedRegion], size: tuple[int, int]) -> tuple[list[Tensor], Tensor]:
    """Each region's share of every pixel at ``size`` and what is left for the main style (kept
    regions take their part from it and give it to no style)."""
    resized = [np.asarray(Image.fromarray(r.mask).resize(size, Image.Resampling.BILINEAR)) for r in regions]
    shares, rest = masks.coverage([masks.Region(m, None) for m in resized], (size[1], size[0]))
    return [torch.from_numpy(np.ascontiguousarray(x)) for x in shares], torch.from_numpy(rest)


def regional_palette(
    photo: Image.Image, palettes: list[color.Palette | None], shares: list[np.ndarray]
) -> Image.Image:
    """The photo recoloured part by part: each share in its palette (``None``: the photo's own)."""
    out = np.zeros((photo.height, photo.width, 3), dtype=np.float32)
    for palette, share in zip(palettes, shares, strict=True):
        part = photo if palette is None else color.match_palette(photo, palette)
        out += np.asarray(part, dtype=np.float32) * share[..., None]
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


class Objective:
    """Content, style and TV losses of one scale, evaluated from one shared encoder pass.

    The network may run under bfloat16 autocast; every loss reads its features in float32.
    """

    def __init__(
        self,
        encoder: Encoder,
        content: Tensor,
        styles: list[Style],
        scale: Scale,
        opts: QualityOptions,
        generator: torch.Generator | None = None,
        regions: list[PaintedRegion] | None = None,
    ):
        self.encoder, self.opts = encoder, opts
        self.layers = sorted({opts.content_layer, *opts.style_layers})
        with torch.no_grad():
            target = encoder(content, [opts.content_layer])[opts.content_layer]
            self.content = ContentLoss(opts.content_layer, target)
            generator = generator or torch.Generator().manual_seed(opts.seed or 0)

            def loss_for(chosen: list[Style]) -> nn.Module:
                feats = style_features(encoder, chosen, scale, opts)
                weights = [s.weight for s in chosen]
                return build_style_loss(opts.style_loss, feats, weights, opts.layer_weights, generator)

            self.style = loss_for(styles)
            if regions:  # each region's features matched to its own painting, in one optimisation
                shares, rest = region_shares(regions, scale.size)
                parts = [(self.style, rest)] + [
                    (loss_for(r.styles), share) for r, share in zip(regions, shares, strict=True) if r.styles
                ]
                self.style = RegionStyleLoss(parts)  # type: ignore[arg-type]

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, float]]:
        feats = self.encoder(image, self.layers)
        c, s, t = self.content(feats), self.style(feats), tv_loss(image)
        total = self.opts.content_weight * c + self.opts.style_factor * s + self.opts.tv_weight * t
        parts = {"content": c.item(), "style": s.item(), "tv": t.item(), "total": total.item()}
        return total, parts


class EMA:
    """A bias-corrected exponential moving average of the iterates, as in crowsonkb's ``EMA``.

    L-BFGS without a line search (and the stochastic sliced and nn losses) jitters around the
    optimum; the average of the last iterates is smoother than any one of them.
    """

    def __init__(self, value: Tensor, decay: float) -> None:
        self.decay, self.accum = decay, 1.0
        self.value = torch.zeros_like(value)
        self.update(value)

    def update(self, value: Tensor) -> None:
        self.accum *= self.decay
        self.value.mul_(self.decay).add_(value.detach(), alpha=1 - self.decay)

    def get(self) -> Tensor:
        return (self.value / (1 - self.accum)).clamp(0, 1)


@dataclass
class ScaleOutcome:
    best: Tensor
    losses: dict[str, float]
    seconds_per_iteration: float
    cancelled: bool


class Run:
    """State shared across the scales of one painting: progress counters, timer, reporting, budget."""

    def __init__(
        self,
        plan: Plan,
        opts: QualityOptions,
        report: ProgressCallback,
        cancel: CancelToken | None,
        rate: float | None = None,
        least: list[int] | None = None,
    ):
        self.plan, self.opts, self.report, self.cancel = plan, opts, report, cancel
        self.costs = Costs(plan)
        self.least = least or minimum(plan)  # a time budget never takes a scale below this
        self.timer = Timer(rate)
        self.step = 0
        self.started = 0  # the scale being painted (its analysis done)
        self.done = [0] * len(plan.scales)  # iterations run at each scale
        # L-BFGS curvature per pixel, carried from scale to scale: the per-pixel gradients of these
        # size-normalised losses shrink as the pixel count grows, so the inverse curvature grows with it
        self.curvature_per_pixel: float | None = None

    def work(self) -> tuple[float, float]:
        """(units done, units in all) of the plan as it stands."""
        total = self.costs.total([s.iterations for s in self.plan.scales])
        return self.costs.done(self.started, self.done), total

    def replan(self, index: int) -> None:
        """With a time budget: fit the iterations of scale ``index`` onwards into what is left of it.

        The seconds per iteration at each scale are the measured seconds per unit of work times the
        scale's cost (:func:`~impasto.quality.plan.iteration_cost`); the scales still to start are
        charged their analysis too, and the final scale its final evaluation. No scale goes below
        its minimum (:func:`~impasto.quality.plan.minimum`), even if that overruns the budget.
        """
        if self.opts.time_budget is None or self.timer.rate is None:
            return
        per = self.costs.per_iteration
        seconds = [self.timer.rate * c for c in per]
        overhead = FINAL_ITERATIONS * seconds[-1] + SETUP_ITERATIONS * sum(seconds[index + 1 :])
        left = self.opts.time_budget - self.timer.elapsed() - overhead
        self.plan = fit_budget(self.plan, self.done, seconds, left, least=self.least)

    def over_budget(self, index: int) -> bool:
        """True when one more iteration at this (final) scale would end past the time budget."""
        if (
            self.opts.time_budget is None
            or not self.timer.measured
            or self.timer.rate is None
            or index < len(self.plan.scales) - 1
            or self.done[index] < self.least[index]
        ):
            return False
        cost = self.timer.rate * self.costs.per_iteration[index]
        return self.timer.elapsed() + (1 + FINAL_ITERATIONS) * cost > self.opts.time_budget

    def paint(self, index: int, image: Tensor, objective: Objective) -> ScaleOutcome:
        """Optimise ``image`` at scale ``index`` (0-based); return the best image seen (lowest total loss),
        or with iterate averaging the average of the iterates."""
        scale = self.plan.scales[index]
        image = image.detach().requires_grad_(True)
        pixels = scale.size[0] * scale.size[1]
        carried = None if self.curvature_per_pixel is None else self.curvature_per_pixel * pixels
        optimizer = make_optimizer(self.opts, image, carried)
        average = EMA(image, self.opts.average) if self.opts.average > 0 else None
        losses: dict[str, float] = {}

        def closure() -> Tensor:
            nonlocal losses
            with torch.no_grad():
                image.clamp_(0, 1)
            optimizer.zero_grad()
            total, losses = objective(image)
            total.backward()
            return total

        best, best_loss, best_losses, done = image.detach().clone(), float("inf"), {}, 0
        start = tick = time.perf_counter()
        cancelled = False
        while done < self.plan.scales[index].iterations:
            stop = self._stop(index, done)
            if stop is not None:
                cancelled = stop == "cancelled"
                break
            before = image.detach().clone()
            optimizer.step(closure)  # evaluates the losses of `before`, then moves
            if not np.isfinite(losses["total"]):
                raise OptionsError(
                    "the optimisation diverged (loss is not finite); try a smaller learning rate"
                )
            if losses["total"] < best_loss:
                best, best_loss, best_losses = before, losses["total"], dict(losses)
            if average is not None:
                with torch.no_grad():
                    average.update(image.clamp(0, 1))
            done, self.step = done + 1, self.step + 1
            self.done[index] = done
            now = time.perf_counter()  # a lap: the iteration and everything around it (events, previews)
            self.timer.update(now - tick, self.costs.per_iteration[index])
            tick = now
            if index == 0 and done == 2:  # the first warm-up-free figure: plan the budget with it
                self.replan(index)
            self._report_iteration(index, done, losses, image)
        if isinstance(optimizer, LBFGS) and optimizer.curvature is not None:
            self.curvature_per_pixel = optimizer.curvature / pixels
        with torch.no_grad():
            image.clamp_(0, 1)
            if average is not None and done:
                averaged = average.get()
                _, averaged_losses = objective(averaged)
                return ScaleOutcome(averaged, averaged_losses, self.per_iteration(start, done), cancelled)
            _, final_losses = objective(image)
        if not done or final_losses["total"] <= best_loss:
            best, best_losses = image.detach().clone(), final_losses
        return ScaleOutcome(best, best_losses, self.per_iteration(start, done), cancelled)

    def _stop(self, index: int, done: int) -> str | None:
        """Why the scale stops before its planned iterations: "cancelled", or "budget" (the plan
        then says how many it ran), or ``None`` to go on."""
        if self.cancel is not None and self.cancel.cancelled:
            return "cancelled"
        if done and self.over_budget(index):
            scales = self.plan.scales
            self.plan = Plan(tuple(Scale(s.size, done) if i == index else s for i, s in enumerate(scales)))
            return "budget"
        return None

    def _report_iteration(self, index: int, done: int, losses: dict[str, float], image: Tensor) -> None:
        """One iteration's event (the share of the work done and the time left), and a preview
        every ``preview_every`` steps."""
        units, total = self.work()
        self.report(
            IterationEvent(
                index + 1,
                len(self.plan.scales),
                self.plan.scales[index].size,
                done,
                self.plan.scales[index].iterations,
                self.step,
                self.plan.steps,
                dict(losses),
                self.timer.elapsed(),
                self.timer.eta(total - units),
                min(1.0, units / total),
            )
        )
        if self.opts.preview_every and self.step % self.opts.preview_every == 0:
            self.report(PreviewEvent(self.step, to_image(image)))

    @staticmethod
    def per_iteration(start: float, done: int) -> float:
        return (time.perf_counter() - start) / max(done, 1)


def colour(
    picture: Image.Image, palette: color.Palette, styles: list[Style], regions: list[PaintedRegion] | None
) -> Image.Image:
    """The picture in its paintings' colours: each region in its own painting's, kept parts as they are."""
    if not regions:
        return color.match_palette(picture, palette)
    size = picture.size
    shares, rest = region_shares(regions, size)
    palettes: list[color.Palette | None] = [palette]
    for region in regions:
        chosen = region.styles
        palettes.append(
            color.palette_of([s.image for s in chosen], [s.weight for s in chosen]) if chosen else None
        )
    return regional_palette(picture, palettes, [rest.numpy(), *(x.numpy() for x in shares)])


def kept_at(kept: list[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    return [np.asarray(Image.fromarray(m).resize(size, Image.Resampling.BILINEAR)) for m in kept]


PROBE_SIZE = (384, 288)
_probed: dict[tuple[str, ...], float] = {}


def seconds_per_unit(encoder: Encoder, opts: QualityOptions) -> float:
    """This machine's seconds per unit of plan work (:class:`~impasto.quality.plan.Costs`).

    Measured once per process, device and precision: two forward and backward passes of a
    384 × 288 picture after one to warm up (about two seconds on a 2-core CPU; the first pass at a
    new size allocates and runs slower), the faster one, plus the losses' share of an iteration.
    """
    key = (str(encoder.device), str(encoder.dtype), opts.backbone, opts.pooling, deepest_layer(opts))
    if key not in _probed:
        layers = sorted({opts.content_layer, *opts.style_layers})
        generator = torch.Generator().manual_seed(0)

        def once() -> float:
            size = PROBE_SIZE
            image = torch.rand((1, 3, size[1], size[0]), generator=generator).to(encoder.device)
            image.requires_grad_(True)
            start = time.perf_counter()
            features = encoder(image, layers)
            torch.stack([f.float().square().mean() for f in features.values()]).sum().backward()
            return time.perf_counter() - start

        once()
        _probed[key] = min(once(), once()) * LOSS_SHARE / iteration_cost(PROBE_SIZE)
    return _probed[key]


LOSS_SHARE = 1.1  # a full iteration (losses, L-BFGS) over the bare network pass, at 384 × 288


def make_quality_plan(content_size: tuple[int, int], side: int, opts: QualityOptions) -> Plan:
    return make_plan(
        content_size,
        side,
        opts.iterations,
        multiscale=opts.multiscale,
        min_size=opts.first_size,
        ratio=opts.scale_ratio,
        base=opts.steps,
    )


def size_painting(
    content_size: tuple[int, int], opts: QualityOptions, device: torch.device, report: ProgressCallback
) -> Plan:
    """The plan at the size asked for, or by default the photo's size shrunk to what memory holds."""
    side = opts.output_side(content_size)
    plan = make_quality_plan(content_size, side, opts)
    if opts.size is None:  # a default size adapts to the machine; a size asked for is refused below
        budget = opts.memory_limit or available_bytes(device.type)
        if memory_need(plan, opts) > budget:
            side = largest_fitting(plan, opts, budget)
            plan = make_quality_plan(content_size, side, opts)
            report(StageEvent("sizing", f"{side} px, the largest size that fits in {budget / 2**30:.1f} GiB"))
    check_memory(plan, opts, device)
    return plan


def fit_time_budget(plan: Plan, opts: QualityOptions, rate: float, content_size: tuple[int, int]) -> Plan:
    """The plan's iterations fitted to ``opts.time_budget``, never below each scale's minimum.

    Refused before any painting (:class:`BudgetError`) when even the minimum would not fit: the
    picture would be the photo with faint strokes, called done.
    """
    budget = opts.time_budget
    if budget is None:
        return plan
    costs = Costs(plan)
    least = costs.minimum() * rate
    if least > budget:
        width, height = plan.scales[-1].size
        smaller = largest_side_within(content_size, opts, rate, budget, plan.scales[-1].long_side)
        advice = f"choose {smaller} px or less" if smaller else "choose a smaller size"
        raise BudgetError(
            f"a {width}×{height} painting needs at least {duration(least)} on this machine "
            f"(about {duration(costs.total() * rate)} as planned), more than the time budget of "
            f"{duration(budget)}: give it more time, or {advice}",
            seconds=costs.total() * rate,
            minimum=least,
            largest_size=smaller,
        )
    count = len(plan.scales)
    overhead = costs.total([0] * count) * rate  # every scale's analysis and the final evaluation
    seconds = [rate * c for c in costs.per_iteration]
    return fit_budget(plan, [0] * count, seconds, budget - overhead, least=minimum(plan))


def largest_side_within(
    content_size: tuple[int, int], opts: QualityOptions, rate: float, budget: float, below: int
) -> int | None:
    """The largest long side (in steps of an eighth) whose minimum work fits in ``budget`` seconds."""
    side = below
    while side > 64:
        side = int(side * 0.875)
        if min(fit(content_size, side)) < MIN_SIDE:
            return None
        if Costs(make_quality_plan(content_size, side, opts)).minimum() * rate <= budget:
            return side
    return None


@dataclass(frozen=True)
class Estimate:
    """What a quality painting will take on this machine, known before it starts."""

    plan: Plan
    rate: float  # this machine's seconds per unit of work

    @property
    def size(self) -> tuple[int, int]:
        return self.plan.scales[-1].size

    @property
    def seconds(self) -> float:
        """As planned."""
        return Costs(self.plan).total() * self.rate

    @property
    def minimum(self) -> float:
        """The least a time budget may give it."""
        return Costs(self.plan).minimum() * self.rate


def estimate(content_size: tuple[int, int], options: QualityOptions | None = None) -> Estimate:
    """The expected time of painting a photo of ``content_size`` with ``options`` on this machine.

    The network is loaded and timed once per process (about a second). With a time budget in
    ``options`` that cannot pay for the size's minimum, raises :class:`BudgetError` as
    :func:`run_quality` would, before anything is painted.
    """
    opts = options or QualityOptions()
    device = select_device(opts.device)
    plan = size_painting(content_size, opts, device, lambda _e: None)
    dtype = select_dtype(opts.precision, device)
    encoder = Encoder(load_backbone(opts.backbone, opts.pooling, opts.weights), device, dtype)
    rate = seconds_per_unit(encoder, opts)
    fit_time_budget(plan, opts, rate, content_size)
    return Estimate(plan, rate)


def _check_inputs(
    content: Image.Image, styles: list[Style], opts: QualityOptions, regions: list[PaintedRegion] | None
) -> None:
    """What no option check can see: the styles, the regions' loss and the painted photo's size."""
    if not styles:
        raise OptionsError("at least one style image is needed")
    if regions and opts.style_loss == "sliced":
        raise OptionsError("regions work with the w2 and gram style losses, not sliced")
    for style in styles:
        check_style_shape(style.image.size, style.label)
    side = opts.output_side(content.size)
    painted = fit(content.size, side)
    if min(painted) < MIN_SIDE:
        raise OptionsError(
            f"content is {content.size[0]}x{content.size[1]}: painted at {side} px it would be "
            f"{painted[0]}x{painted[1]}; quality mode needs {MIN_SIDE} px or more a side"
        )


def _finish(
    final: Image.Image,
    size: tuple[int, int],
    photo: Image.Image,
    palette: color.Palette | None,
    styles: list[Style],
    regions: list[PaintedRegion] | None,
) -> Image.Image:
    """The painting at the size asked for, in the paintings' colours, with the kept regions' photo."""
    if final.size != size:  # cancelled at a coarse scale: deliver the requested size
        final = final.resize(size, Image.Resampling.BICUBIC)
    if palette is not None:  # the optimisation leaves part of the way to the palette: finish it
        final = colour(final, palette, styles, regions)
    if regions:  # kept parts: the photo itself, blended in at a feathered edge
        kept = [masks.feathered(r.mask) for r in regions if r.styles is None]
        if kept:
            final = masks.composite(final, [(photo, m) for m in kept_at(kept, final.size)])
    return final


def run_quality(
    content: Image.Image,
    styles: list[Style],
    options: QualityOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    regions: list[PaintedRegion] | None = None,
) -> QualityResult:
    """Paint ``content`` in the blended ``styles``. See :class:`QualityOptions` for the knobs.

    ``regions`` (masks at the photo's size) get styles of their own, or keep the photo; the
    ``styles`` paint what no region claims.
    """
    opts = options or QualityOptions()
    report = progress or (lambda _e: None)
    _check_inputs(content, styles, opts, regions)
    photo = content
    if regions:  # soft borders: each region's colours and strokes fade into its neighbours'
        regions = [
            PaintedRegion(masks.feathered(r.mask, REGION_BLEND * max(content.size)), r.styles)
            for r in regions
        ]
    device = select_device(opts.device)
    dtype = select_dtype(opts.precision, device)
    plan = size_painting(content.size, opts, device, report)
    report(StageEvent("loading", f"loading {opts.backbone} on {device.type}"))
    encoder = Encoder(load_backbone(opts.backbone, opts.pooling, opts.weights), device, dtype)
    rate, least = None, minimum(plan)
    if opts.time_budget is not None:
        rate = seconds_per_unit(encoder, opts)
        plan = fit_time_budget(plan, opts, rate, content.size)
    palette = None  # the paintings' colours: the photo starts in them, the result ends in them
    if opts.paletted:
        palette = color.palette_of([s.image for s in styles], [s.weight for s in styles])
        content = colour(content, palette, styles, regions)
    run = Run(plan, opts, report, cancel, rate, least)
    seed = opts.seed if opts.seed is not None else int(time.time_ns() % 2**63)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)

    image: Tensor | None = None
    previous_content: Tensor | None = None
    outcome: ScaleOutcome | None = None
    per_iteration: list[float] = []
    for index, scale in enumerate(plan.scales):
        where = f"scale {index + 1}/{len(plan.scales)}: {scale.size[0]}×{scale.size[1]}"
        run.report(StageEvent("analysing style", where))
        content_t = to_tensor(resize(content, scale.size), device)
        objective = Objective(encoder, content_t, styles, scale, opts, generator, regions)
        if image is None:
            draft = None
            if opts.drafted:
                run.report(StageEvent("drafting", "a fast-mode first draft"))
                draft = fast_painting(content, styles, plan, device)
                if opts.preview_every:  # something to look at within a second or two
                    run.report(PreviewEvent(0, draft))
            image = initial_image(opts, content_t, generator, draft)
        else:  # coarse to fine: the previous result upsampled, plus the photo's finer detail
            image = upsample(image, content_t, previous_content)
            run.replan(index)
        previous_content = content_t
        run.started = index
        run.report(StageEvent("painting", where))
        outcome = run.paint(index, image, objective)
        per_iteration.append(outcome.seconds_per_iteration)
        image = outcome.best
        if outcome.cancelled:
            break

    if outcome is None or (outcome.cancelled and run.step == 0):
        raise Cancelled("cancelled before the first iteration")
    final = _finish(to_image(outcome.best), plan.scales[-1].size, photo, palette, styles, regions)
    run.report(DoneEvent(run.timer.elapsed(), dict(outcome.losses), outcome.cancelled))
    return QualityResult(
        final,
        outcome.losses,
        run.plan,
        run.timer.elapsed(),
        outcome.cancelled,
        per_iteration,
        device.type,
        str(dtype).removeprefix("torch."),
    )
