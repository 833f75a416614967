"""Server-rendered pages: Create, Job (live progress), Result, History.

Forms post to these routes and get a redirect (post/redirect/get), so every page works without
JavaScript; ``static/app.js`` adds drag-and-drop, paste, live progress and the before/after slider.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile

from .. import __version__
from ..api import MODES, mode_options
from ..errors import ImpastoError, InvalidInput, JobConflict
from ..service import gallery
from ..service.identity.owners import Owner, list_shares, owned_job, owner_filter
from ..service.intake import pictures as intake
from ..service.intake import sketch
from ..service.intake.estimates import quality_seconds
from ..service.jobs.clips import VideoOptions
from ..service.jobs.core import delete_job, rate_job
from ..service.jobs.pictures import ENGINE_FIELDS, job_options
from ..service.jobs.queries import find_jobs, job_style_names
from ..service.runtime import Runtime
from ..service.storage.models import Status
from .deps import client_id, runtime
from .errors import headers_for, status_for
from .forms import from_form
from .identity import CSRF_FIELD, owner_of, require_csrf
from .names import photo_title, sentence, style_title

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(version=__version__, photo_title=photo_title, style_title=style_title)
templates.env.filters["sentence"] = sentence
RT = Annotated[Runtime, Depends(runtime)]
Me = Annotated[Owner, Depends(owner_of)]

DEFAULTS: dict[str, Any] = {
    "mode": "fast",
    "size": "",  # the photo's size (quality mode: up to 2048 px)
    "strength": 1.0,
    "brush": 0.5,
    "iterations": "",
    "balance": "balanced",
    "style_loss": "w2",
    "preserve_color": "none",
}
SIZES = (256, 384, 512, 768, 1024, 1536, 2048)
DEFAULT_STYLE = "starry-night"  # chosen on a fresh Create page (the gallery is listed by name)
# quality mode "balance" presets → style weight (content weight stays at the engine's default, 1)
BALANCE = {"photo": 3.0, "balanced": 10.0, "style": 30.0}


def quality_times() -> dict[str, str]:
    """Size option ("" is the photo's size) → quality mode's expected time there on this server.

    No time budget is set for page jobs: a budget that cannot pay for a size gives a faint painting;
    the page shows what each size takes instead, and the person chooses.
    """
    return {str(s or ""): roughly(quality_seconds(s)) for s in (None, *SIZES)}


def roughly(seconds: float) -> str:
    """A short expected time for a narrow select box: ``"~40 s"``, ``"~3 min"``."""
    return f"~{round(seconds / 60)} min" if seconds >= 90 else f"~{max(1, round(seconds))} s"


def render(
    request: Request, name: str, code: int = 200, headers: dict[str, str] | None = None, **ctx: Any
) -> Response:
    ctx.setdefault("csrf_token", getattr(request.state, "csrf", ""))
    return templates.TemplateResponse(request, name, ctx, status_code=code, headers=headers)


def error_page(
    request: Request, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    return render(request, "error.html", status, headers, message=message, status=status)


def _styles(rt: Runtime, me: Owner | None = None) -> list[gallery.GalleryEntry]:
    """The styles ``me`` may use: built-in, the public gallery, their own (``None``: all)."""
    return gallery.entries(rt.db, owner_filter(me) if me is not None else None)


def _titles(rt: Runtime, me: Owner | None = None) -> dict[str, str]:
    """Style slug → title, for pages (slugs stay in URLs)."""
    return {e.name: e.title for e in _styles(rt, me)}


@router.get("/", response_class=HTMLResponse)
def create_page(request: Request, rt: RT, me: Me, style: str | None = None) -> Response:
    return render(
        request,
        "create.html",
        styles=_styles(rt, me),
        form=DEFAULTS,
        sizes=SIZES,
        chosen=style or DEFAULT_STYLE,
        times=quality_times(),
    )


@router.post("/", response_class=HTMLResponse)
async def create_submit(request: Request, rt: RT, me: Me) -> Response:
    form = None  # stays None when the body is refused while it is read
    try:
        form = await request.form(max_files=rt.settings.max_files + 1, max_fields=50)
        require_csrf(request, form)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != CSRF_FIELD}
        balance = fields.pop("balance", "balanced")
        cleaned = _form_fields(fields, balance)
        region_styles = [("region_style", v) for v in form.getlist("region_style") if isinstance(v, str)]
        cleaned.pop("region_style", None)  # one per painted region, in order: kept as a list
        files = [(k, v) for k, v in form.multi_items() if not isinstance(v, str)]
        parts: list[tuple[str, str | UploadFile]] = [*cleaned.items(), *region_styles, *files]
        sub = await from_form(FormData(parts), rt.settings.max_image_bytes)
        jobs = await run_in_threadpool(lambda: intake.submit(rt, sub, client_id(request), owner=me))
    except ImpastoError as exc:
        styles = await run_in_threadpool(_styles, rt, me)
        return render(
            request,
            "create.html",
            status_for(exc),
            headers_for(exc),
            styles=styles,
            form={**DEFAULTS, **_sticky(form)},
            sizes=SIZES,
            times=await run_in_threadpool(quality_times),
            chosen=_sticky(form).get("style_name"),
            error=str(exc),
        )
    if len(jobs) == 1:
        return RedirectResponse(f"/jobs/{jobs[0].id}", status_code=303)
    return RedirectResponse(f"/history?created={len(jobs)}", status_code=303)


def _sticky(form: Any) -> dict[str, Any]:
    try:
        return {k: v for k, v in form.multi_items() if isinstance(v, str)}
    except Exception:
        return {}


def _form_fields(fields: dict[str, str], balance: str) -> dict[str, str]:
    """The page's fields → API option fields: only the chosen mode's options, balance → weight."""
    fields = {k: v for k, v in fields.items() if v != ""}
    if fields.get("style_source") == "upload":
        fields.pop("style_name", None)
    else:
        fields.pop("save_style_as", None)
    fields.pop("style_source", None)
    if fields.get("save") != "on":
        fields.pop("save_style_as", None)
    fields.pop("save", None)
    mode = fields.get("mode", "fast")
    if mode in MODES:
        for name in ENGINE_FIELDS:
            if name not in mode_options(mode):
                fields.pop(name, None)
    if mode == "quality" and balance in BALANCE:
        fields["style_weight"] = str(BALANCE[balance])
    return fields


@router.post("/sketches/{style_name}")
async def sketch_of(style_name: str, request: Request, rt: RT, me: Me) -> Response:
    """The page's photo (a small JPEG as the body) painted small in a gallery style, at once."""
    require_csrf(request, None)
    photo = bytearray()
    async for chunk in request.stream():
        photo += chunk
        if len(photo) > sketch.MAX_BYTES:
            break  # sketch() says why
    viewer = owner_filter(me)
    data = await run_in_threadpool(sketch.sketch, rt.ctx, bytes(photo), style_name[:100], viewer)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/jobs/{job_id}/strength")
async def restrength_submit(job_id: str, request: Request, rt: RT, me: Me) -> Response:
    """The result page's strength, redone in place (the page's script asks for JSON)."""
    form = await request.form(max_files=0, max_fields=5)
    require_csrf(request, form)
    job = await run_in_threadpool(owned_job, rt.db, job_id, me)
    try:
        strength = float(str(form.get("strength", "")))
    except ValueError:
        strength = float("nan")  # refused below, as every other bad value
    if not 0.0 <= strength <= 1.0:
        raise InvalidInput("strength is a number from 0 to 1")
    job = await run_in_threadpool(sketch.restrength, rt.ctx, rt.pins, job, strength)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"strength": strength, "width": job.result_width, "height": job.result_height})
    return RedirectResponse(f"/jobs/{job_id}/result", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request, rt: RT, me: Me) -> Response:
    job = owned_job(rt.db, job_id, me)
    return render(request, "job.html", job=job, titles=_titles(rt, me))


