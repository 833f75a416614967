"""Fast mode: Magenta's arbitrary-style network painted at the brush's working resolution, fused at full size.

The network paints marks of a fixed size in pixels. Run at a large photo's own resolution it covers
the photo with fine texture instead of painting it; run at a few hundred pixels (as it was trained)
it paints the style's large shapes. So ``brush`` picks the working resolution (the size of the
marks relative to the picture) and :mod:`impasto.fast.fusion` builds the output at the photo's
pixels: coarse band from the working painting, fine band (edges) fitted from the photo.
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import imageio
from ..cache import atomic_write_bytes, cache_dir, sha256_bytes
from ..device import select_device, select_dtype
from ..errors import Cancelled, OptionsError
from ..imageio import fit_long_side
from ..progress import CancelToken, DoneEvent, IterationEvent, ProgressCallback, StageEvent
from ..styles import Style
from .fusion import fuse, resize
from .networks import STYLE_DIM, STYLE_SIZE, StylePredictor, Transformer
from .options import (
    FastOptions,
    brush_side,
)
from .weights import load_predictor, load_transformer, predictor_digest

MIN_SIDE, MAX_SIDE = imageio.MIN_SIDE, imageio.MAX_SIDE  # the smallest and largest sides painted
#: Largest output painted in one piece per layer when ``tile_size`` is automatic (pixels).
UNTILED_PIXELS = 2048 * 2048
AUTO_TILE = 1024


def working_size(brush: float | str, width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` of the painting the network makes for an output of ``width × height``."""
    long_side = max(width, height)
    side = brush_side(brush, long_side)
    if side == long_side:
        return width, height
    scale = side / long_side
    return max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale))


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
    """Paint ``content`` with the blended style vector of ``styles``: one feed-forward pass at the
    brush's working size (plus one at full size for ``fusion="paint"``), fused to the output size.

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

    work_w, work_h = working_size(options.brush, width, height)
    fused = (work_w, work_h) != (width, height)
    sizes = [(work_w, work_h)] + ([(width, height)] if fused and options.fusion == "paint" else [])
    steps = sum(_tiles_of(transformer, options, w, h) for w, h in sizes)
    tile = max((t for w, h in sizes if (t := _tile_for(options, w, h))), default=None)
    where = f" from a {work_w}x{work_h} painting" if fused else ""
    progress(StageEvent("painting", f"{width}x{height}{where}" + (f" in {tile}px tiles" if tile else "")))
    done = 0

    def step() -> None:
        nonlocal done
        _check(cancel)
        done += 1
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (steps - done) if done else None
        progress(IterationEvent(1, 1, (width, height), done, steps, done, steps, {}, elapsed, eta))

    style = torch.from_numpy(vec)[None].to(device=device, dtype=dtype)
    with torch.inference_mode():
        photo = _to_tensor(content, device)
        if fused:
            painting = _paint(transformer, resize(photo, (work_h, work_w)), style, options, dtype, step)
            fine = _paint(transformer, photo, style, options, dtype, step) if len(sizes) > 1 else None
            out = fuse(painting, photo, options.fusion, fine)
        else:
            out = _paint(transformer, photo, style, options, dtype, step)
        pixels = out[0].clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    del out, photo
    image = Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy(), "RGB")
    progress(DoneEvent(time.perf_counter() - start, {}))
    return image


def _tiles_of(transformer: Transformer, options: FastOptions, width: int, height: int) -> int:
    pad_h, pad_w = (-height) % Transformer.multiple, (-width) % Transformer.multiple
    return transformer.tiles_per_layer(height + pad_h, width + pad_w, _tile_for(options, width, height))


def _paint(
    transformer: Transformer,
    x: torch.Tensor,
    style: torch.Tensor,
    options: FastOptions,
    dtype: torch.dtype,
    step: Callable[[], None],
) -> torch.Tensor:
    """One network pass over ``x`` (``(1, 3, H, W)``, 0..1): the painting, float32, same size."""
    height, width = x.shape[2], x.shape[3]
    pad_h, pad_w = (-height) % Transformer.multiple, (-width) % Transformer.multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(width, height) > 4 else "replicate")
    x = x.to(dtype).contiguous(memory_format=torch.channels_last)
    out: torch.Tensor = transformer(x, style, _tile_for(options, width, height), step)
    return out[:, :, :height, :width].float().contiguous()


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("fast-mode run cancelled")
