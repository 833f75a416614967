"""Database tables (SQLAlchemy 2). Schema changes go through Alembic migrations in ``migrations/``."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Status(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


FINISHED = tuple(s.value for s in Status if s.finished)

#: The owner of rows made before there were owners, by the local CLI and by keyless local scripts.
LOCAL_OWNER = "local"
#: The owner of the saved styles every visitor sees (the public gallery): only admins change it.
PUBLIC_STYLES = "public"


class JobKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED.value, index=True)
    mode: Mapped[str] = mapped_column(String(16))
    content_sha: Mapped[str] = mapped_column(String(64))
    content_name: Mapped[str] = mapped_column(String(200), default="photo")  # display only, never a path
    style_sha: Mapped[str | None] = mapped_column(String(64))  # an uploaded style image
    style_name: Mapped[str] = mapped_column(String(100), index=True)  # gallery name or "upload"
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result_sha: Mapped[str | None] = mapped_column(String(64))
    result_width: Mapped[int | None] = mapped_column(Integer)
    result_height: Mapped[int | None] = mapped_column(Integer)
    preview_sha: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(100), default="queued")
    fraction: Mapped[float] = mapped_column(default=0.0)
    eta: Mapped[float | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    parent_id: Mapped[str | None] = mapped_column(String(32))  # "same again with…" source
    # "image", or "video": then content_sha is the clip's first frame (a poster), result_sha the
    # first painted frame, and the clips themselves are source_sha (uploaded) and video_sha (painted)
    kind: Mapped[str] = mapped_column(String(16), default="image", server_default="image")
    source_sha: Mapped[str | None] = mapped_column(String(64))
    video_sha: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64), default=LOCAL_OWNER, index=True)  # see service.owners

    events: Mapped[list[JobEvent]] = relationship(
        back_populates="job", cascade="all, delete-orphan", passive_deletes=True, order_by="JobEvent.id"
    )

    @property
    def state(self) -> Status:
        return Status(self.status)


class JobEvent(Base):
    """One progress event as :meth:`impasto.progress.Event.to_dict` gave it (plus service events)."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    job: Mapped[Job] = relationship(back_populates="events")


class SavedStyle(Base):
    """A style picture a user saved to the gallery under a name: names are one owner's (two owners
    may each have a private ``monet-x``), the public gallery being one more owner."""

    __tablename__ = "saved_styles"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True, default=PUBLIC_STYLES, index=True)
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    sha: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """A REST client's key: only its SHA-256 is kept (the key is shown once, at creation)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Share(Base):
    """A read-only link to one job's painting (and its photo, if the owner chose so)."""

    __tablename__ = "shares"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    include_photo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
