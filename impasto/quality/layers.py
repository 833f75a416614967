"""The VGG backbones' layers by name (no weights, no torch): what the options are checked against."""

from __future__ import annotations

BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
CHANNELS = (64, 128, 256, 512, 512)
BACKBONES = tuple(BLOCKS)


def layer_names(arch: str) -> list[str]:
    """Conv layer names in order: ``conv1_1``, ``conv1_2``, ``conv2_1``, …"""
    return [f"conv{b + 1}_{i + 1}" for b, n in enumerate(BLOCKS[arch]) for i in range(n)]


__all__ = ["BACKBONES", "BLOCKS", "CHANNELS", "layer_names"]
