"""Small, composable losses. Each takes the features of one shared encoder pass.

Normalisation makes the same weights work at any image size and any style image size:
Gram matrices are divided by the number of positions, each style layer's loss by the squared norm
of its target (Gram, second moment or projections), the content loss by the squared norm of the
target features, and total variation is a mean over neighbouring pixel pairs of the 0..1 image.

Four style losses, chosen by ``style_loss`` (all computed in float32, whatever the network ran in):

* ``gram`` — Gatys et al.: channel correlations. Cheap; matches the texture's second moments only,
  and a photo's colours survive in it for a long time.
* ``w2`` — Wasserstein-2 distance between Gaussian fits of the features (mean + covariance), as in
  crowsonkb's style-transfer-pytorch ``StyleLossW2``. It separates the mean (the palette) from the
  covariance, and its square-root term scales like a distance, not like a squared Gram entry.
  Matrix square roots by eigendecomposition; the target's is computed once and cached.
* ``sliced`` — sliced Wasserstein (Heitz et al. 2021): features projected on random directions,
  re-drawn every evaluation, sorted and matched to the style's sorted projections. Matches whole
  distributions, not just two moments.

A neural-neighbour loss (sampled hypercolumns pulled to their nearest style hypercolumn by cosine)
was tried and removed: it carried neither colour nor magnitude and barely moved the picture.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import get_args

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .options import StyleLossName

STYLE_LOSSES: tuple[str, ...] = get_args(StyleLossName)  # the options schema's choices


def rows(features: Tensor) -> Tensor:
    """(1, C, H, W) features → an (H·W) × C float32 matrix, a view for channels-last input."""
    return features.float().permute(0, 2, 3, 1).reshape(-1, features.shape[1])


def gram(features: Tensor) -> Tensor:
    """Channel correlations F·Fᵀ/(H·W), computed in float32 whatever the network ran in.

    Channels-last features are read as an (H·W)×C view, without a copy: a copy into another layout
    makes the backward pass sum gradients across layouts, which cost ~17% of an iteration at 512 px.
    """
    n, c, h, w = features.shape
    features = features.float()
    if features.is_contiguous(memory_format=torch.channels_last):
        flat = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
        return flat.transpose(1, 2) @ flat / (h * w)
    chw = features.reshape(n, c, h * w)
    return chw @ chw.transpose(1, 2) / (h * w)


class ContentLoss(nn.Module):
    """‖F − F_content‖² / ‖F_content‖² on one layer."""

    def __init__(self, layer: str, target: Tensor) -> None:
        super().__init__()
        self.layer = layer
        self.target = target.detach().float()
        self.scale = 1.0 / max(float(self.target.pow(2).sum()), 1e-12)

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        return (features[self.layer].float() - self.target).pow(2).sum() * self.scale


class LayerwiseStyleLoss(nn.Module):
    """Σ_l w_l · loss_l: subclasses say what one layer's loss is."""

    def __init__(self, layers: Sequence[str], layer_weights: Mapping[str, float]) -> None:
        super().__init__()
        self.layers = list(layers)
        self.weights = {k: float(layer_weights[k]) for k in self.layers}

    def layer_loss(self, layer: str, features: Tensor) -> Tensor:
        raise NotImplementedError

    def per_layer(self, features: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {k: self.layer_loss(k, features[k]) for k in self.layers if self.weights[k] > 0}

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        parts = self.per_layer(features)
        return torch.stack([parts[k] * self.weights[k] for k in parts]).sum()


class StyleLoss(LayerwiseStyleLoss):
    """Σ_l w_l ‖G_l − G_style,l‖² / ‖G_style,l‖² over style layers (targets may be blends of Grams)."""

    def __init__(self, targets: Mapping[str, Tensor], layer_weights: Mapping[str, float]) -> None:
        super().__init__(list(targets), layer_weights)
        self.targets = {k: v.detach().float() for k, v in targets.items()}
        self.scales = {k: 1.0 / max(float(v.pow(2).sum()), 1e-12) for k, v in self.targets.items()}

    def per_layer(self, features: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {k: self.layer_loss(k, features[k]) for k in self.layers}

    def layer_loss(self, layer: str, features: Tensor) -> Tensor:
        return (gram(features) - self.targets[layer]).pow(2).sum() * self.scales[layer]

    def masked_layer_loss(self, layer: str, features: Tensor, weights: Tensor) -> Tensor:
        """The guided Gram loss of Gatys et al. 2017: the Gram matrix of the masked features."""
        flat = rows(features)
        w = weights.reshape(-1, 1).to(flat.dtype)
        guided = (flat * w).T @ flat / w.sum().clamp(min=1e-6)
        return (guided - self.targets[layer]).pow(2).sum() * self.scales[layer]


GramLoss = StyleLoss


def weighted_moments(features: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and second raw moment of the features, each position counted by ``weights`` (H × W)."""
    flat = rows(features)
    w = weights.reshape(-1, 1).to(flat.dtype)
    w = w / w.sum().clamp(min=1e-6)
    return (flat * w).sum(0), (flat * w).T @ flat


class RegionStyleLoss(nn.Module):
    """Each region's style loss on its own part of the picture, in one optimisation.

    ``parts`` pairs a style loss (towards that region's painting) with the region's share of each
    pixel (H × W at the scale's size, 0..1); each layer sees the share resized to its own grid, and
    each region's loss counts by its share of the picture, so the sum stays on the scale of one
    style loss over the whole picture.
    """

    def __init__(self, parts: list[tuple[W2Loss | StyleLoss, Tensor]]) -> None:
        super().__init__()
        self.parts = [(loss, share) for loss, share in parts if float(share.mean()) > 1e-4]
        self._grids: dict[tuple[int, int, int], Tensor] = {}

    def _share(self, index: int, size: tuple[int, int]) -> Tensor:
        key = (index, *size)
        if key not in self._grids:
            share = self.parts[index][1][None, None]
            self._grids[key] = F.interpolate(share, size=size, mode="area")[0, 0]
        return self._grids[key]

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        total = torch.zeros(())
        for i, (loss, share) in enumerate(self.parts):
            area = float(share.mean())
            for layer in loss.layers:
                feats = features[layer]
                grid = self._share(i, (feats.shape[2], feats.shape[3]))
                total = total + area * loss.weights[layer] * loss.masked_layer_loss(layer, feats, grid)
        return total


class _Moments(torch.autograd.Function):
    """Mean and FᵀF/N of an N × C matrix, with the backward pass written out.

    Autograd would differentiate FᵀF as a product of two different matrices (two N × C × C
    products, then their sum, then the mean's gradient added in a third N × C tensor); the second
    moment is symmetric, so one product does: ∂L/∂F = F (G + Gᵀ)/N + ∂L/∂μ / N.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, flat: Tensor) -> tuple[Tensor, Tensor]:
        ctx.save_for_backward(flat)
        return flat.mean(0), flat.T @ flat / flat.shape[0]

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_mean: Tensor | None, grad_srm: Tensor | None
    ) -> Tensor:
        (flat,) = ctx.saved_tensors  # type: ignore[attr-defined]
        n = flat.shape[0]
        grad = torch.zeros_like(flat) if grad_srm is None else flat @ ((grad_srm + grad_srm.T) / n)
        if grad_mean is not None:
            grad.add_(grad_mean / n)
        return grad


def moments(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and second raw moment of the features (both blend linearly across styles)."""
    mean, srm = _Moments.apply(rows(features))  # type: ignore[no-untyped-call]
    return mean, srm


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run a small eigendecomposition on one thread.

    LAPACK's symmetric eigensolver on a 512×512 matrix gains little from a second thread, and on a
    busy machine its threads wait on each other: measured on the shared 2-core machine (loaded by
    other processes), ``eigvalsh`` + backward took 0.31 s on one thread, 7.6 s on two (medians).
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def sqrtm_psd(matrix: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    with single_threaded():
        values, vectors = torch.linalg.eigh(matrix.double())
    root: Tensor = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    return root.to(matrix.dtype)


class W2Loss(LayerwiseStyleLoss):
    """Wasserstein-2 distance² between Gaussian fits, relative to the target's second moment.

    W₂²(N(μ,Σ), N(μₜ,Σₜ)) = ‖μ − μₜ‖² + tr Σ + tr Σₜ − 2 tr (Σₜ^½ Σ Σₜ^½)^½. The trace of the
    square root is the sum of the square roots of the eigenvalues, so only ``eigvalsh`` is needed
    for the painting's side (its gradient is stable even with repeated eigenvalues); Σₜ^½ is
    computed once per target. A small ridge ``eps`` (relative to the target's mean variance)
    keeps the square roots differentiable for dead (always-zero) channels.
    """

    def __init__(
        self,
        targets: Mapping[str, tuple[Tensor, Tensor]],
        layer_weights: Mapping[str, float],
        eps: float = 1e-4,
    ) -> None:
        super().__init__(list(targets), layer_weights)
        self.means: dict[str, Tensor] = {}
        self.covs: dict[str, Tensor] = {}
        self.sqrt_covs: dict[str, Tensor] = {}
        self.ridges: dict[str, float] = {}
        self.scales: dict[str, float] = {}
        for k, (mean, srm) in targets.items():
            mean, srm = mean.detach().float(), srm.detach().float()
            cov = srm - torch.outer(mean, mean)
            cov = (cov + cov.T) / 2
            ridge = eps * max(float(torch.diagonal(cov).mean()), 1e-12)
            cov = cov + ridge * torch.eye(len(mean))
            self.means[k], self.covs[k], self.ridges[k] = mean, cov, ridge
            self.sqrt_covs[k] = sqrtm_psd(cov)
            self.scales[k] = 1.0 / max(float(mean.pow(2).sum() + torch.trace(cov)), 1e-12)

    def layer_loss(self, layer: str, features: Tensor) -> Tensor:
        root, ridge = self.sqrt_covs[layer], self.ridges[layer]
        positions, channels = features.shape[2] * features.shape[3], features.shape[1]
        if positions < channels:
            mean, trace_cov, cross = self._few_positions(features, root, ridge)
        else:
            mean, trace_cov, cross = self._terms(layer, *moments(features))
        return self._distance(layer, mean, trace_cov, cross)

    def masked_layer_loss(self, layer: str, features: Tensor, weights: Tensor) -> Tensor:
        """The loss of the features' weighted Gaussian fit (a region's, as Gatys et al. 2017 guide
        the Gram matrix by a mask): each position counts by its weight."""
        return self._distance(layer, *self._terms(layer, *weighted_moments(features, weights)))

    def _terms(self, layer: str, mean: Tensor, srm: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        root, ridge = self.sqrt_covs[layer], self.ridges[layer]
        cov = srm - torch.outer(mean, mean)
        cov = (cov + cov.T) / 2 + ridge * torch.eye(len(mean), device=cov.device)
        inner = root @ cov @ root
        with single_threaded():
            eigen = torch.linalg.eigvalsh((inner + inner.T) / 2)
        return mean, torch.trace(cov), eigen.clamp(min=ridge**2).sqrt().sum()

    def _distance(self, layer: str, mean: Tensor, trace_cov: Tensor, cross: Tensor) -> Tensor:
        dist = (mean - self.means[layer]).pow(2).sum() + trace_cov + torch.trace(self.covs[layer])
        loss: Tensor = (dist - 2 * cross).clamp(min=0) * self.scales[layer]
        return loss

    @staticmethod
    def _few_positions(features: Tensor, root: Tensor, ridge: float) -> tuple[Tensor, Tensor, Tensor]:
        """Mean, tr Σ and tr (Σₜ^½ Σ Σₜ^½)^½ when there are fewer positions N than channels C.

        That is the deep layers at the coarse scales (conv5_1 of a 128 px painting has 48 positions
        for 512 channels). With X the centred features (N × C), Σₜ^½ Σ Σₜ^½ = (XΣₜ^½)ᵀ(XΣₜ^½)/N has
        the non-zero eigenvalues of the N × N matrix (XΣₜ^½)(XΣₜ^½)ᵀ/N, so the eigensolver works on
        N × N instead of C × C (5× faster per 128 px iteration at conv4_1 and conv5_1). The C − N
        zero eigenvalues count as the ridge's floor, as in the C × C case; only the ridge's share
        inside the square root (ridge · Σₜ, about 10⁻⁴ of it) is left out.
        """
        flat = rows(features)
        n, c = flat.shape
        mean = flat.mean(0)
        centred = flat - mean
        projected = centred @ root
        small = projected @ projected.T / n
        with single_threaded():
            eigen = torch.linalg.eigvalsh((small + small.T) / 2)
        cross = eigen.clamp(min=ridge**2).sqrt().sum() + (c - n) * ridge
        trace_cov = centred.pow(2).sum() / n + ridge * c
        return mean, trace_cov, cross


def blend_moments(
    moments_list: list[dict[str, tuple[Tensor, Tensor]]], weights: list[float]
) -> dict[str, tuple[Tensor, Tensor]]:
    """A weighted mix of several styles' (mean, second raw moment): the moments of the mixture."""
    out = {}
    for k in moments_list[0]:
        mean = sum(w * m[k][0] for m, w in zip(moments_list, weights, strict=True))
        srm = sum(w * m[k][1] for m, w in zip(moments_list, weights, strict=True))
        out[k] = (mean, srm)
    return out  # type: ignore[return-value]


SORT_BUDGET = 2**19  # sorted elements per layer and evaluation: caps the directions of big layers


class SlicedLoss(LayerwiseStyleLoss):
    """Sliced Wasserstein distance² (Heitz et al. 2021), relative to the target's second moment.

    Every evaluation draws new random unit directions, projects the painting's and the style's
    features on them, sorts both and compares them quantile by quantile (the style's sorted
    projections are resampled to the painting's number of positions). Where the positions are
    many (the first layers at 512 px) fewer directions are drawn, so that sorting stays cheap.
    """

    def __init__(
        self,
        targets: Mapping[str, Tensor],
        layer_weights: Mapping[str, float],
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(list(targets), layer_weights)
        self.targets = {k: v.detach().float() for k, v in targets.items()}  # (M, C) rows
        self.scales = {k: 1.0 / max(float(v.pow(2).sum(1).mean()), 1e-12) for k, v in self.targets.items()}
        self.generator = generator or torch.Generator().manual_seed(0)

    def directions(self, channels: int, count: int, device: torch.device) -> Tensor:
        d = torch.randn(channels, count, generator=self.generator)
        unit: Tensor = d / d.norm(dim=0, keepdim=True)
        return unit.to(device)

    def layer_loss(self, layer: str, features: Tensor) -> Tensor:
        x = rows(features)
        target = self.targets[layer].to(x.device)
        n, c = x.shape
        count = max(8, min(c, SORT_BUDGET // max(n, target.shape[0])))
        d = self.directions(c, count, x.device)
        px = (x @ d).T.contiguous()  # (K, N)
        with torch.no_grad():
            py = (target @ d).T.contiguous().sort(dim=1).values
            if py.shape[1] != n:
                py = F.interpolate(py.unsqueeze(0), size=n, mode="linear", align_corners=True)[0]
        sx, order = px.sort(dim=1)
        del order
        # E|d·f|² = E|f|²/C for a random unit direction d: the per-direction mean is relative to it
        return (sx - py).pow(2).mean() * c * self.scales[layer]


def sample_rows(features: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """At most ``count`` rows of an (M, C) matrix, drawn without replacement."""
    if features.shape[0] <= count:
        return features
    pick = torch.randperm(features.shape[0], generator=generator)[:count]
    return features[pick.to(features.device)]


def tv_loss(image: Tensor) -> Tensor:
    """Mean squared difference between neighbouring pixels (0..1 image)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return 0.5 * (dx.pow(2).mean() + dy.pow(2).mean())


def blend_grams(grams: list[dict[str, Tensor]], weights: list[float]) -> dict[str, Tensor]:
    """A weighted mix of several styles' Gram targets (weights sum to 1)."""
    return {k: sum(w * g[k] for g, w in zip(grams, weights, strict=True)) for k in grams[0]}  # type: ignore[misc]


def build_style_loss(
    kind: str,
    style_features: list[dict[str, Tensor]],
    blend: list[float],
    layer_weights: Mapping[str, float],
    generator: torch.Generator,
) -> nn.Module:
    """The style loss ``kind`` towards the blend of several styles' features (one dict per style).

    Gram and W2 blend their statistics; sliced draws from each style a share of rows in proportion
    to its weight.
    """
    layers = list(layer_weights)
    if kind == "gram":
        return StyleLoss(
            blend_grams([{k: gram(f[k]) for k in layers} for f in style_features], blend), layer_weights
        )
    if kind == "w2":
        stats = [{k: moments(f[k]) for k in layers} for f in style_features]
        return W2Loss(blend_moments(stats, blend), layer_weights)
    shares = [w / sum(blend) for w in blend]
    if kind == "sliced":
        targets = {}
        for k in layers:
            parts = []
            for f, share in zip(style_features, shares, strict=True):
                if share <= 0:
                    continue
                r = rows(f[k])
                parts.append(
                    r if len(shares) == 1 else sample_rows(r, max(1, round(share * r.shape[0])), generator)
                )
            targets[k] = torch.cat(parts)
        return SlicedLoss(targets, layer_weights, generator)
    raise ValueError(f"unknown style loss {kind!r}")
