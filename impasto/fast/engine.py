"""Fast mode: one feed-forward pass of Magenta's arbitrary-style network at full output resolution."""

from __future__ import annotations

import functools
import io
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..cache import atomic_write_bytes, cache_dir, sha256_bytes
from ..device import select_device, select_dtype
from ..errors import Cancelled, OptionsError
from ..imageio import fit_long_side
from ..progress import CancelToken, DoneEvent, IterationEvent, ProgressCallback, StageEvent
from ..styles import Style
from .networks import STYLE_DIM, STYLE_SIZE, StylePredictor, Transformer
from .weights import load_predictor, load_transformer, predictor_digest

MIN_SIDE = 16
#: Largest output painted in one piece per layer when ``tile_size`` is automatic (pixels).
UNTILED_PIXELS = 2048 * 2048
AUTO_TILE = 1024


@dataclass
class FastOptions:
    """Options of the fast engine (``impasto.stylize(..., mode="fast", **options)``)."""

    size: int | None = None  # output long side in px; None keeps the content's size
    strength: float = 1.0  # 0 = the content's own style vector, 1 = the target style's
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    precision: str = "auto"  # auto, float32, bfloat16 (auto measures the hardware)
    tile_size: int | None = None  # tile side per layer; None = whole image up to 2048², else 1024

    def __post_init__(self) -> None:
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, int)):
            raise OptionsError(f"size must be a whole number of pixels, got {self.size!r}")
        if self.size is not None and not MIN_SIDE <= self.size <= 20000:
            raise OptionsError(f"size must be between {MIN_SIDE} and 20000 px, got {self.size}")
        if isinstance(self.strength, bool) or not isinstance(self.strength, int | float):
            raise OptionsError(f"strength must be a number from 0 to 1, got {self.strength!r}")
        if not 0.0 <= float(self.strength) <= 1.0:
            raise OptionsError(f"strength must be between 0 and 1, got {self.strength}")
        tile = self.tile_size
        if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int)):
            raise OptionsError(f"tile_size must be a whole number of pixels, got {self.tile_size!r}")
        if self.tile_size is not None and self.tile_size < 32:
            raise OptionsError(f"tile_size must be at least 32 px, got {self.tile_size}")
        if self.precision not in ("auto", "float32", "bfloat16"):
            raise OptionsError(f"unknown precision {self.precision!r}: use auto, float32 or bfloat16")
        if not isinstance(self.device, str):
            raise OptionsError(f"device must be a name such as auto, cpu or cuda, got {self.device!r}")


@functools.lru_cache(maxsize=4)
def _networks(device: torch.device, dtype: torch.dtype) -> tuple[StylePredictor, Transformer, str]:
    predictor, digest = load_predictor()
    transformer = load_transformer().fold_upsampling()
    if device.type == "cpu":
        transformer.widen_narrow_convs()
    transformer = transformer.to(device=device, dtype=dtype)
    transformer = transformer.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return predictor.to(device), transformer, digest


def load_networks(device: str = "cpu") -> tuple[StylePredictor, Transformer, str]:
    """The float predictor and transformer (cached per device) and the predictor's ONNX SHA-256."""
    dev = select_device(device)
    return _networks(dev, torch.float32)


def _to_tensor(img: Image.Image, device: torch.device) -> torch.Tensor:
    arr = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).copy())
    return arr.permute(2, 0, 1)[None].to(device=device, dtype=torch.float32).div_(255.0)


def style_square(img: Image.Image) -> Image.Image:
    """The predictor's view of a style: the central square, resized to 256×256."""
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    square = img.convert("RGB").crop((left, top, left + side, top + side))
    return square.resize((STYLE_SIZE, STYLE_SIZE), Image.Resampling.LANCZOS)


def image_key(img: Image.Image) -> str:
    """SHA-256 of the decoded pixels (and size): the same picture gives the same key in any format."""
    rgb = img.convert("RGB")
    return sha256_bytes(f"{rgb.width}x{rgb.height}:".encode() + rgb.tobytes())


