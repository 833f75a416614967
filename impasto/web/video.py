"""Video jobs over HTTP: ``POST /api/v1/videos`` and the ``/video`` page take a clip and a style,
``GET /api/v1/jobs/{id}/video`` (and ``/video/source``) serve the clips with byte ranges, so a
browser's ``<video>`` can seek. Progress, previews, cancel, rating and deletion are the jobs' own
routes: a video job is a job. Decoding the request only; the rules live in
:mod:`impasto.service.intake.clips`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from ..errors import ImpastoError, InvalidInput, NotFound
from ..service import gallery
from ..service.identity.owners import Owner, owned_job, owner_filter
from ..service.intake import clips as video_intake
from ..service.jobs import kinds
from ..service.jobs.clips import (
    DEFAULT_STABILITY,
    VIDEO_OPTION_FIELDS,
    VideoOptions,
    video_options_from,
)
from ..service.runtime import Runtime
from .deps import client_id, runtime
from .errors import headers_for, status_for
from .forms import _display_name, read_upload
from .identity import CSRF_FIELD, owner_of, require_csrf
from .names import download_name
from .pages import render
from .routes import BEARER, ERRORS
from .schemas import JobOut

api = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["videos"], dependencies=[Security(BEARER)])
pages = APIRouter(include_in_schema=False)
RT = Annotated[Runtime, Depends(runtime)]
Me = Annotated[Owner, Depends(owner_of)]
JobId = Annotated[str, Path(min_length=1, max_length=64, description="the job's id")]
FIELDS = {"video", "style", "style_name", "save_style_as", *VIDEO_OPTION_FIELDS}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _form_schema() -> dict[str, Any]:
    props: dict[str, Any] = {
        "video": {"type": "string", "format": "binary", "description": "the clip: MP4, WebM, MOV or GIF"},
        "style": {"type": "string", "format": "binary", "description": "style picture"},
        "style_name": {"type": "string", "description": "a gallery style name"},
        "save_style_as": {"type": "string", "description": "also save the uploaded style under this name"},
    }
    for name, schema in VideoOptions.model_json_schema()["properties"].items():
        props[name] = {k: v for k, v in schema.items() if k != "title"}
    return {"type": "object", "required": ["video"], "properties": props}


async def video_from_form(form: FormData, rt: Runtime) -> video_intake.VideoSubmission:
    """A multipart body (API or page) → a :class:`~impasto.service.intake.clips.VideoSubmission`."""
    unknown = set(form.keys()) - FIELDS
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    scalars = {k: v.strip() for k, v in form.multi_items() if isinstance(v, str)}
    sub = video_intake.VideoSubmission(
        style_name=scalars.get("style_name") or None,
        save_style_as=scalars.get("save_style_as") or None,
        options=video_options_from({k: scalars.get(k) for k in VIDEO_OPTION_FIELDS}),
    )
    for name, what in (("video", "one clip"), ("style", "one style picture")):
        if len(form.getlist(name)) > 1:  # the others would be dropped without a word
            raise InvalidInput(f"send {what} per request ({len(form.getlist(name))} `{name}` parts came)")
    clip = form.get("video")
    if isinstance(clip, UploadFile):
        sub.video = await read_upload(clip, rt.settings.max_video_bytes, "the clip") or None
        sub.video_name = _display_name(clip.filename, 0) if clip.filename else "clip"
    elif isinstance(clip, str) and clip:
        raise InvalidInput("video must be a file upload")
    style = form.get("style")
    if isinstance(style, UploadFile):
        sub.style = await read_upload(style, rt.settings.max_image_bytes, "the style picture") or None
    elif isinstance(style, str) and style.strip():
        raise InvalidInput("style must be a file upload (or use style_name)")
    return sub


@api.post(
    "/videos",
    status_code=201,
    response_model=JobOut,
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _form_schema()}}}
    },
)
async def create_video(request: Request, rt: RT, me: Me) -> JSONResponse:
    """Paint a clip (multipart: `video`, and `style` or `style_name`): a video job, queued. Follow it
    like any job (`events`, `cancel`); when it has succeeded, `links.video` is the painted clip."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise InvalidInput("send multipart/form-data with the clip in the field `video`")
    try:
        form = await request.form(max_files=3, max_fields=30)
    except (ValueError, KeyError, AssertionError) as exc:
        raise InvalidInput(f"malformed multipart body ({type(exc).__name__})") from None
    sub = await video_from_form(form, rt)
    job = await run_in_threadpool(video_intake.submit_video, rt, sub, client_id(request), me)
    out = JobOut.of(job)
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers={"Location": out.links["self"]})


def clip_mime(data: bytes) -> str:
    """The MIME type of a stored clip, from its first bytes."""
    head = data[:12]
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"GIF8"):
        return "image/gif"
    return "application/octet-stream"


