"""Every environment variable the library reads, read here and nowhere else.

The service reads its own (``IMPASTO_DATABASE_URL``, ``IMPASTO_AUTH``, …) once, in
:meth:`impasto.service.config.Settings.from_env`, and passes the settings down; the library's
modules ask this module. Each value is read when asked for, not at import, so a process (or a test)
that sets a variable is heard.

=========================  ===============================================================
``IMPASTO_CACHE_DIR``      cache folder (weights, style vectors); default: the user's cache
``IMPASTO_GALLERY_DIR``    the user's saved styles; default: the user's data folder
``IMPASTO_MAX_PIXELS``     largest decoded picture, pixels (default 40 million)
``IMPASTO_MEMORY_LIMIT``   memory the quality engine may plan for (bytes, or 8G / 512M)
``IMPASTO_VGG19_WEIGHTS``  torchvision's VGG19 weights file, for ``backbone="vgg19"``
``IMPASTO_VIDEO_MAX_*``    ``SECONDS``, ``PIXELS`` (per frame), ``FRAMES``: the largest clip painted
``IMPASTO_LOG_FORMAT``     ``json`` or ``text`` (default: text at a terminal, JSON otherwise)
=========================  ===============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import OptionsError

VIDEO_LIMITS = ("IMPASTO_VIDEO_MAX_SECONDS", "IMPASTO_VIDEO_MAX_PIXELS", "IMPASTO_VIDEO_MAX_FRAMES")


def _text(name: str) -> str | None:
    return os.environ.get(name) or None  # an empty value is no value


def _number(name: str) -> float | None:
    value = _text(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise OptionsError(f"{name} must be a number, not {value!r}") from None


def cache_dir() -> Path | None:
    value = _text("IMPASTO_CACHE_DIR")
    return Path(value) if value else None


def gallery_dir() -> Path | None:
    value = _text("IMPASTO_GALLERY_DIR")
    return Path(value) if value else None


def max_pixels() -> int | None:
    value = _number("IMPASTO_MAX_PIXELS")
    return int(value) if value is not None else None


def memory_limit() -> str | None:
    """As written (``8G``, ``512M`` or bytes): :func:`impasto.quality.memory.parse_bytes` reads it."""
    return _text("IMPASTO_MEMORY_LIMIT")


def vgg19_weights() -> str | None:
    return _text("IMPASTO_VGG19_WEIGHTS")


def video_limit(name: str) -> float | None:
    """One of :data:`VIDEO_LIMITS`."""
    if name not in VIDEO_LIMITS:
        raise ValueError(f"not a video limit: {name}")
    return _number(name)


def log_format() -> str | None:
    value = _text("IMPASTO_LOG_FORMAT")
    return value.lower() if value else None


__all__ = [
    "VIDEO_LIMITS",
    "cache_dir",
    "gallery_dir",
    "log_format",
    "max_pixels",
    "memory_limit",
    "vgg19_weights",
    "video_limit",
]
