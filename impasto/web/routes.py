"""The REST API v1 router (``/api/v1``): jobs, their events and images, the gallery, one-shot
stylize, health. HTTP in and out; every decision is the service's."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from starlette.datastructures import FormData

from .. import __version__
from ..errors import InvalidInput
from ..service import gallery
from ..service.identity import owners
from ..service.identity.owners import Owner, owned_job, owner_filter
from ..service.intake import common as intake_common
from ..service.intake import pictures as intake
from ..service.jobs.core import delete_job, failure_kind, get_job, rate_job
from ..service.jobs.queries import ahead_of, events_after, find_jobs, preview_sha
from ..service.runtime import Runtime
from ..service.storage.models import FINISHED, PUBLIC_STYLES, Job, JobEvent, Status
from ..service.storage.store import BlobNotFound
from .deps import IMMUTABLE, ImageKind, client_id, image_response, job_image, runtime
from .errors import STATUS, error_response
from .forms import decode_b64, from_form, from_json, read_upload
from .identity import owner_of
from .jsonbody import LimitedJSONRoute
from .names import download_name
from .schemas import (
    ErrorOut,
    HealthOut,
    JobCreate,
    JobOut,
    JobsOut,
    RatingIn,
    ShareIn,
    ShareOut,
    StyleCreate,
    StyleOut,
    StyleUpdate,
    StylizeOut,
    StylizeRequest,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "malformed request body",
        401: "an API key is needed (IMPASTO_AUTH=keys), or the one sent is unknown or revoked",
        403: "refused: a cross-site request, or a browser call without its CSRF token",
        404: "no such job, image or style",
        409: "not allowed in the job's state, or a style name taken or built in",
        408: "the request body did not arrive in time",
        413: "body or image too large",
        422: "bad input",
        429: "too many jobs, or saved styles over the owner's quota",
        507: "the server's picture storage is full (IMPASTO_MAX_STORE_BYTES)",
    }.items()
}
#: Declares the API-key scheme in OpenAPI; :mod:`.identity` does the checking for every request.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="APIKey",
    description="An API key from `impasto keys create NAME`. Without one, browsers use their "
    "identity cookie; with IMPASTO_AUTH=keys every call needs a key.",
)
router = APIRouter(
    prefix="/api/v1",
    responses=ERRORS,
    route_class=LimitedJSONRoute,
    dependencies=[Security(BEARER)],
)
RT = Annotated[Runtime, Depends(runtime)]
Me = Annotated[Owner, Depends(owner_of)]
JobId = Annotated[str, Path(min_length=1, max_length=64, description="the job's id")]
POLL = 0.25
KEEPALIVE = 15.0


def _multipart_schema() -> dict[str, Any]:
    props: dict[str, Any] = {
        "content": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "photo(s)",
        },
        "style": {"type": "string", "format": "binary", "description": "style picture"},
    }
    for name, schema in JobCreate.model_json_schema()["properties"].items():
        if name not in ("content", "style"):
            props[name] = {k: v for k, v in schema.items() if k != "title"}
    return {"type": "object", "properties": props}


CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}},
            "multipart/form-data": {"schema": _multipart_schema()},
        },
    }
}


# --- jobs -------------------------------------------------------------------------------------


@router.post("/jobs", status_code=201, response_model=JobsOut, openapi_extra=CREATE_BODY, tags=["jobs"])
async def create_jobs(request: Request, rt: RT, me: Me) -> JSONResponse:
    """Create one job per photo (multipart: several `content` files; JSON: one) and queue them."""
    limit = rt.settings.max_image_bytes
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await _form(request, max_files=rt.settings.max_files + 1, max_fields=50)
        sub = await from_form(form, limit)
    elif kind == "application/json":
        body = await _json_body(request, JobCreate)
        sub = from_json(body, limit)
    else:
        raise InvalidInput("send application/json or multipart/form-data")
    jobs = await run_in_threadpool(lambda: intake.submit(rt, sub, client_id(request), owner=me))
    out = JobsOut(jobs=[JobOut.of(j) for j in jobs])
    return JSONResponse(
        out.model_dump(mode="json"), status_code=201, headers={"Location": out.jobs[0].links["self"]}
    )


EMPTY_BODY = "the body is empty: send a JSON object (or a multipart form)"


async def _form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """The multipart body, or a 422 saying it is malformed (Starlette raises several kinds)."""
    try:
        return await request.form(max_files=max_files, max_fields=max_fields)
    except (ValueError, KeyError, AssertionError) as exc:
        raise InvalidInput(f"malformed multipart body ({type(exc).__name__})") from None


async def _json_body(request: Request, model: type[JobCreate] | type[StyleCreate]) -> dict[str, Any]:
    if not (await request.body()).strip():
        raise InvalidInput(EMPTY_BODY)
    raw = await request.json()  # parsed by LimitedJSONRoute: depth and number limits
    if not isinstance(raw, dict):
        raise InvalidInput("the body must be a JSON object")
    try:
        model.model_validate(raw)
    except ValueError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)  # type: ignore[attr-defined]
        raise InvalidInput("invalid fields", errors) from None
    return raw


@router.get("/jobs", response_model=JobsOut, tags=["jobs"])
def list_jobs(
    rt: RT,
    me: Me,
    status: Annotated[
        Literal["queued", "running", "succeeded", "failed", "cancelled"] | None, Query()
    ] = None,
    style: Annotated[str | None, Query(max_length=100)] = None,
    min_rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobsOut:
    """Your jobs (an admin key: everyone's), newest first, optionally filtered."""
    jobs, total = find_jobs(
        rt.db,
        status=status,
        style=style,
        min_rating=min_rating,
        limit=limit,
        offset=offset,
        count=True,
        owner=owner_filter(me),
    )
    return JobsOut(jobs=[JobOut.of(j) for j in jobs], total=total)


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
def read_job(job_id: JobId, rt: RT, me: Me) -> JobOut:
    """One of your jobs (another owner's answers 404, like a missing one)."""
    job = owned_job(rt.db, job_id, me)
    return JobOut.of(job, ahead=ahead_of(rt.db, job))


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, status_code=202, tags=["jobs"])
def cancel_job(job_id: JobId, rt: RT, me: Me) -> JobOut:
    """Cancel a queued job, or ask a running one to stop at its next step."""
    owned_job(rt.db, job_id, me)
    return JobOut.of(rt.cancel(job_id))


