"""From a request to queued jobs: decode uploads, fetch URLs, check limits, create and submit.

Shared by the JSON API, the multipart API and the HTML form, so all three refuse the same things
with the same messages.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from ..errors import ImpastoError, OptionsError
from ..service import gallery
from ..service.distributed import QueueUnavailable
from ..service.jobs import JobOptions, StyleRef, create_job, resolve_style, store_image
from ..service.models import Job
from ..service.runtime import Runtime

OPTION_FIELDS = tuple(JobOptions.model_fields)


class TooLarge(ImpastoError):
    """A body or file is over its size limit (HTTP 413)."""


class RateLimited(ImpastoError):
    """Too many jobs from one client (HTTP 429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many jobs: try again in {max(1, round(retry_after))} s")
        self.retry_after = retry_after


class InvalidInput(ImpastoError):
    """The request's fields do not validate (HTTP 422), with pydantic's details."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


@dataclass
class Submission:
    """What one create request asks for, before anything is stored."""

    contents: list[tuple[bytes, str]] = field(default_factory=list)  # (bytes, display name)
    content_url: str | None = None
    style: bytes | None = None
    style_name: str | None = None
    save_style_as: str | None = None
    options: JobOptions = field(default_factory=lambda: JobOptions.model_validate({}))


_DATA_URL = re.compile(r"^data:[\w/+.-]*;base64,", re.IGNORECASE)


def decode_b64(text: str, what: str, limit: int) -> bytes:
    text = _DATA_URL.sub("", text.strip(), count=1)
    if len(text) * 3 // 4 > limit:
        raise TooLarge(f"{what} is larger than {limit // (1024 * 1024)} MiB")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{what} is not valid Base64") from None


def options_from(values: Mapping[str, Any]) -> JobOptions:
    try:
        return JobOptions.model_validate({k: v for k, v in values.items() if v not in (None, "")})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"{where}: {first['msg']}", exc.errors(include_url=False, include_context=False)
        ) from None


def from_json(body: Mapping[str, Any], limit: int) -> Submission:
    options = options_from({k: body[k] for k in OPTION_FIELDS if k in body})
    content = body.get("content")
    return Submission(
        contents=[(decode_b64(content, "content", limit), "photo")] if content else [],
        content_url=body.get("content_url") or None,
        style=decode_b64(body["style"], "style", limit) if body.get("style") else None,
        style_name=body.get("style_name") or None,
        save_style_as=body.get("save_style_as") or None,
        options=options,
    )


async def from_form(form: FormData, limit: int) -> Submission:
    unknown = set(form.keys()) - {
        "content",
        "content_url",
        "style",
        "style_name",
        "save_style_as",
        *OPTION_FIELDS,
    }
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    scalars = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    sub = Submission(
        content_url=_text(scalars.get("content_url")),
        style_name=_text(scalars.get("style_name")),
        save_style_as=_text(scalars.get("save_style_as")),
        options=options_from({k: scalars.get(k) for k in OPTION_FIELDS}),
    )
    for index, item in enumerate(form.getlist("content")):
        if isinstance(item, UploadFile):
            data = await _read(item, limit)
            if data:  # an empty file input sends an empty part
                sub.contents.append((data, _display_name(item.filename, index)))
        elif item.strip():
            raise InvalidInput("content must be a file upload (or use content_url)")
    style = form.get("style")
    if isinstance(style, UploadFile):
        sub.style = await _read(style, limit) or None
    elif isinstance(style, str) and style.strip():
        raise InvalidInput("style must be a file upload (or use style_name)")
    return sub


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


async def _read(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"a file is larger than {limit // (1024 * 1024)} MiB")
    return data


def _display_name(filename: str | None, index: int) -> str:
    """The client's file name, only for showing: never used in a path."""
    name = re.sub(r"[^\w .()-]", "_", (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1])[:80].strip()
    return name or f"photo {index + 1}"


def submit(rt: Runtime, sub: Submission, client: str, *, parent_id: str | None = None) -> list[Job]:
    """Validate everything, store the images, create and queue the jobs; all or nothing."""
    settings = rt.settings
    if sub.content_url and sub.contents:
        raise InvalidInput("give either photos or a URL, not both")
    if not sub.contents and not sub.content_url:
        raise InvalidInput("choose a photo to paint (upload one or give its URL)")
    if sub.style is not None and sub.style_name:
        raise InvalidInput("give either a style picture or a gallery style name, not both")
    if sub.style is None and not sub.style_name:
        raise InvalidInput("choose a style: pick one from the gallery or upload a picture")
    if sub.save_style_as and sub.style is None:
        raise InvalidInput("save_style_as needs an uploaded style picture")
    if len(sub.contents) > settings.max_files:
        raise InvalidInput(f"at most {settings.max_files} photos at once")
    style = resolve_style(rt.db, sub.style_name) if sub.style_name else None
    wait = rt.limiter.take(client, max(1, len(sub.contents)))
    if wait > 0:
        raise RateLimited(wait)
    contents = sub.contents
    if sub.content_url:
        contents = [(rt.fetcher.fetch(sub.content_url), sub.content_url.rsplit("/", 1)[-1][:80] or "photo")]
    stored = [
        (store_image(rt.store, data, max_pixels=settings.max_pixels, label=name)[0], name)
        for data, name in contents
    ]
    if style is None:
        assert sub.style is not None
        sha, _ = store_image(rt.store, sub.style, max_pixels=settings.max_pixels, label="style picture")
        name = "upload"
        if sub.save_style_as:
            name = gallery.save_style(rt.db, sub.save_style_as, sha).name
        style = StyleRef(name, sha)
    jobs = [
        create_job(
            rt.db, content_sha=sha, content_name=name, style=style, options=sub.options, parent_id=parent_id
        )
        for sha, name in stored
    ]
    queue(rt, jobs)
    return jobs


def queue(rt: Runtime, jobs: list[Job]) -> None:
    """Hand the jobs to the workers. A broker that is down fails them all (with the reason) and
    answers 503, so no job is left half-queued."""
    try:
        for job in jobs:
            rt.submit(job.id, job.mode)
    except QueueUnavailable as exc:
        if rt.dispatcher is not None:
            for job in jobs:
                rt.dispatcher.fail(job.id)
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from exc


def again(rt: Runtime, source: Job, changes: Mapping[str, Any], client: str) -> Job:
    """ "Same again with …": the source job's photo and style with some options changed."""
    options = options_from({**source.options, **{k: v for k, v in changes.items() if k in OPTION_FIELDS}})
    if options.mode == "fast":
        options = options.model_copy(
            update={"iterations": None, "style_weight": None, "content_weight": None}
        )
    else:
        options = options.model_copy(update={"strength": None})
    wait = rt.limiter.take(client)
    if wait > 0:
        raise RateLimited(wait)
    if source.style_sha is None and gallery.find(rt.db, source.style_name) is None:
        raise OptionsError(f"the style {source.style_name!r} is no longer in the gallery")
    style = StyleRef(source.style_name, source.style_sha)
    job = create_job(
        rt.db,
        content_sha=source.content_sha,
        content_name=source.content_name,
        style=style,
        options=options,
        parent_id=source.id,
    )
    queue(rt, [job])
    return job
