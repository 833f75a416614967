"""Images in and out: decode anything a user may hand us into 8-bit sRGB, or refuse clearly.

Every path into the engines goes through :func:`load_image`, which identifies images by decoding
them (never by file name), applies EXIF orientation, flattens alpha over white, turns CMYK,
16-bit, greyscale and palette images into 8-bit RGB, keeps the first frame of animations, and
guards against decompression bombs with a configurable pixel limit.

Only the formats the documentation lists are ever opened (:data:`READ_FORMATS`): Pillow knows
thirty more, some with decoders rarely exercised by anyone, and one (EPS) that hands the file to
Ghostscript, so an explicit allow-list is passed to every ``Image.open``. :data:`MIN_SIDE` and
:data:`MAX_ASPECT` say what the engines can paint, so that services can refuse a degenerate picture
when it arrives rather than when a worker fails on it.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from . import environment
from .cache import atomic_write_bytes
from .errors import ImageError

ImageInput = str | os.PathLike[str] | bytes | Image.Image | np.ndarray

#: Default largest image we agree to decode, in pixels (``IMPASTO_MAX_PIXELS`` overrides it).
DEFAULT_MAX_PIXELS = 50_000_000
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
#: The Pillow plugins Impasto decodes with, and nothing else (never EPS/PostScript: Ghostscript).
READ_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
#: The same list as people read it, in errors and in the README.
READ_FORMATS_TEXT = "JPEG, PNG, WebP, BMP, TIFF, GIF"
#: The smallest side either engine paints: VGG's conv5_1 sits behind four 2×2 poolings (16 px → 1)
#: and the fast networks need as much (:data:`impasto.fast.engine.MIN_SIDE`).
MIN_SIDE = 16
#: the largest long side an engine paints (the memory check refuses most machines far below it)
MAX_SIDE = 20000
#: Styles may be at most this many times as long as they are wide: quality mode enlarges a style
#: whose short side would fall under :data:`MIN_SIDE`, and a thinner one would become huge.
MAX_ASPECT = 16


def max_pixels() -> int:
    value = environment.max_pixels()
    return value if value is not None else DEFAULT_MAX_PIXELS


def describe(source: object) -> str:
    """A short name for an image source, for error messages."""
    if isinstance(source, str | os.PathLike):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape}>"
    if isinstance(source, Image.Image):
        return f"<image {source.size[0]}x{source.size[1]}>"
    return f"<{type(source).__name__}>"


def load_image(source: ImageInput, *, limit: int | None = None, name: str | None = None) -> Image.Image:
    """Decode ``source`` into an 8-bit RGB image or raise :class:`ImageError` saying why."""
    label = name or describe(source)
    limit = limit or max_pixels()
    if isinstance(source, np.ndarray):
        return _check_size(_from_array(source, label), limit, label)
    if isinstance(source, Image.Image):
        _check_size(source, limit, label)
        return to_rgb(source, label)
    if isinstance(source, bytes):
        if not source:
            raise ImageError(f"{label}: empty file")
        return _open(io.BytesIO(source), limit, label)
    path = Path(source)
    if not path.exists():
        raise ImageError(f"{label}: no such file")
    if path.is_dir():
        raise ImageError(f"{label}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{label}: empty file")
    return _open(path, limit, label)


def _open(fp: Path | io.BytesIO, limit: int, label: str) -> Image.Image:
    with _reading(label):
        img = open_image(fp)
        _check_size(img, limit, label)
        img.seek(0)  # animated images: the first frame
        img.load()
        return to_rgb(img, label)


@contextlib.contextmanager
def _reading(label: str) -> Iterator[None]:
    """Pillow's errors while reading ``label`` as :class:`ImageError`: one message per kind of
    failure, whichever entry (CLI, Python, web) reads the picture. Pillow's decompression-bomb
    warning (over ``Image.MAX_IMAGE_PIXELS``) is an error here, as is its error (over twice that)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{label}: image too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image Impasto can read ({READ_FORMATS_TEXT})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"{label}: damaged or truncated image ({exc})") from None


def open_image(fp: Path | io.BytesIO) -> Image.Image:
    """``Image.open`` restricted to :data:`READ_FORMATS` (lazy: reads the header only)."""
    return Image.open(fp, formats=READ_FORMATS)


