"""Content-addressed image store: blobs named by their SHA-256, written atomically.

The :class:`BlobStore` protocol is what jobs and the web app use; :class:`FileStore` keeps blobs
under ``<data_dir>/blobs/ab/abcdef…``. A store every node can reach
(:mod:`~impasto.service.blobdb`) implements the same methods.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Protocol

from ..cache import atomic_write_bytes, sha256_bytes
from ..errors import NotFound

_SHA = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(NotFound):
    """No blob with that hash (or no such picture of a job or style: ``what`` says which)."""

    def __init__(self, what: str = "") -> None:
        super().__init__("no such image")
        self.what = what


def check_sha(sha: str) -> str:
    if not _SHA.match(sha):
        raise BlobNotFound(sha)
    return sha


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, sha: str) -> bytes: ...

    def exists(self, sha: str) -> bool: ...

    def delete(self, sha: str) -> None: ...

    def writable(self) -> bool: ...


class FileStore:
    """Blobs as files; a hash is validated before it becomes a path, so no client text reaches one."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha: str) -> Path:
        check_sha(sha)
        return self.root / sha[:2] / sha

    def put(self, data: bytes) -> str:
        sha = sha256_bytes(data)
        path = self._path(sha)
        if not path.exists():
            atomic_write_bytes(path, data)
        return sha

    def get(self, sha: str) -> bytes:
        try:
            return self._path(sha).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha) from None

    def exists(self, sha: str) -> bool:
        try:
            return self._path(sha).is_file()
        except BlobNotFound:
            return False

    def delete(self, sha: str) -> None:
        with contextlib.suppress(BlobNotFound):
            self._path(sha).unlink(missing_ok=True)

    def writable(self) -> bool:
        probe = self.root / ".ready"
        try:
            atomic_write_bytes(probe, b"ok")
            return True
        except OSError:
            return False
