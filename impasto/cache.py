"""Where Impasto keeps converted weights and analysed styles: the user cache directory."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

from platformdirs import user_cache_dir

from . import environment


def cache_dir(*parts: str) -> Path:
    """The cache folder (``IMPASTO_CACHE_DIR`` overrides it), created on demand."""
    root = environment.cache_dir() or Path(user_cache_dir("impasto"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back; there is no getter)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a half-written file.

    The file gets the mode an ordinary ``open()`` would give it (0666 less the umask), not
    ``mkstemp``'s private 0600: results are read by web servers and other users too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