def image_size(data: bytes, label: str = "image", limit: int | None = None) -> tuple[int, int]:
    """Width and height from the header alone (no decoding), or :class:`ImageError`; with a
    ``limit``, a picture of more pixels is refused as :func:`load_image` would refuse it, with the
    same message, before anything is decoded."""
    if not data:
        raise ImageError(f"{label}: empty file")
    with _reading(label), open_image(io.BytesIO(data)) as img:
        if limit is not None:
            _check_size(img, limit, label)
        return img.size


def painted_size(size: tuple[int, int], long_side: int | None) -> tuple[int, int]:
    """The size a picture of ``size`` is painted at with the given long side (None: as it is)."""
    width, height = size
    if long_side is None:
        return width, height
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_paintable(size: tuple[int, int], long_side: int | None, label: str) -> None:
    """Refuse a photo whose painting would be thinner than the engines can paint."""
    width, height = painted_size(size, long_side)
    if min(width, height) < MIN_SIDE:
        if (width, height) == tuple(size):  # painted at its own size: say so once
            side = "high" if height < width else "wide"
            what = f"a {width}x{height} picture is {min(width, height)} px {side}"
        else:
            what = f"a {size[0]}x{size[1]} picture painted at {long_side} px is {width}x{height}"
        raise ImageError(
            f"{label}: {what}; Impasto paints {MIN_SIDE} px or more a side (give a larger size, "
            "or crop the picture)"
        )


def check_style_shape(size: tuple[int, int], label: str) -> None:
    """Refuse a style picture more than :data:`MAX_ASPECT` times as long as it is wide."""
    width, height = size
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(
            f"{label}: a {width}x{height} picture is too thin to paint with: a style may be at most "
            f"{MAX_ASPECT} times as long as it is wide (crop it)"
        )


def _check_size(img: Image.Image, limit: int, label: str) -> Image.Image:
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageError(f"{label}: image has no pixels")
    if width * height > limit:
        raise ImageError(
            f"{label}: {width}x{height} is {width * height / 1e6:.1f} megapixels, over the limit of "
            f"{limit / 1e6:.1f} (set IMPASTO_MAX_PIXELS to change it)"
        )
    return img


def to_rgb(img: Image.Image, label: str = "image") -> Image.Image:
    """Orientation, colour profile, bit depth, alpha and mode fixed: plain 8-bit sRGB."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK"):
        img = _to_srgb(img, icc)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode=out_mode)
        return converted if converted is not None else img
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img  # a broken profile: the pixels are still usable as they are


def _from_array(arr: np.ndarray, label: str) -> Image.Image:
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # CHW -> HWC
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"{label}: expected an HxW, HxWx3 or HxWx4 array")
    if arr.size == 0:
        raise ImageError(f"{label}: image has no pixels")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageError(f"{label}: array contains NaN or infinity")
        arr = np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype == np.uint16:
        arr = (arr // 257).astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    mode = "L" if arr.ndim == 2 else ("RGB" if arr.shape[2] == 3 else "RGBA")
    return to_rgb(Image.fromarray(np.ascontiguousarray(arr), mode), label)


def fit_long_side(img: Image.Image, size: int) -> Image.Image:
    """Resize so the long side is ``size`` px, keeping the aspect ratio (high-quality filter)."""
    new = painted_size(img.size, size)
    if new == img.size:
        return img
    return img.resize(new, Image.Resampling.LANCZOS)


def output_format(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ImageError(f"{path}: output must end in .png, .jpg, .jpeg or .webp")
    return OUTPUT_FORMATS[suffix]


def encode_image(img: Image.Image, fmt: str = "PNG", quality: int = 95) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":
        img.save(buf, "PNG")
    else:
        img.save(buf, fmt, quality=quality)
    return buf.getvalue()


def save_image(img: Image.Image, path: str | os.PathLike[str], quality: int = 95) -> Path:
    """Write ``img`` atomically in the format its suffix names (PNG, JPEG or WebP)."""
    fmt = output_format(path)
    out = Path(path)
    try:
        atomic_write_bytes(out, encode_image(img, fmt, quality))
    except OSError as exc:
        raise ImageError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return out
