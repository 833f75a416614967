"""What a worker needs to run jobs of any kind: :class:`JobContext`, built from the settings by any
process (the web server's pool, a Celery worker, a test)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ...api import stylize
from ...progress import CancelToken
from ...video import VideoLimits
from ..config import Settings
from ..storage.blobdb import make_store
from ..storage.db import Database
from ..storage.store import BlobStore

Stylize = Callable[..., Image.Image]


@dataclass
class JobContext:
    """The database, the blob store and the limits one worker process runs jobs with."""

    db: Database
    store: BlobStore
    stylize: Stylize | None = None  # None: the real impasto.stylize
    max_pixels: int = 40_000_000
    preview_interval: float = 0.5
    event_interval: float = 0.2
    cancel_poll_interval: float = 0.5
    tokens: dict[str, CancelToken] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)  # set: runs stop to be re-queued
    video_limits: VideoLimits = field(default_factory=VideoLimits)
    video_dir: Path = Path("data/video-work")  # the work folders of kinds that resume (clips), by job id

    @classmethod
    def from_settings(cls, settings: Settings, stylize: Stylize | None = None) -> JobContext:
        """A context on the settings' database and blob store, applying their limits."""
        db = Database(settings.db_url)
        return cls(
            db,
            make_store(settings, db),
            stylize,
            max_pixels=settings.max_pixels,
            preview_interval=settings.preview_interval,
            video_limits=VideoLimits(  # the service's own limits (IMPASTO_VIDEO_MAX_*), read once
                max_seconds=settings.video_max_seconds,
                max_frame_pixels=settings.video_max_pixels,
                max_frames=settings.video_max_frames,
            ),
            video_dir=settings.video_work_dir,
        )

    def engine(self) -> Stylize:
        return self.stylize or stylize


__all__ = ["JobContext", "Stylize"]
