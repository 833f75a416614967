"""Jobs on Celery workers: one app, a ``fast`` and a ``quality`` queue, and one task that runs the
very same :func:`impasto.service.jobs.core.run_job` as the in-process pool.

Reliability comes from Celery and Redis, plus one small rule of our own:

* ``acks_late`` + ``reject_on_worker_lost``: a message is acknowledged only when the job is done,
  so a worker that dies mid-job leaves it in Redis, which hands it to another worker after the
  ``visibility_timeout`` (a dead pool child is requeued at once).
* A *lease* (a ``redis-py`` lock renewed by a heartbeat thread) marks the job's live runner. A
  redelivered job whose lease is alive is still running elsewhere (a visibility timeout shorter
  than a long painting, or a reconnect): the task retries later instead of running it twice. One
  whose lease is gone lost its worker: it is run again, or failed after ``max_attempts`` runs.
* The job row stays the single source of truth: claiming is an atomic ``queued → running`` update
  and results are columns of that row, so a duplicate delivery can never duplicate a result.
* Cancellation needs nothing remote: the progress callback polls the job's ``cancel_requested``
  flag in the database and sets the engine's cancel token.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from celery import Celery, Task
from kombu.entity import Exchange, Queue
from redis import Redis
from redis.exceptions import RedisError
from redis.lock import Lock
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..jobs import lifecycle
from ..jobs.context import JobContext, Stylize
from ..jobs.core import get_job, resumed_further, run_job
from ..storage.models import Job, Status

log = logging.getLogger("impasto.worker")

TASK = "impasto.run_job"
QUEUES = ("fast", "quality")
INFRA_RETRY_SECONDS = 5.0  # database or Redis briefly away: try the job again after this


def queue_for(mode: str) -> str:
    return "quality" if mode == "quality" else "fast"


def lease_key(job_id: str) -> str:
    return f"impasto:lease:{job_id}"


def make_celery(settings: Settings, *, stylize: Stylize | None = None) -> Celery:
    """The Celery app for ``settings.broker_url``; the server only publishes with it."""
    if not settings.broker_url:
        raise ValueError("no broker: set IMPASTO_BROKER_URL (redis://host:6379/0)")
    app = Celery("impasto", broker=settings.broker_url, set_as_current=False)
    restore_every = max(1.0, min(10.0, settings.visibility_timeout / 4))
    app.conf.update(
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        task_default_queue="fast",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a worker holds no long painting it is not running
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            "unacked_restore_interval": restore_every,
            "unacked_restore_throttle": 1,
            "socket_timeout": 10,
            "socket_connect_timeout": 3,
        },
    )
    node = _PerProcess(settings, stylize)

    @app.task(bind=True, name=TASK, max_retries=None)  # type: ignore[untyped-decorator]  # Celery is untyped
    def run_job_task(task: Task, job_id: str) -> str | None:
        return execute(task, node.get(), job_id)

    return app


class WorkerNode:
    """What a worker process needs: the database, the shared blob store, a job context, Redis."""

    def __init__(self, settings: Settings, stylize: Stylize | None = None) -> None:
        assert settings.broker_url
        self.settings = settings
        self.ctx = JobContext.from_settings(settings, stylize)
        self.db, self.store = self.ctx.db, self.ctx.store
        self.redis = Redis.from_url(settings.broker_url, socket_timeout=10, socket_connect_timeout=3)

    def lease(self, job_id: str) -> Lock:
        lock: Lock = self.redis.lock(lease_key(job_id), timeout=self.settings.lease_seconds, blocking=False)
        return lock

    def unfinished(self, job_id: str) -> bool:
        with self.db.session() as s:
            status = s.scalar(select(Job.status).where(Job.id == job_id))
        return status is not None and not Status(status).finished

    def reclaim(self, job_id: str) -> bool:
        """With the lease held: is the job ready to run? A ``running`` job whose lease we could take
        lost its worker; it is queued again, or failed (cancelled) after ``max_attempts`` runs."""
        with self.db.session() as s:
            job = s.get(Job, job_id)
            state = None if job is None else (job.state, job.attempts, job.cancel_requested)
        if state is None or state[0].finished:
            return False
        status, attempts, cancel_requested = state
        if status == Status.QUEUED:
            return True
        if cancel_requested:
            outcome = Status.CANCELLED
            lifecycle.move(
                self.db, job_id, outcome, source=Status.RUNNING, error="cancelled (its worker was lost)"
            )
        elif resumed_further(self.db, job_id):  # it got further: not counted as an attempt
            outcome = Status.QUEUED
            message = "its worker was lost after some progress; running it again"
            lifecycle.requeue(self.db, job_id, message, attempts=Job.attempts - 1)
        elif attempts >= self.settings.max_attempts:
            outcome = Status.FAILED
            error = f"its worker was lost {attempts} times; not retried"
            lifecycle.move(self.db, job_id, outcome, source=Status.RUNNING, error=error)
        else:
            outcome = Status.QUEUED
            lifecycle.requeue(self.db, job_id, "its worker was lost; running it again")
        log.warning(
            "job %s lost its worker after %d attempt(s): %s",
            job_id,
            attempts,
            outcome.value,
            extra={"job": job_id, "status": outcome.value},
        )
        return get_job(self.db, job_id).state == Status.QUEUED


class _PerProcess:
    """One :class:`WorkerNode` per process, built on first use (so after a prefork fork)."""

    def __init__(self, settings: Settings, stylize: Stylize | None) -> None:
        self.settings, self.stylize = settings, stylize
        self.pid: int | None = None
        self.node: WorkerNode | None = None
        self.lock = threading.Lock()

    def get(self) -> WorkerNode:
        with self.lock:
            if self.node is None or self.pid != os.getpid():
                self.node, self.pid = WorkerNode(self.settings, self.stylize), os.getpid()
            return self.node


def execute(task: Task, node: WorkerNode, job_id: str) -> str | None:
    """The task body: take the job's lease, recover it from a lost worker if need be, run it."""
    extra = {"job": job_id, "attempt": task.request.retries}
    try:
        lease = node.lease(job_id)
        if not lease.acquire():
            if node.unfinished(job_id):
                log.info("job %s is running on another worker; looking again later", job_id, extra=extra)
                raise task.retry(countdown=node.settings.lease_seconds)
            return None
        try:
            with _renewing(lease, node.settings.lease_seconds / 3, job_id):
                if not node.reclaim(job_id):
                    return None
                log.info("job %s starting", job_id, extra=extra)
                status = run_job(job_id, node.ctx)
        finally:
            with suppress(RedisError):
                lease.release()
    except (RedisError, SQLAlchemyError) as exc:
        log.warning("job %s: %s; trying again", job_id, type(exc).__name__, extra=extra)
        raise task.retry(countdown=INFRA_RETRY_SECONDS, exc=exc) from exc
    log.info("job %s %s", job_id, status.value if status else "skipped", extra={**extra, "status": status})
    return status.value if status else None


@contextmanager
def _renewing(lease: Lock, every: float, job_id: str) -> Iterator[None]:
    """Renew ``lease`` every ``every`` seconds while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                lease.reacquire()
            except RedisError as exc:
                reason = type(exc).__name__
                log.warning("job %s: lease not renewed (%s)", job_id, reason, extra={"job": job_id})

    thread = threading.Thread(target=beat, name=f"lease-{job_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
