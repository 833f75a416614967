"""Helpers shared by the API and the pages: the runtime, the client id, images as responses."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from typing import Literal

from fastapi import Request
from fastapi.responses import Response
from PIL import Image

from ..imageio import encode_image, open_image
from ..service import gallery
from ..service.identity.owners import Owner, owned_job
from ..service.jobs.queries import thumbnail
from ..service.runtime import Runtime
from ..service.storage.models import Job
from ..service.storage.store import BlobNotFound

ImageKind = Literal["content", "style", "result", "preview"]
IMMUTABLE = "public, max-age=31536000, immutable"


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def client_id(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class ThumbCache:
    """Small LRU of thumbnails by (hash, side): history pages ask for the same ones again."""

    def __init__(self, size: int = 512) -> None:
        self.size, self.items, self.lock = size, OrderedDict[tuple[str, int], bytes](), threading.Lock()

    def get(self, key: str, side: int, data: bytes) -> bytes:
        with self.lock:
            if (key, side) in self.items:
                self.items.move_to_end((key, side))
                return self.items[(key, side)]
        thumb = thumbnail(data, side)
        with self.lock:
            self.items[(key, side)] = thumb
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return thumb


THUMBS = ThumbCache()


def image_mime(data: bytes) -> str:
    """The MIME type found by decoding the header (stored blobs were validated on the way in)."""
    try:
        with open_image(io.BytesIO(data)) as img:
            return Image.MIME.get(img.format or "", "application/octet-stream")
    except Exception:
        return "application/octet-stream"


def image_response(
    data: bytes,
    *,
    etag: str,
    thumb: int | None = None,
    fmt: Literal["png", "jpeg"] | None = None,
    download: str | None = None,
    request: Request | None = None,
    cache: str = "private, max-age=3600",
) -> Response:
    """The picture (or a thumbnail, or converted), with an ETag and ``cache`` as Cache-Control."""
    tag = f'"{etag}-{thumb or 0}-{fmt or "orig"}"'
    headers = {"ETag": tag, "Cache-Control": cache}
    if request is not None and request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    if thumb:
        body, mime = THUMBS.get(etag, thumb, data), "image/jpeg"
    elif fmt:
        if image_mime(data) == f"image/{fmt}":
            body = data
        else:
            img = open_image(io.BytesIO(data)).convert("RGB")
            body = encode_image(img, "PNG" if fmt == "png" else "JPEG", 95)
        mime = f"image/{fmt}"
    else:
        body, mime = data, image_mime(data)
    if download:
        ext = "png" if mime == "image/png" else "jpg"
        headers["Content-Disposition"] = f'attachment; filename="{download}.{ext}"'
    return Response(body, media_type=mime, headers=headers)


def job_image_sha(rt: Runtime, job: Job, kind: ImageKind) -> str | None:
    if kind == "content":
        return job.content_sha
    if kind == "result":
        return job.result_sha
    if kind == "preview":
        return job.preview_sha or job.result_sha
    return job.style_sha


def job_image(rt: Runtime, job_id: str, kind: ImageKind, owner: Owner) -> tuple[bytes, str]:
    """``(bytes, etag)`` of one of the pictures of a job ``owner`` may see; 404 when it has none (yet)."""
    job = owned_job(rt.db, job_id, owner)
    return job_image_of(rt, job, kind)


def job_image_of(rt: Runtime, job: Job, kind: ImageKind) -> tuple[bytes, str]:
    """``(bytes, etag)`` of one of the job's pictures; 404 when it has none (yet)."""
    sha = job_image_sha(rt, job, kind)
    if sha is not None:
        return rt.store.get(sha), sha
    if kind == "style":
        data = gallery.image_bytes(rt.db, rt.store, job.style_name)
        if data is not None:
            return data, f"style-{job.style_name}"
    raise BlobNotFound(f"{kind} image")
