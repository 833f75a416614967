"""The web node's side of scale-out: publish jobs to the Celery queues instead of running them.

The job row is written first and is the source of truth; the message only says "run job X". So
a message delivered twice is harmless (see :mod:`~impasto.service.workers.celery_app`), and the server
publishes every job still ``queued`` again whenever it meets a Redis it has not seen before (its
own start, or a Redis restart): a crash between the commit and the publish, or a Redis that lost
its data, loses no job. Jobs already in a persistent Redis survive a server restart by themselves.
"""

from __future__ import annotations

import logging
import threading

from redis import Redis
from sqlalchemy import select

from ...errors import Unavailable
from ..config import Settings
from ..jobs import lifecycle
from ..storage.db import Database
from ..storage.models import Job, Status
from .celery_app import TASK, make_celery, queue_for

log = logging.getLogger("impasto.dispatch")

#: a publish waits out a broker blip of about this long before the request fails with 503
PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.4, "interval_max": 1.0}
QUEUE_DOWN = "the job queue (Redis) is unavailable; try again shortly"
WATCH_SECONDS = 3.0  # how often the server looks whether Redis restarted


class QueueUnavailable(Unavailable):
    """The broker did not take the job; the job was marked failed with that reason."""


class Dispatcher:
    def __init__(self, settings: Settings, db: Database) -> None:
        assert settings.broker_url
        self.db = db
        self.app = make_celery(settings)
        self.redis = Redis.from_url(settings.broker_url, socket_timeout=2, socket_connect_timeout=2)
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="impasto-dispatch", daemon=True)

    def start(self) -> None:
        self.watcher.start()

    def _watch(self) -> None:
        """Publish the queued jobs again each time a new Redis (``run_id``) answers."""
        seen: str | None = None
        down = False
        while True:
            try:
                run_id = str(self.redis.info("server")["run_id"])
                if down:
                    log.info("broker reachable again")
                down = False
                if run_id != seen and self.resubmit_queued() is not None:
                    seen = run_id
            except Exception as exc:
                if not down:
                    log.error("broker unreachable (%s)", type(exc).__name__)
                down = True
            if self.stopping.wait(WATCH_SECONDS):
                return

    def publish(self, job_id: str, mode: str) -> None:
        self.app.send_task(TASK, args=[job_id], queue=queue_for(mode), retry=True, retry_policy=PUBLISH_RETRY)

    def submit(self, job_id: str, mode: str) -> None:
        """Queue one job, or mark it failed and raise :class:`QueueUnavailable`."""
        try:
            self.publish(job_id, mode)
        except Exception as exc:  # kombu/redis raise many kinds of connection error
            log.error(
                "job %s not queued: broker unavailable (%s)",
                job_id,
                type(exc).__name__,
                extra={"job": job_id},
            )
            self.fail(job_id)
            raise QueueUnavailable(QUEUE_DOWN) from exc

    def fail(self, job_id: str) -> None:
        """Mark a job that could not be queued as failed, with the reason."""
        lifecycle.move(self.db, job_id, Status.FAILED, source=Status.QUEUED, error=QUEUE_DOWN)

    def resubmit_queued(self) -> int | None:
        """Publish every queued job again (duplicates are no-ops): how many, ``None`` on failure."""
        with self.db.session() as s:
            rows = s.execute(
                select(Job.id, Job.mode).where(Job.status == Status.QUEUED.value).order_by(Job.created_at)
            ).all()
        try:
            for job_id, mode in rows:
                self.publish(job_id, mode)
        except Exception as exc:
            log.error("could not publish the queued jobs (%s); trying again", type(exc).__name__)
            return None
        if rows:
            log.info("published %d queued job(s) again", len(rows), extra={"count": len(rows)})
        return len(rows)

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:
            return False

    def close(self) -> None:
        self.stopping.set()
        if self.watcher.is_alive():
            self.watcher.join(5)
        self.redis.close()
        self.app.close()
