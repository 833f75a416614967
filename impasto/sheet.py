"""Contact sheets: one photo painted in every gallery style, labelled, on one picture.

A user of the Python API, not a part of it: it sits above :mod:`impasto.api` (and the gallery),
so neither of them needs to know it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw

from . import gallery
from .api import Mode, stylize
from .imageio import ImageInput, fit_long_side, load_image


def contact_sheet(
    photo: ImageInput,
    *,
    size: int = 256,
    mode: Mode = "fast",
    columns: int = 3,
    on_style: Callable[[str], None] | None = None,
    **options: Any,
) -> Image.Image:
    """One picture of ``photo`` painted in every gallery style, each labelled, the original first."""
    original = fit_long_side(load_image(photo), size)
    tiles = [("original photo", original)]
    for entry in gallery.list_styles():
        if on_style is not None:
            on_style(entry.name)
        painted = stylize(original, entry.name, mode=mode, **options)
        tiles.append((f"{entry.name} - {entry.artist}" if entry.artist else entry.name, painted))
    return _grid(tiles, original.size, columns)


def styles_sheet(
    entries: list[gallery.GalleryStyle] | None = None, *, size: int = 160, columns: int = 6
) -> Image.Image:
    """Every style's thumbnail (its whole picture, centred in a square), labelled with its name."""
    tiles = []
    for entry in entries if entries is not None else gallery.list_styles():
        cell = Image.new("RGB", (size, size), "white")
        thumb = entry.thumbnail(size).convert("RGB")
        cell.paste(thumb, ((size - thumb.width) // 2, (size - thumb.height) // 2))
        tiles.append((entry.name, cell))
    return _grid(tiles, (size, size), columns)


def _grid(tiles: list[tuple[str, Image.Image]], cell: tuple[int, int], columns: int) -> Image.Image:
    width, height = cell
    pad, label = 8, 18
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + label + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (text, img) in enumerate(tiles):
        row, col = divmod(i, columns)
        x, y = pad + col * (width + pad), pad + row * (height + label + pad)
        draw.text((x + 2, y + 3), text, fill="black")
        sheet.paste(img.resize(cell, Image.Resampling.LANCZOS) if img.size != cell else img, (x, y + label))
    return sheet
