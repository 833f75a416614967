"""The committed test images (``tests/data``, see its SOURCES.md): the one place that names that folder."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

DATA = Path(__file__).resolve().parents[1] / "data"
CONTENT = DATA / "content"
STYLE = DATA / "style"


def thumbnail(path: Path, size: int) -> Image.Image:
    """The picture at ``path`` as RGB, reduced so its long side is at most ``size``."""
    img = Image.open(path).convert("RGB")
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return img