@router.put("/jobs/{job_id}/rating", response_model=JobOut, tags=["jobs"])
def rate(job_id: JobId, body: RatingIn, rt: RT, me: Me) -> JobOut:
    owned_job(rt.db, job_id, me)
    return JobOut.of(rate_job(rt.db, job_id, body.rating))


@router.delete("/jobs/{job_id}", status_code=204, tags=["jobs"])
def remove_job(job_id: JobId, rt: RT, me: Me) -> Response:
    """Delete a finished or queued job and the pictures nothing else uses."""
    owned_job(rt.db, job_id, me)
    delete_job(rt.db, rt.store, job_id, rt.pins)
    return Response(status_code=204)


@router.get(
    "/jobs/{job_id}/events",
    tags=["jobs"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream_events(
    job_id: JobId,
    request: Request,
    rt: RT,
    me: Me,
    after: Annotated[int, Query(ge=0, le=2**62, description="resume after this event id")] = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Progress as Server-Sent Events: `status`, `stage`, `iteration`, `preview`, `done`; the
    stream ends (event `end`) when the job has finished and every event was sent."""
    await run_in_threadpool(owned_job, rt.db, job_id, me)
    cursor = after
    if last_event_id and last_event_id.isdigit():
        cursor = max(cursor, int(last_event_id))
    return StreamingResponse(
        _events(request, rt, job_id, cursor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def event_payload(job_id: str, event: JobEvent) -> dict[str, Any]:
    data = dict(event.data)
    data["id"] = event.id
    data["at"] = event.created_at.isoformat()
    if event.kind == "preview" and data.get("sha"):
        data["url"] = f"/api/v1/jobs/{job_id}/previews/{event.id}"
    return data


async def _events(request: Request, rt: Runtime, job_id: str, cursor: int) -> AsyncIterator[str]:
    quiet_since = time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        events, status = await run_in_threadpool(events_after, rt.db, job_id, cursor)
        for event in events:
            cursor = event.id
            payload = json.dumps(event_payload(job_id, event), separators=(",", ":"))
            yield f"id: {event.id}\nevent: {event.kind}\ndata: {payload}\n\n"
        if status is None or (status in FINISHED and not events):
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
            return
        if events:
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since > KEEPALIVE:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL)


@router.get("/jobs/{job_id}/images/{kind}", tags=["images"], response_class=Response)
def job_picture(
    job_id: JobId,
    kind: ImageKind,
    request: Request,
    rt: RT,
    me: Me,
    format: Annotated[Literal["png", "jpeg"] | None, Query(description="convert (result: full size)")] = None,
    thumb: Annotated[int | None, Query(ge=32, le=1024, description="a JPEG thumbnail this big")] = None,
    download: bool = False,
) -> Response:
    """The job's photo (`content`), `style`, latest `preview`, or `result` (PNG; JPEG on request)."""
    data, etag = job_image(rt, job_id, kind, me)
    name = None
    if download:
        job = owned_job(rt.db, job_id, me)
        name = download_name(job.content_name, job.style_name, job.mode, kind)
    return image_response(data, etag=etag, thumb=thumb, fmt=format, download=name, request=request)


@router.get("/jobs/{job_id}/previews/{event_id}", tags=["images"], response_class=Response)
def preview_picture(
    job_id: JobId, event_id: Annotated[int, Path(ge=0, le=2**62)], rt: RT, me: Me
) -> Response:
    """One preview image from the event stream (`url` of a `preview` event)."""
    owned_job(rt.db, job_id, me)
    sha = preview_sha(rt.db, job_id, event_id)
    return Response(rt.store.get(sha), media_type="image/jpeg", headers={"Cache-Control": IMMUTABLE})


# --- share links ----------------------------------------------------------------------------


def share_out(share: owners.ShareInfo) -> ShareOut:
    return ShareOut(
        token=share.token,
        url=f"/s/{share.token}",  # relative: never built from the request's Host
        include_photo=share.include_photo,
        created_at=share.created_at,
    )


@router.post("/jobs/{job_id}/shares", response_model=ShareOut, status_code=201, tags=["sharing"])
def create_share(job_id: JobId, body: ShareIn, rt: RT, me: Me) -> ShareOut:
    """A read-only link to the painting (and the photo, if `include_photo`); anyone with it can see
    them, until it is revoked."""
    return share_out(owners.create_share(rt.db, job_id, me, include_photo=body.include_photo))


@router.get("/jobs/{job_id}/shares", response_model=list[ShareOut], tags=["sharing"])
def list_shares(job_id: JobId, rt: RT, me: Me) -> list[ShareOut]:
    return [share_out(s) for s in owners.list_shares(rt.db, job_id, me)]


@router.delete("/jobs/{job_id}/shares/{token}", status_code=204, tags=["sharing"])
def revoke_share(job_id: JobId, token: Annotated[str, Path(max_length=64)], rt: RT, me: Me) -> Response:
    """Revoke a link: it answers 404 from now on."""
    owners.revoke_share(rt.db, job_id, token, me)
    return Response(status_code=204)


# --- gallery ------------------------------------------------------------------------------


def style_out(entry: gallery.GalleryEntry) -> StyleOut:
    url = f"/api/v1/styles/{entry.name}/image"
    return StyleOut(
        name=entry.name,
        title=entry.title,
        builtin=entry.builtin,
        public=entry.builtin or entry.owner == PUBLIC_STYLES,
        image_url=url,
        thumbnail_url=f"{url}?thumb=160",
    )


@router.get("/styles", response_model=list[StyleOut], tags=["gallery"])
def read_gallery(rt: RT, me: Me) -> list[StyleOut]:
    """The styles you can use: built-in, the public gallery (an admin's), then your own saved ones
    (an admin key: everyone's)."""
    return [style_out(e) for e in gallery.entries(rt.db, owner_filter(me))]


@router.post(
    "/styles",
    response_model=StyleOut,
    status_code=201,
    tags=["gallery"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/StyleCreate"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "image"],
                        "properties": {
                            "name": {"type": "string"},
                            "image": {"type": "string", "format": "binary"},
                        },
                    }
                },
            },
        }
    },
)
async def add_gallery_style(request: Request, rt: RT, me: Me) -> StyleOut:
    """Save a picture under a name (JSON with Base64, or multipart): among your own styles, or in
    the public gallery with an admin key. Each owner keeps at most IMPASTO_MAX_STYLES_PER_OWNER (429)."""
    limit = rt.settings.max_image_bytes
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await _form(request, max_files=2, max_fields=5)
        name, upload = form.get("name"), form.get("image")
        if not isinstance(name, str) or upload is None or isinstance(upload, str):
            raise InvalidInput("send a name and an image file")
        data = await read_upload(upload, limit, "the picture")
    elif kind == "application/json":
        body = await _json_body(request, StyleCreate)
        name, data = body["name"], decode_b64(body["image"], "image", limit)
    else:
        raise InvalidInput("send application/json or multipart/form-data")
    client = client_id(request)
    return style_out(
        await run_in_threadpool(lambda: intake_common.add_to_gallery(rt, name, data, owner=me, client=client))
    )


