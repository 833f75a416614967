"""Share links as pages: the read-only page a link opens (``/s/{token}``) with its pictures, and the
result page's buttons that make and revoke links. The link's token is the only credential: it is
unguessable (192 random bits), and revoking it deletes it, so the page and its pictures answer 404."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..service.identity import owners
from ..service.identity.owners import Owner
from ..service.jobs import kinds
from ..service.runtime import Runtime
from ..service.storage.store import BlobNotFound
from .deps import image_response, job_image_of, runtime
from .identity import owner_of, require_csrf
from .names import download_name
from .pages import _titles, render
from .video import clip_response

router = APIRouter(include_in_schema=False)
RT = Annotated[Runtime, Depends(runtime)]
Me = Annotated[Owner, Depends(owner_of)]
Token = Annotated[str, Path(min_length=1, max_length=64)]
REVALIDATE = "private, no-cache"


@router.get("/s/{token}", response_class=HTMLResponse)
def shared_page(token: Token, request: Request, rt: RT) -> Response:
    job, share = owners.shared_job(rt.db, token)
    link = f"{str(request.base_url).rstrip('/')}/s/{share.token}"  # absolute: previews need it
    return render(request, "share.html", job=job, share=share, titles=_titles(rt), link=link)


@router.get("/s/{token}/video", response_class=Response)
def shared_clip(token: Token, request: Request, rt: RT, download: bool = False) -> Response:
    """The painted clip of a shared video job; 404 for a picture's link."""
    job, _ = owners.shared_job(rt.db, token)
    file = kinds.of(job.kind).served(job).get("video")
    if file is None:
        raise BlobNotFound("clip")
    mime = file.media_type or "video/mp4"
    suffix = "gif" if mime == "image/gif" else "mp4"
    name = download_name(job.content_name, job.style_name, "video", "video")
    data = rt.store.get(file.sha)
    saved = f"{name}.{suffix}" if download else None
    return clip_response(data, mime, file.sha, request, saved, cache=REVALIDATE)  # a revoke holds at once


@router.get("/s/{token}/{kind}", response_class=Response)
def shared_picture(
    token: Token,
    kind: Literal["painting", "photo"],
    request: Request,
    rt: RT,
    thumb: Annotated[int | None, Query(ge=32, le=1024)] = None,
    download: bool = False,
) -> Response:
    """The painting, or the photo when the owner shared it; 404 otherwise."""
    job, share = owners.shared_job(rt.db, token)
    if kind == "photo" and not share.include_photo:
        raise BlobNotFound("photo")
    data, etag = job_image_of(rt, job, "result" if kind == "painting" else "content")
    what = "result" if kind == "painting" else "content"
    name = download_name(job.content_name, job.style_name, job.mode, what) if download else None
    # revalidated every time (a 304 costs little): a revoked link's pictures go at once, from caches too
    return image_response(data, etag=etag, thumb=thumb, download=name, request=request, cache=REVALIDATE)


@router.post("/jobs/{job_id}/share")
async def share_submit(job_id: str, request: Request, rt: RT, me: Me) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    require_csrf(request, form)
    photo = form.get("include_photo") == "on"
    await run_in_threadpool(lambda: owners.create_share(rt.db, job_id, me, include_photo=photo))
    return RedirectResponse(f"/jobs/{job_id}/result#share", status_code=303)


@router.post("/jobs/{job_id}/shares/{token}/revoke")
async def revoke_submit(job_id: str, token: Token, request: Request, rt: RT, me: Me) -> Response:
    require_csrf(request, await request.form(max_files=0, max_fields=5))
    await run_in_threadpool(owners.revoke_share, rt.db, job_id, token, me)
    return RedirectResponse(f"/jobs/{job_id}/result#share", status_code=303)
