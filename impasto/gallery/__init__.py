"""The style gallery: named paintings with metadata, thumbnails and precomputed style vectors.

Built-in paintings ship inside the package (``paintings/``: small JPEGs, ``gallery.json``, licence
note). A user's own styles are saved in a user gallery folder (``IMPASTO_GALLERY_DIR``, else the
user data directory) — never inside the installed package.

>>> from impasto import gallery
>>> [s.name for s in gallery.list_styles()][:2]
['shipwreck', 'starry-night']
>>> impasto.stylize("photo.jpg", gallery.style("starry-night"), mode="fast")
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from platformdirs import user_data_dir

from ..cache import atomic_write_bytes
from ..errors import ImageError, OptionsError
from ..fast import predictor_digest, style_vector, vector_of
from ..imageio import ImageInput, encode_image, fit_long_side, load_image
from ..styles import Style

NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
INDEX = "gallery.json"
USER_MAX_SIDE = 1024


@dataclass(frozen=True)
class GalleryStyle:
    """One named painting of the gallery."""

    name: str
    title: str
    artist: str = ""
    year: str = ""
    licence: str = ""
    file: str = ""
    builtin: bool = True
    vector: list[float] | None = field(default=None, repr=False)
    predictor_sha256: str = field(default="", repr=False)
    folder: str = field(default="", repr=False)

    @property
    def path(self) -> Path:
        return Path(self.folder) / self.file

    def image(self) -> Image.Image:
        return load_image(self.path, name=f"gallery style {self.name}")

    def thumbnail(self, size: int = 128) -> Image.Image:
        img = self.image()
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
        return img

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metadata (no vector, no paths)."""
        data = asdict(self)
        for key in ("vector", "predictor_sha256", "folder"):
            data.pop(key)
        return data


def builtin_dir() -> Path:
    return Path(str(resources.files(__name__).joinpath("paintings")))


def user_dir() -> Path:
    """Where a user's saved styles live (``IMPASTO_GALLERY_DIR`` overrides it)."""
    return Path(os.environ.get("IMPASTO_GALLERY_DIR") or Path(user_data_dir("impasto")) / "gallery")


def _read_index(folder: Path, builtin: bool) -> dict[str, GalleryStyle]:
    path = folder / INDEX
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OptionsError(f"{path}: gallery index unreadable ({exc})") from None
    return {
        name: GalleryStyle(name=name, builtin=builtin, folder=str(folder), **data)
        for name, data in entries.items()
    }


def _write_index(folder: Path, styles: dict[str, GalleryStyle]) -> None:
    entries = {}
    for name, entry in sorted(styles.items()):
        data = asdict(entry)
        for key in ("name", "builtin", "folder"):
            data.pop(key)
        entries[name] = data
    lines = ",\n".join(f" {json.dumps(name)}: {json.dumps(data)}" for name, data in entries.items())
    atomic_write_bytes(folder / INDEX, ("{\n" + lines + "\n}\n").encode())


def _all() -> dict[str, GalleryStyle]:
    styles = _read_index(user_dir(), builtin=False)
    styles.update(_read_index(builtin_dir(), builtin=True))  # built-ins win on a clash
    return styles


def list_styles() -> list[GalleryStyle]:
    """Every gallery style: built-ins first, then the user's, each sorted by name."""
    return sorted(_all().values(), key=lambda s: (not s.builtin, s.name))


def names() -> list[str]:
    return [s.name for s in list_styles()]


def get(name: str) -> GalleryStyle:
    """The gallery entry called ``name`` or an :class:`OptionsError` naming the known styles."""
    styles = _all()
    if name not in styles:
        known = ", ".join(s.name for s in list_styles()) or "none"
        raise OptionsError(f"unknown style {name!r}: not a file, and not in the gallery (known: {known})")
    return styles[name]


def style(name: str, weight: float = 1.0) -> Style:
    """A gallery painting as a :class:`~impasto.styles.Style` for either engine, carrying its
    precomputed fast-mode vector and the digest of the predictor that made it."""
    entry = get(name)
    vector = None if entry.vector is None else np.asarray(entry.vector, dtype=np.float32)
    return Style(entry.image(), weight, label=name, vector=vector, vector_digest=entry.predictor_sha256)


def painting_vector(name: str) -> np.ndarray:
    """The painting's style vector: precomputed when it matches the installed predictor."""
    return vector_of(style(name))


def add_style(
    name: str,
    image: ImageInput,
    *,
    title: str | None = None,
    artist: str = "",
    year: str | int = "",
    licence: str = "the user's own",
    replace: bool = False,
) -> GalleryStyle:
    """Save ``image`` into the user gallery as ``name`` (kebab-case) and precompute its vector."""
    if not NAME_PATTERN.match(name):
        raise OptionsError(f"style name {name!r} must be kebab-case: lower-case letters, digits and dashes")
    existing = _all()
    if name in existing and existing[name].builtin:
        raise OptionsError(f"{name!r} is a built-in gallery style: choose another name")
    if name in existing and not replace:
        raise OptionsError(f"the gallery already has a style called {name!r}")
    picture = load_image(image)
    if max(picture.size) > USER_MAX_SIDE:
        picture = fit_long_side(picture, USER_MAX_SIDE)
    folder = user_dir()
    file = f"{name}.png"
    try:
        atomic_write_bytes(folder / file, encode_image(picture, "PNG"))
    except OSError as exc:
        raise ImageError(f"{folder / file}: cannot write ({exc.strerror or exc})") from None
    digest = predictor_digest()
    vec = style_vector(picture)
    entry = GalleryStyle(
        name=name, title=title or name.replace("-", " ").title(), artist=artist, year=str(year),
        licence=licence, file=file, builtin=False, vector=[round(float(v), 6) for v in vec],
        predictor_sha256=digest, folder=str(folder),
    )  # fmt: skip
    user = _read_index(folder, builtin=False)
    user[name] = entry
    _write_index(folder, user)
    return entry


def remove_style(name: str) -> None:
    """Delete a user style (built-ins cannot be removed)."""
    entry = get(name)
    if entry.builtin:
        raise OptionsError(f"{name!r} is a built-in gallery style and cannot be removed")
    user = _read_index(user_dir(), builtin=False)
    user.pop(name, None)
    _write_index(user_dir(), user)
    entry.path.unlink(missing_ok=True)


__all__ = [
    "GalleryStyle",
    "add_style",
    "builtin_dir",
    "get",
    "list_styles",
    "names",
    "painting_vector",
    "remove_style",
    "style",
    "user_dir",
]