def clip_response(
    data: bytes,
    mime: str,
    etag: str,
    request: Request,
    download: str | None,
    cache: str = "private, max-age=3600",
) -> Response:
    """The clip, or the byte range asked for (``Range: bytes=a-b``: browsers seek with it)."""
    size = len(data)
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{etag}"', "Cache-Control": cache}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{download}"'
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    match = _RANGE.match(request.headers.get("range", "").strip())
    if match is None or not (match[1] or match[2]):
        return Response(data, media_type=mime, headers=headers)
    if match[1]:
        start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
    else:
        start, end = max(0, size - int(match[2])), size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type=mime, headers=headers)


def job_clip(
    rt: Runtime, job_id: str, which: Literal["video", "source"], owner: Owner
) -> tuple[bytes, str, str]:
    """``(bytes, sha, mime)`` of the painted or uploaded clip of a video job ``owner`` may see; 404
    when it has none (or is another's)."""
    job = owned_job(rt.db, job_id, owner)
    file = kinds.of(job.kind).served(job).get(which)
    if file is None:
        what = "no painted clip (yet)" if which == "video" else "no uploaded clip: not a video job"
        raise NotFound(f"this job has {what}")
    data = rt.store.get(file.sha)
    return data, file.sha, file.media_type or clip_mime(data)


def _suffix(mime: str) -> str:
    return {"video/mp4": "mp4", "image/gif": "gif", "video/webm": "webm", "video/quicktime": "mov"}.get(
        mime, "bin"
    )


def _clip_name(rt: Runtime, job_id: str, me: Owner, kind: str) -> str:
    job = owned_job(rt.db, job_id, me)
    return download_name(job.content_name, job.style_name, "video", kind)


@api.get("/jobs/{job_id}/video", response_class=Response, tags=["videos"])
def painted_clip(job_id: JobId, request: Request, rt: RT, me: Me, download: bool = False) -> Response:
    """The painted clip of a video job that succeeded (MP4 H.264, or GIF); byte ranges served."""
    data, sha, mime = job_clip(rt, job_id, "video", me)
    name = f"{_clip_name(rt, job_id, me, 'video')}.{_suffix(mime)}" if download else None
    return clip_response(data, mime, sha, request, name)


@api.get("/jobs/{job_id}/video/source", response_class=Response, tags=["videos"])
def source_clip(job_id: JobId, request: Request, rt: RT, me: Me, download: bool = False) -> Response:
    """The clip a video job was given, as uploaded."""
    data, sha, mime = job_clip(rt, job_id, "source", me)
    name = f"{_clip_name(rt, job_id, me, 'source')}.{_suffix(mime)}" if download else None
    return clip_response(data, mime, sha, request, name)


# --- the page ---------------------------------------------------------------------------------

DEFAULTS: dict[str, Any] = {
    "strength": 1.0,
    "brush": 0.5,
    "size": "",
    "preserve_color": "none",
    "stability": DEFAULT_STABILITY,
    "blend_style": "",
    "blend": 0.5,
    "flow": "true",
    "format": "mp4",
}
SIZES = (256, 384, 480, 640, 720, 960, 1280)


def _page_fields(fields: dict[str, str]) -> dict[str, str]:
    """The page's fields → API fields (style source tabs, the save box)."""
    fields = {k: v for k, v in fields.items() if v != "" and k != CSRF_FIELD}  # the page's own
    if fields.pop("style_source", "gallery") == "upload":
        fields.pop("style_name", None)
    else:
        fields.pop("save_style_as", None)
    if fields.pop("save", None) != "on":
        fields.pop("save_style_as", None)
    if not fields.get("blend_style"):
        fields.pop("blend", None)
    return fields


def _video_page(
    request: Request, rt: Runtime, code: int = 200, headers: dict[str, str] | None = None, **ctx: Any
) -> Response:
    settings = rt.settings
    limits = {
        "bytes": settings.max_video_bytes,
        "seconds": settings.video_max_seconds,
        "pixels": settings.video_max_pixels,
    }
    ctx.setdefault("form", DEFAULTS)
    styles = gallery.entries(rt.db, owner_filter(owner_of(request)))
    return render(request, "video.html", code, headers, styles=styles, sizes=SIZES, limits=limits, **ctx)


@pages.get("/video", response_class=HTMLResponse)
def video_page(request: Request, rt: RT, style: str | None = None) -> Response:
    return _video_page(request, rt, chosen=style)


@pages.post("/video", response_class=HTMLResponse)
async def video_submit(request: Request, rt: RT, me: Me) -> Response:
    fields: dict[str, str] = {}
    try:
        form = await request.form(max_files=3, max_fields=30)
        require_csrf(request, form)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        files = [(k, v) for k, v in form.multi_items() if not isinstance(v, str)]
        cleaned = FormData([*_page_fields(fields).items(), *files])
        sub = await video_from_form(cleaned, rt)
        job = await run_in_threadpool(video_intake.submit_video, rt, sub, client_id(request), me)
    except ImpastoError as exc:
        error = exc
    else:
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    return await run_in_threadpool(
        lambda: _video_page(
            request,
            rt,
            status_for(error),
            headers_for(error),
            form={**DEFAULTS, **fields},
            chosen=fields.get("style_name"),
            error=str(error),
        )
    )