@router.get("/jobs/{job_id}/result", response_class=HTMLResponse)
def result_page(job_id: str, request: Request, rt: RT, me: Me) -> Response:
    job = owned_job(rt.db, job_id, me)
    if job.result_sha is None:
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)
    if job.kind == "video":
        clip = VideoOptions.model_validate(job.options)
        shares = list_shares(rt.db, job.id, me)
        return render(
            request, "video_result.html", job=job, options=clip, titles=_titles(rt, me), shares=shares
        )
    options = job_options(job)
    balance = next((k for k, v in BALANCE.items() if v == options.style_weight), "balanced")
    return render(
        request,
        "result.html",
        job=job,
        options=options,
        sizes=SIZES,
        times=quality_times(),
        balance=balance,
        titles=_titles(rt, me),
        shares=list_shares(rt.db, job.id, me),
    )


@router.post("/jobs/{job_id}/rate")
async def rate_submit(job_id: str, request: Request, rt: RT, me: Me) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    require_csrf(request, form)
    await run_in_threadpool(owned_job, rt.db, job_id, me)
    value = str(form.get("rating", ""))
    rating = int(value) if value in {"1", "2", "3", "4", "5"} else None
    await run_in_threadpool(rate_job, rt.db, job_id, rating)
    return RedirectResponse(f"/jobs/{job_id}/result", status_code=303)


