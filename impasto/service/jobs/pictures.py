"""Picture jobs: a photo (or several, one job each) painted by :func:`impasto.stylize` in fast or
quality mode. Their options (:class:`JobOptions`) are what the REST API, the pages and the job rows
share; the kind (:data:`PICTURES`) paints one."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

from ...api import mode_options, modes_of
from ...errors import InvalidInput
from ...fast.options import FastOptions
from ...imageio import encode_image
from ...options import marked, schema
from ...progress import CancelToken, ProgressCallback
from ...quality.options import QualityOptions
from ..storage.db import Database
from ..storage.models import Job, JobKind
from . import kinds
from .context import JobContext
from .fields import pydantic_field
from .kinds import StoppedEarly

QUALITY_PREVIEW_EVERY = 5  # iterations between previews the quality engine sends


def _described(option: str, text: str) -> str:
    """``text`` prefixed with the mode that takes ``option``, when only one does."""
    modes = modes_of(option)
    return f"{modes[0]} mode: {text}" if len(modes) == 1 else text


#: The engine options a job takes (``Opt(api=True)`` in the engines' schemas), each of one mode only
#: (:func:`impasto.api.mode_options` says which): type, range and help come from the engine.
_ENGINE = marked("api", FastOptions, QualityOptions)
ENGINE_FIELDS = tuple(_ENGINE)
_EngineOptions = create_model(  # type: ignore[call-overload]  # fields made from the schemas
    "EngineOptions",
    __config__=ConfigDict(extra="forbid"),
    **{n: pydantic_field(f, _described(n, f.opt.help)) for n, f in _ENGINE.items()},
)


MAX_REGIONS = 8


class JobRegion(BaseModel):
    """A part of the picture with a style of its own, or kept (see :mod:`impasto.masks`)."""

    model_config = ConfigDict(extra="forbid")

    mask: str = Field(
        description="a greyscale picture as Base64 (a data URL is fine): white = the region, soft "
        "edges allowed; the photo's shape (within 5%)",
        max_length=16_000_000,
    )
    style: str = Field(
        description='a built-in gallery painting for this part, or "keep" for the photo itself',
        min_length=1,
        max_length=100,
    )


def decode_mask(text: str) -> bytes:
    """A region's mask from its Base64 text (refused with a message when it is not Base64)."""
    body = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    try:
        return base64.b64decode(body.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("a region's mask is not valid Base64") from None


class JobOptions(_EngineOptions):  # type: ignore[misc,valid-type]  # + the engines' options
    """What to paint and how. ``None`` leaves an option to the engine's default. Besides the
    options below, every engine option the service takes (:data:`ENGINE_FIELDS`)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fast", "quality"] = "fast"
    size: int | None = pydantic_field(  # the engine's size, narrowed for a shared server (NARROWED)
        schema(QualityOptions)["size"],
        "long side of the result, px (default: the photo's size, at most 2048)",
    )[1]
    preserve_color: Literal["none", "luminance", "histogram"] = "none"

    regions: list[JobRegion] | None = Field(
        default=None,
        max_length=MAX_REGIONS,
        description="parts of the picture in styles of their own, or kept; later ones lie over earlier "
        "ones, and the job's style paints what none claims",
    )

    def for_mode(self) -> JobOptions:
        """These options without the ones the mode does not take."""
        unused = {n: None for n in ENGINE_FIELDS if n not in mode_options(self.mode)}
        return cast(JobOptions, self.model_copy(update=unused))

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`impasto.stylize`: only the options this mode knows."""
        kwargs: dict[str, Any] = {"mode": self.mode, "preserve_color": self.preserve_color}
        if self.size is not None:  # else the engine's default: the photo's size (quality: up to 2048 px)
            kwargs["size"] = self.size
        options = self.for_mode()
        kwargs.update({n: getattr(options, n) for n in ENGINE_FIELDS if getattr(options, n) is not None})
        if self.mode == "quality":
            kwargs["preview_every"] = QUALITY_PREVIEW_EVERY
        if self.regions:
            kwargs["regions"] = [(decode_mask(r.mask), r.style) for r in self.regions]
        return kwargs


def job_options(job: Job) -> JobOptions:
    return cast(JobOptions, JobOptions.model_validate(job.options))


class Pictures:
    """The picture kind: nothing kept between runs (a run starts again from the photo)."""

    name: ClassVar[str] = JobKind.IMAGE.value
    options: ClassVar[type[BaseModel]] = JobOptions
    unit: ClassVar[str | None] = None
    resumable: ClassVar[bool] = False

    def paint(
        self, job: Job, ctx: JobContext, progress: ProgressCallback, cancel: CancelToken
    ) -> dict[str, Any]:
        content = ctx.store.get(job.content_sha)
        style: Any = ctx.store.get(job.style_sha) if job.style_sha else job.style_name
        kwargs = job_options(job).engine_kwargs()
        image = ctx.engine()(
            content, style, progress=progress, cancel=cancel, max_pixels=ctx.max_pixels, **kwargs
        )
        sha = ctx.store.put(encode_image(image, "PNG"))
        result = {"result_sha": sha, "result_width": image.width, "result_height": image.height}
        if cancel.cancelled:  # the quality engine hands back its best picture so far
            raise StoppedEarly(result)
        return result

    def ended(self, ctx: JobContext, job_id: str) -> None:
        pass

    def sweep(self, db: Database, work_dir: Path) -> int:
        return 0

    def served(self, job: Job) -> dict[str, kinds.Served]:
        return {}  # its pictures only


PICTURES = kinds.register(Pictures())

__all__ = ["ENGINE_FIELDS", "PICTURES", "JobOptions", "JobRegion", "decode_mask", "job_options"]
