"""The one gallery of user styles: rows in ``saved_styles`` pointing at blobs, in the data folder's
database and image store, shared by the web app, the CLI and the Python API.

Built-in paintings ship with the package (:mod:`impasto.gallery`) and are passed to the engine by
name. A user's styles are rows here, so every node of a deployment (and the CLI pointed at the same
data folder: ``IMPASTO_DATA_DIR`` or ``--data-dir``, else ``./data``) sees the same ones;
:func:`attach` plugs this store into :mod:`impasto.gallery` for the CLI and Python callers. A job
refers to its style picture by hash, so renaming or deleting a style never breaks a queued job: the
picture is deleted only when no job (and no upload in progress) still uses it.

Saved styles have an owner: ``public`` ones (saved by an admin, the CLI, or before owners existed)
are the gallery every visitor sees, and only an admin changes them; any other owner's are theirs
alone. Names are per owner: the built-in and public names are taken for everyone (everyone sees
them), a private name only for its owner, so saving a name another owner keeps privately answers
exactly as a free name does (nothing about it is revealed, not even by the time it takes). A viewer
finds their own style of a name first, then the public one. ``viewer`` arguments are an owner
string, or ``None`` for someone who sees and may change everything (an admin key, the CLI: the
public style of a name, else the oldest).
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import Update, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import gallery as package_gallery
from ..errors import Conflict, Forbidden, NotFound, OptionsError
from ..imageio import encode_image
from .config import Settings
from .storage.blobdb import make_store
from .storage.db import Database
from .storage.models import PUBLIC_STYLES, Job, SavedStyle
from .storage.refs import blob_in_use
from .storage.store import BlobPins, BlobStore

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$|^[a-z0-9]$")


@dataclass(frozen=True)
class GalleryEntry:
    name: str
    title: str
    builtin: bool
    sha: str | None = None  # saved styles: the picture's blob
    artist: str | None = None
    owner: str | None = None  # saved styles: "public" or the one owner who sees it
    year: str | None = None


class StyleExists(Conflict):
    """The gallery already has a style under that name."""


class StyleNotFound(NotFound):
    """No style with that name."""


class BuiltinStyle(Conflict):
    """Built-in styles cannot be renamed or deleted."""


def builtin_styles() -> list[GalleryEntry]:
    """The paintings that ship with the package."""
    return [
        GalleryEntry(i.name, i.title, True, artist=i.artist, year=i.year)
        for i in package_gallery.builtin_styles()
    ]


def builtin_image(name: str) -> Image.Image | None:
    if name not in {e.name for e in builtin_styles()}:
        return None
    return package_gallery.get(name).image()


def _entry(row: SavedStyle) -> GalleryEntry:
    return GalleryEntry(row.name, row.title, False, row.sha, owner=row.owner)


def _visible(owner: str | None, viewer: str | None) -> bool:
    return viewer is None or owner in (PUBLIC_STYLES, viewer)


def entries(db: Database, viewer: str | None = None) -> list[GalleryEntry]:
    """Every style ``viewer`` can use: the package's, then the saved ones they may see, oldest first."""
    with db.session() as s:
        saved = s.scalars(select(SavedStyle).order_by(SavedStyle.created_at)).all()
        users = [_entry(r) for r in saved]
    return builtin_styles() + [e for e in users if _visible(e.owner, viewer)]


def find(db: Database, name: str, viewer: str | None = None) -> GalleryEntry | None:
    """The style named ``name`` if ``viewer`` may see it (another owner's answers ``None``)."""
    for entry in builtin_styles():
        if entry.name == name:
            return entry
    with db.session() as s:
        row = _row(s, name, viewer)
        return _entry(row) if row is not None else None


def _row(s: Session, name: str, viewer: str | None) -> SavedStyle | None:
    """The saved style ``name`` as ``viewer`` sees it: theirs, else the public one (``None``:
    everyone's; the public one, else the oldest)."""
    own = s.get(SavedStyle, (viewer, name)) if viewer is not None else None
    if own is not None:
        return own
    public = s.get(SavedStyle, (PUBLIC_STYLES, name))
    if public is not None or viewer is not None:
        return public
    oldest = select(SavedStyle).where(SavedStyle.name == name).order_by(SavedStyle.created_at).limit(1)
    return s.scalars(oldest).first()


