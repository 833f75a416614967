"""The embedded worker pool: threads that run :func:`impasto.service.jobs.core.run_job` in-process.

Two bounded lanes so a long painting never blocks quick ones: ``fast`` jobs run several at a
time, ``quality`` jobs (which use every core) one per CPU budget. On start the pool recovers
what a previous process left: interrupted jobs are re-queued (or failed) and queued jobs resume.
On stop, running jobs are cancelled and put back in the queue for the next start.
"""

from __future__ import annotations

import logging
import queue
import threading

from ..jobs.context import JobContext
from ..jobs.core import recover, requeue_for_restart, run_job

log = logging.getLogger("impasto.pool")
_STOP = "__stop__"


class WorkerPool:
    def __init__(
        self, ctx: JobContext, *, fast_workers: int = 2, quality_workers: int = 1, max_attempts: int = 2
    ):
        self.ctx = ctx
        self.max_attempts = max_attempts
        self.lanes = {"fast": max(1, fast_workers), "quality": max(1, quality_workers)}
        self.queues: dict[str, queue.Queue[str]] = {lane: queue.Queue() for lane in self.lanes}
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()

    def start(self) -> None:
        self.ctx.stopping.clear()
        for job_id, mode in recover(self.ctx.db, self.max_attempts):
            self.submit(job_id, mode)
        for lane, count in self.lanes.items():
            for i in range(count):
                thread = threading.Thread(
                    target=self._work, args=(lane,), name=f"impasto-{lane}-{i}", daemon=True
                )
                thread.start()
                self.threads.append(thread)

    def submit(self, job_id: str, mode: str) -> None:
        self.queues["quality" if mode == "quality" else "fast"].put(job_id)

    @property
    def alive(self) -> bool:
        return bool(self.threads) and all(t.is_alive() for t in self.threads) and not self.stopping.is_set()

    def pending(self) -> int:
        return sum(q.qsize() for q in self.queues.values())

    def _work(self, lane: str) -> None:
        jobs = self.queues[lane]
        while True:
            job_id = jobs.get()
            if job_id == _STOP or self.stopping.is_set():
                return
            try:
                run_job(job_id, self.ctx)
            except Exception:  # a broken database must not kill the worker thread
                log.exception("worker %s: job %s crashed", lane, job_id)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; running ones stop and go back to the queue, so a restart runs them."""
        self.stopping.set()
        self.ctx.stopping.set()  # runs that stop now are re-queued, not cancelled
        running = list(self.ctx.tokens)
        for token in list(self.ctx.tokens.values()):
            token.cancel()
        for lane, count in self.lanes.items():
            for _ in range(count):
                self.queues[lane].put(_STOP)
        for thread in self.threads:
            thread.join(timeout)
        self.threads.clear()
        for job_id in running:  # a run that did not stop in time: its next start runs it again
            if requeue_for_restart(self.ctx.db, job_id):
                log.info("job %s re-queued for the next start", job_id)
