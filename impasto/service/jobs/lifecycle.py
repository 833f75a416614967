"""The job state machine: the one place a job's status changes.

::

    queued ──▶ running ──▶ succeeded | failed | cancelled
      │           │
      │           └──▶ queued      (its worker was lost, the server restarted or is stopping)
      └──▶ cancelled | failed      (cancelled before it started; the queue refused it)

Finished jobs never move again. :func:`move` is the only writer of ``Job.status``: one guarded
``UPDATE … WHERE status IN (allowed sources)`` and, when it took, the job's ``status`` event, in
one transaction. A job delivered twice, a late redelivery or a cancel racing a finish therefore
changes the row once; the loser sees ``False``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, select, update

from ..storage.db import Database
from ..storage.models import Job, JobEvent, Status, utcnow

log = logging.getLogger("impasto.jobs")

#: Where a job may go from each status.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.QUEUED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def allowed(source: Status, target: Status) -> bool:
    return target in TRANSITIONS[source]


def sources(target: Status) -> frozenset[Status]:
    """Every status a job may reach ``target`` from."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


def move(
    db: Database,
    job_id: str,
    target: Status,
    *,
    source: Status | None = None,
    error: str | None = None,
    message: str | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """Move job ``job_id`` to ``target`` if its status allows it (and is ``source``, when given, and
    ``where`` holds), with its status event; ``False`` when the job was not in such a state.

    ``values`` are further columns to set; each target sets its own bookkeeping (``started_at``
    and ``attempts`` when running, ``finished_at`` when finished, the stage shown to people).
    """
    froms = sources(target) if source is None else frozenset({source})
    if not froms <= sources(target):
        raise ValueError(f"a job cannot go from {source} to {target}")
    columns: dict[str, Any] = {"status": target.value, "stage": target.value, **_bookkeeping(target)}
    if error is not None:
        columns["error"] = error
    columns.update(values)
    event: dict[str, Any] = {"kind": "status", "status": target.value}
    if error:
        event["error"] = error
    if message:
        event["message"] = message
    with db.session() as s:
        if target == Status.RUNNING:  # how far the job was when this run began: see progressed()
            begun = s.scalar(select(Job.fraction).where(Job.id == job_id))
            if begun:  # absent: from the beginning
                event["from_fraction"] = begun
        done = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_([f.value for f in froms]), *where)
            .values(**columns)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        s.add(JobEvent(job_id=job_id, kind="status", data=event))
    log.info("job %s %s", job_id, target.value, extra={"job": job_id, "status": target.value})
    return True


def _bookkeeping(target: Status) -> dict[str, Any]:
    if target == Status.RUNNING:
        return {"started_at": utcnow(), "attempts": Job.attempts + 1, "stage": "starting"}
    if target == Status.QUEUED:
        return {"stage": "re-queued", "finished_at": None, "error": None}
    fraction = 1.0 if target == Status.SUCCEEDED else Job.fraction
    return {"finished_at": utcnow(), "eta": 0.0, "fraction": fraction}


def progressed(db: Database, job_id: str) -> bool:
    """Did the job's latest run get further than where it began? Only what a kind that resumes
    (:attr:`~.kinds.Kind.resumable`) did is kept, so the callers ask this of those kinds only
    (:func:`~.core.resumed_further`)."""
    with db.session() as s:
        started = s.scalars(
            select(JobEvent)
            .where(JobEvent.job_id == job_id, JobEvent.kind == "status")
            .order_by(JobEvent.id.desc())
            .limit(1)
        ).first()
        fraction = s.scalar(select(Job.fraction).where(Job.id == job_id))
    if started is None or started.data.get("status") != Status.RUNNING.value or fraction is None:
        return False
    return bool(fraction > float(started.data.get("from_fraction") or 0.0))


def claim(db: Database, job_id: str) -> bool:
    """``queued → running``: the one worker that wins runs the job."""
    return move(db, job_id, Status.RUNNING, source=Status.QUEUED)


def requeue(db: Database, job_id: str, message: str, **values: Any) -> bool:
    """``running → queued``: its run was interrupted through no fault of the job's."""
    return move(db, job_id, Status.QUEUED, source=Status.RUNNING, message=message, **values)


__all__ = ["TRANSITIONS", "allowed", "claim", "move", "progressed", "requeue", "sources"]
