"""Blobs every node can reach: :class:`DbStore` keeps images in the database (PostgreSQL in a
cluster), behind the same content-addressed :class:`~impasto.service.storage.store.BlobStore` interface as
:class:`~impasto.service.storage.store.FileStore`. :func:`make_store` picks the store from the settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ...cache import sha256_bytes
from ..config import Settings
from .db import Database
from .models import Base, UTCDateTime, utcnow
from .store import BlobNotFound, FileStore, check_sha


class Blob(Base):
    __tablename__ = "blobs"

    sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DbStore:
    """Images as rows named by their SHA-256; a put is one committed insert, so it is atomic, and
    two nodes putting the same bytes at once both succeed (the loser's insert is a duplicate)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, data: bytes) -> str:
        sha = sha256_bytes(data)
        if self.exists(sha):
            return sha
        try:
            with self.db.session() as s:
                s.add(Blob(sha=sha, size=len(data), data=data))
        except IntegrityError:  # another node stored the same bytes first
            pass
        return sha

    def get(self, sha: str) -> bytes:
        with self.db.session() as s:
            data = s.scalar(select(Blob.data).where(Blob.sha == check_sha(sha)))
        if data is None:
            raise BlobNotFound(sha)
        return bytes(data)

    def exists(self, sha: str) -> bool:
        try:
            check_sha(sha)
        except BlobNotFound:
            return False
        with self.db.session() as s:
            return s.scalar(select(Blob.sha).where(Blob.sha == sha)) is not None

    def delete(self, sha: str) -> None:
        try:
            check_sha(sha)
        except BlobNotFound:
            return
        with self.db.session() as s:
            s.execute(delete(Blob).where(Blob.sha == sha))

    def writable(self) -> bool:
        return self.db.ping()

    def used_bytes(self) -> int:
        """What the stored pictures take (their recorded sizes)."""
        with self.db.session() as s:
            return int(s.scalar(select(func.coalesce(func.sum(Blob.size), 0))) or 0)

    def older_than(self, when: datetime) -> Iterator[str]:
        with self.db.session() as s:
            shas = list(s.scalars(select(Blob.sha).where(Blob.created_at < when)))
        yield from shas


def store_kind(settings: Settings) -> str:
    """``files`` or ``database``: ``auto`` means the database once jobs leave this process
    (a broker is set) unless a shared ``blob_dir`` is configured."""
    kind = settings.blob_store
    if kind == "auto":
        kind = "database" if settings.broker_url and settings.blob_dir is None else "files"
    if kind not in ("files", "database"):
        raise ValueError(f"IMPASTO_BLOB_STORE={kind!r}: use files, database or auto")
    return kind


def make_store(settings: Settings, db: Database) -> FileStore | DbStore:
    if store_kind(settings) == "database":
        return DbStore(db)
    return FileStore(settings.blob_dir or settings.data_dir / "blobs")
