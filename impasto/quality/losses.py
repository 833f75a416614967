"""Small, composable losses. Each takes the features of one shared encoder pass.

Normalisation makes the same weights work at any image size and any style image size:
Gram matrices are divided by the number of positions, each style layer's loss by the squared norm
of its target Gram, the content loss by the squared norm of the target features, and total
variation is a mean over neighbouring pixel pairs of the 0..1 image.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn


def gram(features: Tensor) -> Tensor:
    """Channel correlations F·Fᵀ/(H·W), computed in float32 whatever the network ran in.

    Channels-last features are read as an (H·W)×C view, without a copy: a copy into another layout
    makes the backward pass sum gradients across layouts, which cost ~17% of an iteration at 512 px.
    """
    n, c, h, w = features.shape
    features = features.float()
    if features.is_contiguous(memory_format=torch.channels_last):
        rows = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
        return rows.transpose(1, 2) @ rows / (h * w)
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


class ContentLoss(nn.Module):
    """‖F − F_content‖² / ‖F_content‖² on one layer."""

    def __init__(self, layer: str, target: Tensor) -> None:
        super().__init__()
        self.layer = layer
        self.target = target.detach().float()
        self.scale = 1.0 / max(float(self.target.pow(2).sum()), 1e-12)

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        return (features[self.layer].float() - self.target).pow(2).sum() * self.scale


class StyleLoss(nn.Module):
    """Σ_l w_l ‖G_l − G_style,l‖² / ‖G_style,l‖² over style layers (targets may be blends of Grams)."""

    def __init__(self, targets: Mapping[str, Tensor], layer_weights: Mapping[str, float]) -> None:
        super().__init__()
        self.layers = list(targets)
        self.weights = {k: float(layer_weights[k]) for k in self.layers}
        self.targets = {k: v.detach().float() for k, v in targets.items()}
        self.scales = {k: 1.0 / max(float(v.pow(2).sum()), 1e-12) for k, v in self.targets.items()}

    def per_layer(self, features: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {k: (gram(features[k]) - self.targets[k]).pow(2).sum() * self.scales[k] for k in self.layers}

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        parts = self.per_layer(features)
        return torch.stack([parts[k] * self.weights[k] for k in self.layers]).sum()


def tv_loss(image: Tensor) -> Tensor:
    """Mean squared difference between neighbouring pixels (0..1 image)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return 0.5 * (dx.pow(2).mean() + dy.pow(2).mean())


def blend_grams(grams: list[dict[str, Tensor]], weights: list[float]) -> dict[str, Tensor]:
    """A weighted mix of several styles' Gram targets (weights sum to 1)."""
    return {k: sum(w * g[k] for g, w in zip(grams, weights, strict=True)) for k in grams[0]}  # type: ignore[misc]