def count_owned(db: Database, owner: str) -> int:
    """How many styles ``owner`` has saved (the per-owner quota)."""
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(SavedStyle.owner == owner)) or 0)


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-")


def _check_title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > 100:
        raise OptionsError("a style's title needs 1–100 characters")
    return title


def _check_name(name: str) -> str:
    if not NAME.match(name):
        raise OptionsError(
            f"style name {name[:60]!r}: use 1–60 lower-case letters, digits and dashes (like blue-period)"
        )
    return name


def save(
    db: Database, title: str, sha: str, name: str | None = None, owner: str = PUBLIC_STYLES
) -> GalleryEntry:
    """Save an already stored, validated picture under ``title`` for ``owner`` (default: the
    public gallery); the name is the title's slug unless given, one that ``owner`` does not see
    already (a built-in, a public or their own style)."""
    title = title.strip()
    name = name if name is not None else slug(title)
    if not title or len(title) > 100 or not NAME.match(name):
        raise OptionsError("a style name needs 1–100 characters with at least one letter or digit")
    if find(db, name, owner) is not None:
        raise StyleExists(f"a style named {name!r} is already in the gallery")
    try:
        with db.session() as s:
            s.add(SavedStyle(name=name, title=title, sha=sha, owner=owner))
    except IntegrityError:  # saved by another request meanwhile
        raise StyleExists(f"a style named {name!r} is already in the gallery") from None
    return GalleryEntry(name, title, False, sha, owner=owner)


def _saved(db: Database, name: str, doing: str, viewer: str | None = None) -> GalleryEntry:
    """The saved style ``viewer`` may change: their own (another owner's is not found), or any for
    an admin (``None``); the public gallery is the admin's (403)."""
    entry = find(db, name, viewer)
    if entry is None:
        raise StyleNotFound(f"no style named {name[:100]!r} in the gallery")
    if entry.builtin:
        raise BuiltinStyle(f"{name!r} is a built-in style: it cannot be {doing}")
    if viewer is not None and entry.owner != viewer:
        raise Forbidden(f"{name!r} is in the public gallery: only an administrator can change it")
    return entry


def rename(
    db: Database, name: str, new_name: str | None = None, title: str | None = None, viewer: str | None = None
) -> GalleryEntry:
    """A saved style (one ``viewer`` may change) under a new name and/or title; the jobs painted
    with it follow it in their owner's history (:func:`_painted_with`), no other job."""
    if new_name is None and title is None:
        raise OptionsError("give a new name or a new title")
    entry = _saved(db, name, "renamed", viewer)
    target = _check_name(new_name) if new_name is not None else name
    new_title = _check_title(title) if title is not None else entry.title
    if target != name and find(db, target, entry.owner) is not None:
        raise StyleExists(f"a style named {target!r} is already in the gallery")
    try:
        with db.session() as s:
            row = s.get(SavedStyle, (entry.owner, name))
            if row is None:  # deleted meanwhile
                raise StyleNotFound(f"no style named {name!r} in the gallery")
            if target != name:
                follow = _painted_with(row)
                s.delete(row)
                s.flush()
                s.add(
                    SavedStyle(
                        name=target, title=new_title, sha=row.sha, created_at=row.created_at, owner=row.owner
                    )
                )
                s.execute(follow.values(style_name=target))
            else:
                row.title = new_title
    except IntegrityError:  # another request took the name meanwhile
        raise StyleExists(f"a style named {target!r} is already in the gallery") from None
    return GalleryEntry(target, new_title, False, entry.sha, owner=entry.owner)


