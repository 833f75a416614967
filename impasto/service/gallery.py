"""The style gallery as the service sees it: :mod:`impasto.gallery`'s styles plus styles saved on the web.

Package styles (built-in, and any added with ``impasto styles add`` on this machine) are passed to
the engine by name; styles saved through the web app are rows in ``saved_styles`` pointing at
blobs, so every node of a deployment sees the same ones.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass

from PIL import Image
from sqlalchemy import select

from .. import gallery as package_gallery
from ..errors import Conflict, OptionsError
from .db import Database
from .models import SavedStyle
from .store import BlobStore

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$|^[a-z0-9]$")


@dataclass(frozen=True)
class GalleryEntry:
    name: str
    title: str
    builtin: bool
    sha: str | None = None  # saved styles: the picture's blob
    artist: str | None = None


def builtin_styles() -> list[GalleryEntry]:
    """The package's styles (``builtin`` is false for ones added with the CLI on this machine)."""
    return [
        GalleryEntry(item.name, item.title, item.builtin, artist=item.artist)
        for item in package_gallery.list_styles()
    ]


def builtin_image(name: str) -> Image.Image | None:
    if name not in {e.name for e in builtin_styles()}:
        return None
    return package_gallery.get(name).image()


def entries(db: Database) -> list[GalleryEntry]:
    """Every style a job can use: the package's, then the ones saved through the web."""
    with db.session() as s:
        saved = s.scalars(select(SavedStyle).order_by(SavedStyle.created_at)).all()
        users = [GalleryEntry(r.name, r.title, False, r.sha) for r in saved]
    return builtin_styles() + users


def find(db: Database, name: str) -> GalleryEntry | None:
    for entry in builtin_styles():
        if entry.name == name:
            return entry
    with db.session() as s:
        row = s.get(SavedStyle, name)
        return GalleryEntry(row.name, row.title, False, row.sha) if row else None


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-")


def save(db: Database, title: str, sha: str) -> GalleryEntry:
    """Save an already stored, validated picture under ``title``; names are slugs of titles."""
    title = title.strip()
    name = slug(title)
    if not title or len(title) > 100 or not NAME.match(name):
        raise OptionsError("a style name needs 1–100 characters with at least one letter or digit")
    if find(db, name) is not None:
        raise StyleExists(f"a style named {name!r} is already in the gallery")
    with db.session() as s:
        s.add(SavedStyle(name=name, title=title, sha=sha))
    return GalleryEntry(name, title, False, sha)


class StyleExists(Conflict):
    """The gallery already has a style under that name."""


def image_bytes(db: Database, store: BlobStore, name: str) -> bytes | None:
    """The style's picture as stored bytes (saved) or PNG (built-in); ``None`` if unknown."""
    entry = find(db, name)
    if entry is None:
        return None
    if entry.sha:
        return store.get(entry.sha)
    return _builtin_png(name)


@functools.lru_cache(maxsize=64)
def _builtin_png(name: str) -> bytes | None:
    image = builtin_image(name)
    if image is None:
        return None
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()
