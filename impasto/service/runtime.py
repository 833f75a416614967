"""One process's service: settings → database, blob store, job context, worker pool, URL fetcher."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .config import Settings, redact_url
from .guards.pixels import PixelBudget, return_freed_images
from .guards.ratelimit import RateLimiter
from .guards.urlfetch import UrlFetcher
from .jobs.context import JobContext, Stylize
from .jobs.core import request_cancel
from .storage.models import Job
from .storage.store import BlobPins
from .workers.pool import WorkerPool
from .workers.sweep import Sweeper

if TYPE_CHECKING:
    from .workers.distributed import Dispatcher

log = logging.getLogger("impasto.service")


class Runtime:
    """Everything the web app uses, built from :class:`Settings`; :meth:`start` migrates and
    starts the workers, :meth:`stop` hands running jobs back to the queue."""

    def __init__(
        self,
        settings: Settings,
        *,
        stylize: Stylize | None = None,
        fetcher: UrlFetcher | None = None,
        workers: bool = True,
    ) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.ctx = JobContext.from_settings(settings, stylize)
        self.db, self.store = self.ctx.db, self.ctx.store
        self.pins = BlobPins()  # uploads in progress: their pictures outlive a concurrent deletion
        self.pixels = PixelBudget(settings.decode_budget, settings.decode_wait)  # pixels decoding now
        return_freed_images()
        self.dispatcher: Dispatcher | None = None  # with a broker, jobs go to Celery workers (impasto worker)
        if settings.broker_url:
            # Celery and Redis (the scale-out stack) load only when a broker is configured
            from .workers.distributed import Dispatcher

            self.dispatcher = Dispatcher(settings, self.db)
        self.pool = (
            WorkerPool(
                self.ctx,
                fast_workers=settings.fast_workers,
                quality_workers=settings.quality_workers,
                max_attempts=settings.max_attempts,
            )
            if workers and self.dispatcher is None
            else None
        )
        self.fetcher = fetcher or UrlFetcher(
            timeout=settings.url_timeout,
            max_bytes=settings.max_image_bytes,
            max_redirects=settings.url_max_redirects,
            allow=settings.extra.get("url_allow", ()),
        )
        self.limiter = RateLimiter(settings.jobs_per_minute, settings.jobs_burst)
        # new anonymous identities per address: per-owner quotas must not restart with every cookie
        self.minting = RateLimiter(settings.identities_per_hour / 60, settings.identities_burst)
        self.sweeper = Sweeper(self.db, self.store, self.pins, settings)

    def start(self) -> None:
        log.info(
            "starting: data in %s, database %s", self.settings.data_dir, redact_url(self.settings.db_url)
        )
        self.db.migrate()
        if self.pool is not None:
            self.pool.start()
        if self.dispatcher is not None:
            self.dispatcher.start()
        self.sweeper.start()

    def stop(self) -> None:
        self.sweeper.stop()
        if self.pool is not None:
            self.pool.stop()
        if self.dispatcher is not None:
            self.dispatcher.close()
        self.db.dispose()

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job, or ask a running one to stop (here through its token, on a remote
        worker through the flag it polls)."""
        return request_cancel(self.db, job_id, self.ctx.tokens)

    def health(self) -> dict[str, bool]:
        """Ready to take jobs? Database, blob store, workers (or, with Celery workers, the broker)."""
        checks = {
            "database": self.db.ping(),
            "store": self.store.writable(),
            "workers": self.pool.alive if self.pool is not None else True,
        }
        if self.dispatcher is not None:
            checks["broker"] = self.dispatcher.ping()
        return checks

    def submit(self, job_id: str, mode: str) -> None:
        if self.dispatcher is not None:
            self.dispatcher.submit(job_id, mode)
        elif self.pool is not None:
            self.pool.submit(job_id, mode)