def style_vector(img: Image.Image, device: str = "cpu") -> np.ndarray:
    """The 100-d style vector of an image, cached on disk by its pixels' SHA-256."""
    predictor, _, digest = load_networks(device)
    path = cache_dir("fast", "vectors", digest[:16]) / f"{image_key(img)}.npy"
    if path.is_file():
        try:
            cached: np.ndarray = np.load(path, allow_pickle=False)
            if cached.shape == (STYLE_DIM,):
                return cached
        except (OSError, ValueError):
            pass
    dev = next(predictor.parameters()).device
    with torch.inference_mode():
        vec: np.ndarray = predictor(_to_tensor(style_square(img), dev))[0].float().cpu().numpy()
    buf = io.BytesIO()
    np.save(buf, vec.astype(np.float32), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())
    return vec


def vector_of(style: Style, device: str = "cpu") -> np.ndarray:
    """The style's vector: the one it carries when our predictor made it, else computed."""
    if style.vector is not None and style.vector_digest == predictor_digest():
        return np.asarray(style.vector, dtype=np.float32)
    return style_vector(style.image, device)


def blend_vectors(
    styles: list[Style], content: Image.Image, strength: float, device: str = "cpu"
) -> np.ndarray:
    """Weighted mix of the styles' vectors, then ``strength`` of the way from the content's own vector."""
    vec = np.zeros(STYLE_DIM, dtype=np.float64)
    for s in styles:
        vec += s.weight * vector_of(s, device)
    if strength < 1.0:
        vec = strength * vec + (1.0 - strength) * style_vector(content, device)
    return vec.astype(np.float32)


def _tile_for(options: FastOptions, width: int, height: int) -> int | None:
    if options.tile_size is not None:
        return options.tile_size
    return None if width * height <= UNTILED_PIXELS else AUTO_TILE


def run_fast(
    content: Image.Image,
    styles: list[Style],
    options: FastOptions,
    progress: ProgressCallback,
    cancel: CancelToken | None,
    vector: np.ndarray | None = None,
) -> Image.Image:
    """Paint ``content`` with the blended style vector of ``styles`` in one feed-forward pass.

    ``vector`` is a style vector from :func:`blend_vectors` computed beforehand: video paints every
    frame with the one vector (steadier than one per frame, and no per-frame analysis).
    """
    start = time.perf_counter()
    if not styles:
        raise OptionsError("at least one style image is needed")
    device = select_device(options.device)
    dtype = select_dtype(options.precision, device)
    if options.size is not None:
        content = fit_long_side(content, options.size)
    width, height = content.size
    if min(width, height) < MIN_SIDE:
        raise OptionsError(f"content is {width}x{height}: fast mode needs {MIN_SIDE} px or more a side")

    progress(StageEvent("loading", "fast-mode networks"))
    _, transformer, _ = _networks(device, dtype)
    progress(StageEvent("analysing style", f"{len(styles)} style(s), strength {options.strength:g}"))
    if vector is None:
        vector = blend_vectors(styles, content, float(options.strength), str(device))
    vec = vector
    _check(cancel)

    tile = _tile_for(options, width, height)
    pad_h, pad_w = (-height) % Transformer.multiple, (-width) % Transformer.multiple
    steps = transformer.tiles_per_layer(height + pad_h, width + pad_w, tile)
    progress(StageEvent("painting", f"{width}x{height}" + (f" in {tile}px tiles" if tile else "")))
    done = 0

    def step() -> None:
        nonlocal done
        _check(cancel)
        done += 1
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (steps - done) if done else None
        progress(IterationEvent(1, 1, (width, height), done, steps, done, steps, {}, elapsed, eta))

    x = _to_tensor(content, device)
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(width, height) > 4 else "replicate")
    x = x.to(dtype).contiguous(memory_format=torch.channels_last)
    style = torch.from_numpy(vec)[None].to(device=device, dtype=dtype)
    with torch.inference_mode():
        out = transformer(x, style, tile, step)
        pixels = out[0, :, :height, :width].float().clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    del out, x
    image = Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy(), "RGB")
    progress(DoneEvent(time.perf_counter() - start, {}))
    return image


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("fast-mode run cancelled")
