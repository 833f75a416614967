"""A running job's progress callback: its events (throttled) and previews kept in the database, and
a person's cancel request seen within :attr:`~.context.JobContext.cancel_poll_interval`."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from ...imageio import encode_image, fit_long_side
from ...progress import CancelToken, DoneEvent, Event, IterationEvent, PreviewEvent, StageEvent
from ..storage.models import Job, JobEvent
from .context import JobContext

log = logging.getLogger("impasto.jobs")

PREVIEW_SIDE = 768


class Recorder:
    """The progress callback: persists events (throttled) and previews, and polls for cancellation."""

    def __init__(self, ctx: JobContext, job_id: str, token: CancelToken, unit: str | None = None) -> None:
        self.ctx, self.job_id, self.token = ctx, job_id, token
        self.unit = unit  # "frame": a step is a frame of a clip
        self.last_iteration = self.last_preview = self.last_poll = 0.0

    def __call__(self, event: Event) -> None:
        now = time.monotonic()
        try:
            self._record(event, now)
            if now - self.last_poll >= self.ctx.cancel_poll_interval:
                self.last_poll = now
                self._poll_cancel()
        except SQLAlchemyError:
            log.warning("job %s: could not record progress", self.job_id, exc_info=True)

    def _record(self, event: Event, now: float) -> None:
        data = event.to_dict()
        job_values: dict[str, Any] = {}
        if isinstance(event, PreviewEvent):
            if now - self.last_preview < self.ctx.preview_interval:
                return
            self.last_preview = now
            preview = (
                fit_long_side(event.image, PREVIEW_SIDE)
                if max(event.image.size) > PREVIEW_SIDE
                else event.image
            )
            data["sha"] = job_values["preview_sha"] = self.ctx.store.put(
                encode_image(preview.convert("RGB"), "JPEG", 85)
            )
        elif isinstance(event, IterationEvent):
            last_of_scale = event.iteration == event.iterations
            if now - self.last_iteration < self.ctx.event_interval and not last_of_scale:
                return
            self.last_iteration = now
            stage = f"painting {event.scale}/{event.scales}"
            if self.unit:
                stage = f"{self.unit} {event.step} of {event.steps}"
            job_values.update(fraction=event.fraction, eta=event.eta, stage=stage)
        elif isinstance(event, StageEvent):
            job_values["stage"] = event.stage[:100]
        elif isinstance(event, DoneEvent):
            job_values["eta"] = 0.0
        with self.ctx.db.session() as s:
            s.add(
                JobEvent(job_id=self.job_id, kind=str(data.get("kind", "event"))[:16], data=_jsonable(data))
            )
            if job_values:
                s.execute(update(Job).where(Job.id == self.job_id).values(**job_values))

    def _poll_cancel(self) -> None:
        with self.ctx.db.session() as s:
            wanted = s.scalar(select(Job.cancel_requested).where(Job.id == self.job_id))
        if wanted is None or wanted:
            self.token.cancel()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


__all__ = ["PREVIEW_SIDE", "Recorder"]