def _painted_with(row: SavedStyle) -> Update:
    """The jobs painted with this saved style: its name and picture, made since it was saved, and
    (a private style) by its owner. Another owner's job painted earlier with a style of the same
    name and picture (since deleted) keeps the name it was painted with: a rename never reaches
    into another owner's history, nor shows them a private name."""
    same = update(Job).where(
        Job.style_name == row.name, Job.style_sha == row.sha, Job.created_at >= row.created_at
    )
    return same if row.owner == PUBLIC_STYLES else same.where(Job.owner == row.owner)


def delete(
    db: Database, store: BlobStore, name: str, pins: BlobPins | None = None, viewer: str | None = None
) -> None:
    """Remove a saved style (one ``viewer`` may change); its picture goes too unless a job (queued
    ones included) or an upload in progress still uses it."""
    entry = _saved(db, name, "deleted", viewer)
    with db.session() as s:
        row = s.get(SavedStyle, (entry.owner, name))
        if row is None:
            raise StyleNotFound(f"no style named {name!r} in the gallery")
        s.delete(row)
    if entry.sha is not None:
        (pins or BlobPins()).delete_unused(store, [entry.sha], lambda sha: blob_in_use(db, sha))


def image_bytes(db: Database, store: BlobStore, name: str, viewer: str | None = None) -> bytes | None:
    """The style's picture as stored bytes (saved) or PNG (built-in); ``None`` if unknown (or
    not ``viewer``'s to see)."""
    found = image_of(db, store, name, viewer)
    return found[0] if found is not None else None


def image_of(
    db: Database, store: BlobStore, name: str, viewer: str | None = None
) -> tuple[bytes, str] | None:
    """The style's picture and a tag that names that picture, not the name: two owners' styles of
    one name are two pictures (a cache keyed by the name would hand one's to the other)."""
    entry = find(db, name, viewer)
    if entry is None:
        return None
    if entry.sha:
        return store.get(entry.sha), entry.sha
    data = _builtin_png(name)
    return (data, f"style-{name}") if data is not None else None


@functools.lru_cache(maxsize=64)
def _builtin_png(name: str) -> bytes | None:
    image = builtin_image(name)
    if image is None:
        return None
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


class DataFolderStyles:
    """:class:`impasto.gallery.UserStyles` over a data folder's database and images (see :func:`attach`)."""

    def __init__(self, db: Database, store: BlobStore) -> None:
        self.db, self.store = db, store

    def _style(self, entry: GalleryEntry) -> package_gallery.GalleryStyle:
        sha, store = entry.sha, self.store
        assert sha is not None
        return package_gallery.GalleryStyle(
            name=entry.name, title=entry.title, builtin=False, licence="the user's own",
            loader=lambda: store.get(sha),
        )  # fmt: skip

    def list(self) -> list[package_gallery.GalleryStyle]:
        return [self._style(e) for e in entries(self.db) if not e.builtin]

    def get(self, name: str) -> package_gallery.GalleryStyle | None:
        entry = find(self.db, name)
        return self._style(entry) if entry is not None and not entry.builtin else None

    def add(self, name: str, picture: Image.Image, title: str) -> package_gallery.GalleryStyle:
        sha = self.store.put(encode_image(picture, "PNG"))
        return self._style(save(self.db, title, sha, name=name))

    def rename(self, name: str, new_name: str | None, title: str | None) -> package_gallery.GalleryStyle:
        return self._style(rename(self.db, name, new_name, title))

    def delete(self, name: str) -> None:
        delete(self.db, self.store, name)


def open_data_folder(settings: Settings | None = None, *, create: bool = True) -> DataFolderStyles | None:
    """The user styles of the data folder the web app uses (``IMPASTO_DATA_DIR``, ``./data``);
    ``None`` when ``create`` is false and there is no data folder yet."""
    settings = settings or Settings.from_env()
    if not create and settings.database_url is None and not (settings.data_dir / "impasto.db").exists():
        return None
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    return DataFolderStyles(db, make_store(settings, db))


def attach(settings: Settings | None = None, *, create: bool = True) -> DataFolderStyles | None:
    """Make :mod:`impasto.gallery` keep user styles in the data folder (what the CLI does)."""
    store = open_data_folder(settings, create=create)
    if store is not None:
        package_gallery.use(store)
    return store
