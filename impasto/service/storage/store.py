"""Content-addressed image store: blobs named by their SHA-256, written atomically.

The :class:`BlobStore` protocol is what jobs and the web app use; :class:`FileStore` keeps blobs
under ``<data_dir>/blobs/ab/abcdef…``. A store every node can reach
(:mod:`~impasto.service.storage.blobdb`) implements the same methods.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ...cache import atomic_write_bytes, sha256_bytes
from ...errors import NotFound

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

    def used_bytes(self) -> int: ...

    def older_than(self, when: datetime) -> Iterator[str]:
        """Every blob stored before ``when``."""
        ...


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

    def used_bytes(self) -> int:
        """What the stored pictures take (the files' sizes)."""
        total = 0
        for path in self.root.glob("??/*"):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def older_than(self, when: datetime) -> Iterator[str]:
        limit = when.timestamp()
        for path in self.root.glob("??/*"):
            with contextlib.suppress(FileNotFoundError):
                if _SHA.match(path.name) and path.stat().st_mtime < limit:
                    yield path.name

    def writable(self) -> bool:
        probe = self.root / ".ready"
        try:
            atomic_write_bytes(probe, b"ok")
            return True
        except OSError:
            return False


class BlobPins:
    """Keeps a blob alive between its upload and the database row that refers to it.

    Blobs are shared by content, so deleting a job removes only images nothing else uses. Without
    pins, a job deleted while another request was still storing the same photo (and decoding the
    rest of its upload) took the photo with it, and the new job then failed. A request pins every
    blob it stores or reuses *before* storing it and unpins once its rows are committed; deletion
    checks pins and references and removes the blob under the same lock. So either the pin came
    first and the blob stays, or the deletion came first and the later ``put`` writes it again.
    (Pins are per process: the web node, where uploads and deletions happen.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: Counter[str] = Counter()

    @contextlib.contextmanager
    def hold(self) -> Iterator[Callable[[str], None]]:
        """A ``pin(sha)`` function; every blob pinned through it is released when the block ends."""
        held: list[str] = []

        def pin(sha: str) -> None:
            with self._lock:
                self._count[sha] += 1
            held.append(sha)

        try:
            yield pin
        finally:
            with self._lock:
                self._count.subtract(held)
                self._count += Counter()  # drop the zeros

    def delete_unused(
        self, store: BlobStore, shas: Iterable[str], in_use: Callable[[str], bool]
    ) -> list[str]:
        """Delete each blob that is neither pinned nor, by ``in_use``, referred to; return those."""
        deleted = []
        with self._lock:
            for sha in shas:
                if self._count[sha] == 0 and not in_use(sha):
                    store.delete(sha)
                    deleted.append(sha)
        return deleted
