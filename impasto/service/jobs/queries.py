"""What the pages and the API ask about jobs: lists, counts, places in the queue, events, thumbnails."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import and_, func, or_, select

from ...imageio import encode_image, open_image
from ..storage.db import Database
from ..storage.models import Job, JobEvent, Status
from ..storage.store import BlobNotFound


def ahead_of(db: Database, job: Job) -> int | None:
    """How many queued jobs of the same mode were queued before ``job`` (``None`` unless it is queued).

    Each mode has its own workers, so only jobs of the same mode stand in its way."""
    if job.status != Status.QUEUED.value:
        return None
    earlier = or_(Job.created_at < job.created_at, and_(Job.created_at == job.created_at, Job.id < job.id))
    with db.session() as s:
        query = select(func.count()).where(Job.status == Status.QUEUED.value, Job.mode == job.mode, earlier)
        return int(s.scalar(query) or 0)


def waiting(db: Database, owner: str | None = None) -> dict[str, int]:
    """How many jobs (of ``owner``) are queued, per mode."""
    query = select(Job.mode, func.count()).where(Job.status == Status.QUEUED.value)
    if owner is not None:
        query = query.where(Job.owner == owner)
    with db.session() as s:
        rows = s.execute(query.group_by(Job.mode))
        return {str(mode): int(count) for mode, count in rows}


def find_jobs(
    db: Database,
    *,
    status: str | None = None,
    style: str | None = None,
    min_rating: int | None = None,
    limit: int = 50,
    offset: int = 0,
    count: bool = False,
    owner: str | None = None,
) -> tuple[list[Job], int | None]:
    """Jobs, newest first, filtered (``owner``: only theirs); and how many match in all when
    ``count`` is asked for."""
    query = select(Job)
    if owner is not None:
        query = query.where(Job.owner == owner)
    if status:
        query = query.where(Job.status == status)
    if style:
        query = query.where(Job.style_name == style)
    if min_rating:
        query = query.where(Job.rating >= min_rating)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0 if count else None
        jobs = s.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)).all()
        return list(jobs), total


def job_style_names(db: Database, owner: str | None = None) -> list[str]:
    """Every style name some job (of ``owner``) used, sorted (the history page's filter)."""
    query = select(Job.style_name).distinct()
    if owner is not None:
        query = query.where(Job.owner == owner)
    with db.session() as s:
        return sorted(s.scalars(query).all())


def preview_sha(db: Database, job_id: str, event_id: int) -> str:
    """The picture of one of the job's preview events."""
    with db.session() as s:
        event = s.get(JobEvent, event_id)
        sha = event.data.get("sha") if event is not None and event.job_id == job_id else None
    if not isinstance(sha, str):
        raise BlobNotFound("preview")
    return sha


def events_after(
    db: Database, job_id: str, after: int, limit: int = 200
) -> tuple[list[JobEvent], str | None]:
    """Events with id > ``after`` and the job's status (``None`` when the job is gone)."""
    with db.session() as s:
        status = s.scalar(select(Job.status).where(Job.id == job_id))
        events = list(
            s.scalars(
                select(JobEvent)
                .where(JobEvent.job_id == job_id, JobEvent.id > after)
                .order_by(JobEvent.id)
                .limit(limit)
            )
        )
    return events, status


def thumbnail(data: bytes, side: int) -> bytes:
    source = open_image(io.BytesIO(data))  # only the formats the docs list, as everywhere
    source.draft("RGB", (side, side))
    image = source.convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return encode_image(image, "JPEG", 85)


__all__ = [
    "ahead_of",
    "events_after",
    "find_jobs",
    "job_style_names",
    "preview_sha",
    "thumbnail",
    "waiting",
]
