"""Request and response bodies of the REST API (they make the OpenAPI document)."""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field

from ..service.jobs.pictures import JobOptions
from ..service.storage.models import Job

B64 = "Base64 of the image file's bytes (a `data:` URL prefix is accepted)"
#: A picture as Base64 text: OpenAPI's ``format: byte``, so that clients and fuzzers know it.
Picture = Annotated[str, Field(max_length=60_000_000, json_schema_extra={"format": "byte"})]


class ErrorOut(BaseModel):
    detail: Any = Field(description="what was wrong, for a person")
    code: str = Field("error", description="a stable machine-readable reason")


class JobCreate(JobOptions):
    """A job as JSON: one photo (Base64 or URL) and one style (Base64 or a gallery name)."""

    content: Picture | None = Field(None, description=B64)
    content_url: str | None = Field(None, description="http(s) URL of the photo", max_length=2000)
    style: Picture | None = Field(None, description=B64)
    style_name: str | None = Field(None, description="a gallery style name", max_length=100)
    save_style_as: str | None = Field(
        None, description="also save the uploaded style under this name", max_length=100
    )


def _example_photo() -> str:
    """A tiny landscape (96×64 JPEG: sky, hill, sun) as Base64: OpenAPI's example runs as it is."""
    img = Image.new("RGB", (96, 64))
    draw = ImageDraw.Draw(img)
    for y in range(64):
        draw.line([(0, y), (96, y)], fill=(90 + y, 150 + y // 2, 230 - y))
    draw.ellipse([66, 8, 82, 24], fill=(250, 220, 90))
    draw.polygon([(0, 64), (0, 42), (30, 30), (60, 46), (96, 34), (96, 64)], fill=(60, 120, 60))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return base64.b64encode(out.getvalue()).decode("ascii")


class StylizeRequest(JobCreate):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"content": _example_photo(), "style_name": "starry-night", "mode": "fast"}]
        }
    )

    wait: bool = Field(False, description="quality mode: wait for the result instead of answering 202")
    format: Literal["png", "jpeg"] = "png"


class StyleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="display name; the id is its slug")
    image: Picture = Field(description=B64)


class StyleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=60, description="new kebab-case name")
    title: str | None = Field(None, min_length=1, max_length=100, description="new display title")


class StyleOut(BaseModel):
    name: str
    title: str
    builtin: bool
    public: bool = Field(description="in the gallery every visitor sees (built-in, or an admin's)")
    image_url: str
    thumbnail_url: str


class ResultInfo(BaseModel):
    width: int
    height: int


class JobOut(BaseModel):
    id: str
    kind: Literal["image", "video"] = Field(
        "image",
        description="video: `content` and `result` are first frames, `source` and `video` the clips",
    )
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    mode: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    style_name: str
    content_name: str
    options: dict[str, Any]
    stage: str
    fraction: float
    eta: float | None
    error: str | None
    rating: int | None
    attempts: int
    result: ResultInfo | None
    parent_id: str | None
    links: dict[str, str]
    ahead: int | None = Field(
        None, description="queued jobs of the same mode ahead of this one (only while it is queued)"
    )

    @classmethod
    def of(cls, job: Job, ahead: int | None = None) -> JobOut:
        base = f"/api/v1/jobs/{job.id}"
        links = {
            "self": base,
            "events": f"{base}/events",
            "content": f"{base}/images/content",
            "style": f"{base}/images/style",
            "page": f"/jobs/{job.id}",
        }
        if job.preview_sha:
            links["preview"] = f"{base}/images/preview"
        result = None
        if job.result_sha and job.result_width and job.result_height:
            links["result"] = f"{base}/images/result"
            result = ResultInfo(width=job.result_width, height=job.result_height)
        if job.kind == "video":
            links["source"] = f"{base}/video/source"
            if job.video_sha:
                links["video"] = f"{base}/video"
        extra = ("result", "links", "ahead")
        columns = {name: getattr(job, name) for name in cls.model_fields if name not in extra}
        return cls.model_validate({**columns, "result": result, "links": links, "ahead": ahead})


class JobsOut(BaseModel):
    jobs: list[JobOut]
    total: int | None = None


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int | None = Field(ge=1, le=5, description="1–5 stars, or null to clear")


class StylizeOut(BaseModel):
    image: str = Field(description="Base64 of the result")
    format: Literal["png", "jpeg"]
    width: int
    height: int
    job: JobOut


class HealthOut(BaseModel):
    status: str
    version: str
    checks: dict[str, bool] = Field(default_factory=dict)


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_photo: bool = Field(False, description="show the original photo too (default: only the painting)")


class ShareOut(BaseModel):
    token: str = Field(description="the link's secret part; revoke with DELETE …/shares/{token}")
    url: str = Field(description="the read-only page, relative to this server")
    include_photo: bool
    created_at: datetime