@router.post("/jobs/{job_id}/cancel")
async def cancel_submit(job_id: str, request: Request, rt: RT, me: Me) -> Response:
    require_csrf(request, await request.form(max_files=0, max_fields=5))
    await run_in_threadpool(owned_job, rt.db, job_id, me)
    with contextlib.suppress(JobConflict):  # already finished: the job page says how
        await run_in_threadpool(rt.cancel, job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/delete")
async def delete_submit(job_id: str, request: Request, rt: RT, me: Me) -> Response:
    require_csrf(request, await request.form(max_files=0, max_fields=5))
    await run_in_threadpool(owned_job, rt.db, job_id, me)
    await run_in_threadpool(delete_job, rt.db, rt.store, job_id, rt.pins)
    return RedirectResponse("/history?deleted=1", status_code=303)


@router.post("/jobs/{job_id}/again")
async def again_submit(job_id: str, request: Request, rt: RT, me: Me) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    require_csrf(request, form)
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != CSRF_FIELD}
    balance = fields.pop("balance", "balanced")
    changes = _form_fields(fields, balance)
    if fields.get("size") == "":  # "the photo's size": drop the source job's size
        changes["size"] = ""
    if changes.get("mode") == "quality" and "style_weight" not in changes:
        changes["style_weight"] = ""
    job = await run_in_threadpool(intake.again, rt, job_id, changes, client_id(request), me)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def _styles_page(rt: Runtime, request: Request, code: int = 200, **ctx: Any) -> Response:
    """The styles ``me`` may change (their own; an admin: all saved ones), the public gallery's
    others (read-only), and the built-in ones."""
    me = owner_of(request)
    styles = _styles(rt, me)
    saved = [s for s in styles if not s.builtin and (me.admin or s.owner == me.id)]
    public = [s for s in styles if not s.builtin and not me.admin and s.owner != me.id]
    builtin = [s for s in styles if s.builtin]
    return render(request, "styles.html", code, saved=saved, public=public, builtin=builtin, **ctx)


@router.get("/styles", response_class=HTMLResponse)
def styles_page(request: Request, rt: RT, renamed: str | None = None, deleted: str | None = None) -> Response:
    notice = None
    if renamed:
        notice = f"Renamed to {renamed[:100]}."
    elif deleted:
        notice = f"Deleted {deleted[:100]}."
    return _styles_page(rt, request, notice=notice)


@router.post("/styles/{name}/rename", response_class=HTMLResponse)
async def rename_style_submit(name: str, request: Request, rt: RT, me: Me) -> Response:
    """The no-script fallback of the styles page's rename (the page uses PATCH /api/v1/styles/…)."""
    form = await request.form(max_files=0, max_fields=5)
    require_csrf(request, form)
    title, new_name = form.get("title"), form.get("name")
    try:
        entry = await run_in_threadpool(
            gallery.rename,
            rt.db,
            name,
            new_name if isinstance(new_name, str) and new_name and new_name != name else None,
            title if isinstance(title, str) else None,
            owner_filter(me),
        )
    except ImpastoError as exc:
        page = await run_in_threadpool(_styles_page, rt, request, status_for(exc), error=str(exc))
        return page
    return RedirectResponse(f"/styles?renamed={entry.name}", status_code=303)


@router.post("/styles/{name}/delete", response_class=HTMLResponse)
async def delete_style_submit(name: str, request: Request, rt: RT, me: Me) -> Response:
    """The no-script fallback of the styles page's delete (the page asks first, then sends DELETE)."""
    require_csrf(request, await request.form(max_files=0, max_fields=5))
    try:
        await run_in_threadpool(gallery.delete, rt.db, rt.store, name, rt.pins, owner_filter(me))
    except ImpastoError as exc:
        return await run_in_threadpool(_styles_page, rt, request, status_for(exc), error=str(exc))
    return RedirectResponse(f"/styles?deleted={name}", status_code=303)


@router.get("/history", response_class=HTMLResponse)
def history_page(
    request: Request,
    rt: RT,
    me: Me,
    style: Annotated[str | None, Query(max_length=100)] = None,
    rating: Annotated[str | None, Query(max_length=2)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    created: int | None = None,
    deleted: int | None = None,
) -> Response:
    per_page = 48
    jobs, _ = find_jobs(
        rt.db,
        status=status if status in {s.value for s in Status} else None,
        style=style,
        min_rating=int(rating) if rating and rating.isdigit() and 1 <= int(rating) <= 5 else None,
        limit=per_page + 1,
        offset=(page - 1) * per_page,
        owner=owner_filter(me),
    )
    styles = job_style_names(rt.db, owner_filter(me))
    return render(
        request,
        "history.html",
        jobs=jobs[:per_page],
        more=len(jobs) > per_page,
        page=page,
        styles=styles,
        filters={"style": style or "", "rating": rating or "", "status": status or ""},
        created=created,
        deleted=deleted,
        titles=_titles(rt, me),
    )
