"""Painted frames on disk, so a killed run picks up where it stopped.

A work folder holds ``manifest.json`` (a key naming the input clip, the styles and every option)
and one JPEG per painted frame (quality 95, no chroma subsampling: ~0.1 MB at 480p, ~0.5 MB at
1080p). A run with the same key reuses the frames it finds and paints only the others; a run with
a different key empties the folder first. Frames are written atomically, so a kill never leaves
half a frame behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..cache import atomic_write_bytes
from ..errors import VideoError

MANIFEST = "manifest.json"


def file_key(path: Path, chunk: int = 1 << 20) -> str:
    """Size, head and tail of a file: cheap, and enough to tell clips apart."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(chunk))
        fh.seek(max(0, size - chunk))
        digest.update(fh.read(chunk))
    return digest.hexdigest()


class WorkFolder:
    def __init__(self, path: str | Path, key: dict[str, Any]) -> None:
        self.path = Path(path)
        self.key = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            manifest = self.path / MANIFEST
            known = None
            if manifest.is_file():
                try:
                    known = json.loads(manifest.read_text()).get("key")
                except (OSError, ValueError):
                    known = None
            if known != self.key:
                for old in self.path.glob("frame-*.jpg"):
                    old.unlink()
                atomic_write_bytes(manifest, json.dumps({"key": self.key}).encode())
        except OSError as exc:
            raise VideoError(f"{self.path}: cannot use as a work folder ({exc.strerror or exc})") from None

    def frame_path(self, index: int) -> Path:
        return self.path / f"frame-{index:06d}.jpg"

    def count(self) -> int:
        return sum(1 for _ in self.path.glob("frame-*.jpg"))

    def load(self, index: int, shape: tuple[int, ...]) -> np.ndarray | None:
        """Frame ``index`` as painted before, or None (missing, unreadable or of another size)."""
        path = self.frame_path(index)
        if not path.is_file():
            return None
        try:
            with Image.open(path) as img:
                rgb = np.asarray(img.convert("RGB"))
        except (OSError, ValueError):
            return None
        return rgb if rgb.shape == shape else None

    def save(self, index: int, rgb: np.ndarray) -> None:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=95, subsampling=0)
        try:
            atomic_write_bytes(self.frame_path(index), buf.getvalue())
        except OSError as exc:
            raise VideoError(f"{self.path}: cannot write a frame ({exc.strerror or exc})") from None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
