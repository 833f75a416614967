"""Request bodies → :class:`~impasto.service.intake.pictures.Submission`: Base64 JSON, multipart uploads and
the HTML form, so all three reach the service in one shape. Decoding only; the rules live in
:mod:`impasto.service.intake.pictures`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData, UploadFile

from ..errors import InvalidInput, TooLarge
from ..service.intake.pictures import OPTION_FIELDS, Submission, options_from
from ..service.jobs.pictures import JobOptions

_DATA_URL = re.compile(r"^data:[\w/+.-]*;base64,", re.IGNORECASE)


def decode_b64(text: str, what: str, limit: int) -> bytes:
    text = _DATA_URL.sub("", text.strip(), count=1)
    if len(text) * 3 // 4 > limit:
        raise TooLarge(f"{what} is larger than {limit // (1024 * 1024)} MiB")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{what} is not valid Base64") from None


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
    unknown = (
        set(form.keys())
        - {
            "content",
            "content_url",
            "style",
            "style_name",
            "save_style_as",
            "region_mask",
            "region_style",
            *OPTION_FIELDS,
        }
        - {"regions"}
    )
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
            data = await read_upload(item, limit)
            if data:  # an empty file input sends an empty part
                sub.contents.append((data, _display_name(item.filename, index)))
        elif item.strip():
            raise InvalidInput("content must be a file upload (or use content_url)")
    sub.options = await _form_regions(form, sub.options, limit)
    style = form.get("style")
    if isinstance(style, UploadFile):
        sub.style = await read_upload(style, limit) or None
    elif isinstance(style, str) and style.strip():
        raise InvalidInput("style must be a file upload (or use style_name)")
    return sub


async def _form_regions(form: FormData, options: JobOptions, limit: int) -> JobOptions:
    """Multipart regions: ``region_mask`` files and ``region_style`` fields, paired in order."""
    mask_parts, styles = form.getlist("region_mask"), form.getlist("region_style")
    if not mask_parts and not styles:
        return options
    if len(mask_parts) != len(styles):
        raise InvalidInput(f"{len(mask_parts)} region_mask file(s) for {len(styles)} region_style field(s)")
    regions = []
    for part, style in zip(mask_parts, styles, strict=True):
        if not isinstance(part, UploadFile) or not isinstance(style, str):
            raise InvalidInput("each region is a region_mask file and a region_style (a painting or keep)")
        data = base64.b64encode(await read_upload(part, limit)).decode("ascii")
        regions.append({"mask": data, "style": style.strip()})
    return options_from({**options.model_dump(exclude_none=True), "regions": regions})


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


async def read_upload(upload: UploadFile, limit: int, what: str = "a file") -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{what} is larger than {limit // (1024 * 1024)} MiB")
    return data


def _display_name(filename: str | None, index: int) -> str:
    """The client's file name, only for showing: never used in a path."""
    name = re.sub(r"[^\w .()-]", "_", (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1])[:80].strip()
    return name or f"photo {index + 1}"