@router.patch("/styles/{name}", response_model=StyleOut, tags=["gallery"])
def rename_style(name: Annotated[str, Path(max_length=100)], body: StyleUpdate, rt: RT, me: Me) -> StyleOut:
    """Rename one of your saved styles (new `name` and/or `title`); built-in styles cannot be
    renamed (409), public ones only with an admin key (403), another owner's are not found (404)."""
    return style_out(gallery.rename(rt.db, name, body.name, body.title, owner_filter(me)))


@router.delete("/styles/{name}", status_code=204, tags=["gallery"])
def delete_style(name: Annotated[str, Path(max_length=100)], rt: RT, me: Me) -> Response:
    """Delete one of your saved styles; jobs that use it keep its picture. Built-in styles cannot
    be deleted (409), public ones only with an admin key (403), another owner's are not found (404)."""
    gallery.delete(rt.db, rt.store, name, rt.pins, owner_filter(me))
    return Response(status_code=204)


@router.get("/styles/{name}/image", tags=["gallery"], response_class=Response)
def style_picture(
    name: Annotated[str, Path(max_length=100)],
    request: Request,
    rt: RT,
    me: Me,
    thumb: Annotated[int | None, Query(ge=32, le=1024)] = None,
) -> Response:
    found = gallery.image_of(rt.db, rt.store, name, owner_filter(me))
    if found is None:
        raise BlobNotFound("style")
    data, etag = found  # the picture's own tag: two owners' "monet-x" are two pictures
    return image_response(data, etag=etag, thumb=thumb, request=request)


