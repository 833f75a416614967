"""The style gallery: named paintings with metadata, thumbnails and precomputed style vectors.

Built-in paintings ship inside the package (``paintings/``: small JPEGs, ``gallery.json``, licence
note). A user's own styles live in one store shared by the CLI, this module and the web app: the
data folder's database and images (``impasto.service.gallery.attach()`` plugs it in here; the CLI
does so for every command). Without it (no web extras installed) they are kept in a plain folder
(``IMPASTO_GALLERY_DIR``, else the user data directory) — never inside the installed package.

>>> from impasto import gallery
>>> [s.name for s in gallery.list_styles()][:2]
['shipwreck', 'starry-night']
>>> impasto.stylize("photo.jpg", gallery.style("starry-night"), mode="fast")
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image
from platformdirs import user_data_dir

from .. import environment
from ..cache import atomic_write_bytes
from ..errors import ImageError, OptionsError
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
    # a style from a store that is not a folder (the data folder's database) reads its picture here
    loader: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> Path:
        return Path(self.folder) / self.file

    def image(self) -> Image.Image:
        label = f"gallery style {self.name}"
        return load_image(self.loader() if self.loader else self.path, name=label)

    def thumbnail(self, size: int = 128) -> Image.Image:
        img = self.image()
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
        return img

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metadata (no vector, no paths)."""
        data = asdict(self)
        for key in ("vector", "predictor_sha256", "folder", "loader"):
            data.pop(key)
        return data


class UserStyles(Protocol):
    """Where a user's own styles live when it is not the plain folder (see :func:`use`)."""

    def list(self) -> list[GalleryStyle]: ...

    def get(self, name: str) -> GalleryStyle | None: ...

    def add(self, name: str, picture: Image.Image, title: str) -> GalleryStyle: ...

    def rename(self, name: str, new_name: str | None, title: str | None) -> GalleryStyle: ...

    def delete(self, name: str) -> None: ...


_store: UserStyles | None = None


def use(store: UserStyles | None) -> None:
    """Keep user styles in ``store`` from now on (``None``: the plain folder again)."""
    global _store
    _store = store


def builtin_dir() -> Path:
    return Path(str(resources.files(__name__).joinpath("paintings")))


def user_dir() -> Path:
    """Where a user's saved styles live (``IMPASTO_GALLERY_DIR`` overrides it)."""
    return environment.gallery_dir() or Path(user_data_dir("impasto")) / "gallery"


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
        for key in ("name", "builtin", "folder", "loader"):
            data.pop(key)
        entries[name] = data
    lines = ",\n".join(f" {json.dumps(name)}: {json.dumps(data)}" for name, data in entries.items())
    atomic_write_bytes(folder / INDEX, ("{\n" + lines + "\n}\n").encode())


def builtin_styles() -> list[GalleryStyle]:
    """The paintings that ship with the package, sorted by name."""
    return sorted(_read_index(builtin_dir(), builtin=True).values(), key=lambda s: s.name)


def _user() -> dict[str, GalleryStyle]:
    if _store is not None:
        return {s.name: s for s in _store.list()}
    return _read_index(user_dir(), builtin=False)


def _all() -> dict[str, GalleryStyle]:
    styles = _user()
    styles.update(_read_index(builtin_dir(), builtin=True))  # built-ins win on a clash
    return styles


def list_styles() -> list[GalleryStyle]:
    """Every gallery style: built-ins first, then the user's, each sorted by name."""
    return sorted(_all().values(), key=lambda s: (not s.builtin, s.name))


def names() -> list[str]:
    return [s.name for s in list_styles()]


def get(name: str) -> GalleryStyle:
    """The gallery entry called ``name`` or an :class:`OptionsError` naming the known styles."""
    builtin = _read_index(builtin_dir(), builtin=True)
    if name in builtin:
        return builtin[name]
    found = _store.get(name) if _store is not None else None
    if found is not None:
        return found
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


# The fast engine (and PyTorch) is imported on first use: listing the gallery needs neither.


def style_vector(picture: Image.Image) -> np.ndarray:
    """Fast mode's style vector of a picture."""
    from ..fast import style_vector as compute

    return compute(picture)


def predictor_digest() -> str:
    """Which style-predictor weights the stored vectors belong to."""
    from ..fast import predictor_digest as digest

    return digest()


def painting_vector(name: str) -> np.ndarray:
    """The painting's style vector: precomputed when it matches the installed predictor."""
    from ..fast import vector_of  # the fast engine (PyTorch): imported when a vector is asked for

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
    if _store is not None:
        if name in existing:  # replace=True: the old picture goes
            _store.delete(name)
        return _store.add(name, picture, title or name.replace("-", " ").title())
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


def _mine(name: str, doing: str) -> GalleryStyle:
    entry = get(name)
    if entry.builtin:
        raise OptionsError(f"{name!r} is a built-in gallery style and cannot be {doing}")
    return entry


def rename_style(name: str, new_name: str | None = None, *, title: str | None = None) -> GalleryStyle:
    """Give a user style a new name and/or title (built-ins cannot be renamed)."""
    entry = _mine(name, "renamed")
    if new_name is not None and not NAME_PATTERN.match(new_name):
        raise OptionsError(
            f"style name {new_name!r} must be kebab-case: lower-case letters, digits and dashes"
        )
    if new_name is not None and new_name != name and new_name in _all():
        raise OptionsError(f"the gallery already has a style called {new_name!r}")
    if title is not None and not title.strip():
        raise OptionsError("a style's title cannot be empty")
    if _store is not None:
        return _store.rename(name, new_name, title)
    folder = user_dir()
    user = _read_index(folder, builtin=False)
    user.pop(name)
    target = new_name or name
    file = f"{target}.png"
    if target != name:
        (folder / entry.file).replace(folder / file)
    user[target] = replace(entry, name=target, file=file, title=title.strip() if title else entry.title)
    _write_index(folder, user)
    return user[target]


def remove_style(name: str) -> None:
    """Delete a user style (built-ins cannot be removed)."""
    entry = _mine(name, "removed")
    if _store is not None:
        _store.delete(name)
        return
    user = _read_index(user_dir(), builtin=False)
    user.pop(name, None)
    _write_index(user_dir(), user)
    entry.path.unlink(missing_ok=True)


__all__ = [
    "GalleryStyle",
    "UserStyles",
    "add_style",
    "builtin_dir",
    "builtin_styles",
    "get",
    "list_styles",
    "names",
    "painting_vector",
    "remove_style",
    "rename_style",
    "style",
    "use",
    "user_dir",
]
