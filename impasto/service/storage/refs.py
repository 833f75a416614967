"""Which rows refer to a picture: what decides whether a blob may be deleted (jobs, saved styles)."""

from __future__ import annotations

from sqlalchemy import select

from .db import Database
from .models import Job, SavedStyle


def blob_in_use(db: Database, sha: str) -> bool:
    """Does a job or a saved style refer to this picture?"""
    with db.session() as s:
        pictures = (Job.content_sha, Job.style_sha, Job.result_sha, Job.preview_sha)
        cols = (*pictures, Job.source_sha, Job.video_sha)  # and a video job's clips
        if any(s.scalar(select(Job.id).where(c == sha).limit(1)) for c in cols):
            return True
        return s.scalar(select(SavedStyle.name).where(SavedStyle.sha == sha).limit(1)) is not None