# --- one shot -------------------------------------------------------------------------------


@router.post(
    "/stylize",
    response_model=StylizeOut,
    tags=["stylize"],
    responses={202: {"model": JobOut, "description": "accepted: poll the job (quality mode)"}},
)
async def stylize(body: StylizeRequest, request: Request, rt: RT, me: Me) -> JSONResponse:
    """Two Base64 pictures in, the painting out as Base64. Fast mode answers when done; quality
    mode answers `202` with the job unless `wait` is true."""
    if body.content_url is not None:
        raise InvalidInput("stylize takes a Base64 content; use /jobs for URLs")
    sub = from_json(
        body.model_dump(exclude={"wait", "format"}, exclude_none=True), rt.settings.max_image_bytes
    )
    if not sub.contents:
        raise InvalidInput("content (Base64) is required")
    (job,) = await run_in_threadpool(lambda: intake.submit(rt, sub, client_id(request), owner=me))
    if body.mode == "quality" and not body.wait:
        return _accepted(job)
    deadline = time.monotonic() + rt.settings.sync_timeout
    while time.monotonic() < deadline:
        job = await run_in_threadpool(get_job, rt.db, job.id)
        if job.state.finished:
            break
        await asyncio.sleep(0.05)
    else:
        return _accepted(job)
    if job.state != Status.SUCCEEDED or job.result_sha is None:
        return error_response(STATUS[failure_kind(job)], job.error or job.status, job.status)
    data, _ = await run_in_threadpool(job_image, rt, job.id, "result", me)
    image = image_response(data, etag=job.result_sha, fmt=body.format).body
    out = StylizeOut(
        image=base64.b64encode(bytes(image)).decode("ascii"),
        format=body.format,
        width=job.result_width or 0,
        height=job.result_height or 0,
        job=JobOut.of(job),
    )
    return JSONResponse(out.model_dump(mode="json"))


def _accepted(job: Job) -> JSONResponse:
    out = JobOut.of(job)
    return JSONResponse(out.model_dump(mode="json"), status_code=202, headers={"Location": out.links["self"]})


# --- health ---------------------------------------------------------------------------------


@router.get("/health", response_model=HealthOut, tags=["health"])
def health() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok", version=__version__)


@router.get("/health/ready", response_model=HealthOut, tags=["health"], responses={503: {"model": HealthOut}})
def ready(rt: RT) -> JSONResponse:
    """Ready to take jobs: database reachable, blob store writable, workers alive (or, with
    Celery workers, the broker reachable)."""
    checks = rt.health()
    ok = all(checks.values())
    out = HealthOut(status="ready" if ok else "not ready", version=__version__, checks=checks)
    return JSONResponse(out.model_dump(), status_code=200 if ok else 503)
