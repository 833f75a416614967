"""A stand-in for :func:`impasto.stylize`: reports progress like an engine, obeys the cancel token,
paints nothing (it returns the photo resized), and takes a set time per step.

In-process tests build a :class:`FakeEngine` and hand it to the app; Celery worker processes run
:func:`worker_engine` (``python -m support.worker`` with ``tests`` on ``PYTHONPATH`` passes it to
``impasto worker``), whose per-step times come from ``SCALE_STEP_FAST`` / ``SCALE_STEP_QUALITY``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from PIL import Image

from impasto.errors import Cancelled, ImpastoError
from impasto.imageio import load_image
from impasto.progress import CancelToken, DoneEvent, IterationEvent, PreviewEvent, StageEvent


class FakeEngine:
    """``steps`` per run (``iterations`` when given; ``fast_steps`` for fast mode when set), ``delay``
    seconds each (``delays`` per mode override it).

    ``gate`` (when set) holds every run until it is opened; a style picture that is pure black makes
    the run fail with an :class:`ImpastoError`; pure white raises an unexpected ``RuntimeError``.
    The first stage event names the process (``pid N``), so a test can tell which worker ran a job.
    """

    def __init__(
        self,
        steps: int = 3,
        delay: float = 0.0,
        *,
        fast_steps: int | None = None,
        delays: Mapping[str, float] | None = None,
    ) -> None:
        self.steps, self.delay, self.fast_steps = steps, delay, fast_steps
        self.delays = dict(delays or {})
        self.gate: threading.Event | None = None
        self.calls: list[dict[str, Any]] = []
        self.active: dict[str, int] = {"fast": 0, "quality": 0}  # runs going on now, per mode
        self.peak: dict[str, int] = {"fast": 0, "quality": 0}  # the most that ran at once, per mode
        self.lock = threading.Lock()

    def __call__(
        self,
        content: Any,
        style: Any,
        *,
        progress: Callable[[Any], None],
        cancel: CancelToken,
        mode: str = "fast",
        size: int | None = None,  # None: the photo's size (fast) or the engine default
        **options: Any,
    ) -> Image.Image:
        with self.lock:
            self.calls.append({"mode": mode, "size": size, "style": style, **options})
            self.active[mode] = self.active.get(mode, 0) + 1
            self.peak[mode] = max(self.peak.get(mode, 0), self.active[mode])
        try:
            return self._paint(content, style, progress, cancel, mode, size, options)
        finally:
            with self.lock:
                self.active[mode] -= 1

    @property
    def running(self) -> int:
        """Runs going on now, in all modes."""
        return sum(self.active.values())

    def _paint(
        self,
        content: Any,
        style: Any,
        progress: Callable[[Any], None],
        cancel: CancelToken,
        mode: str,
        size: int | None,
        options: dict[str, Any],
    ) -> Image.Image:
        photo = load_image(content)
        if isinstance(style, bytes):
            colors = load_image(style).getcolors(4)
            if colors and len(colors) == 1 and colors[0][1] == (0, 0, 0):
                raise ImpastoError("style picture is all black")
            if colors and len(colors) == 1 and colors[0][1] == (255, 255, 255):
                raise RuntimeError("engine bug")
        progress(StageEvent("painting", f"pid {os.getpid()}"))
        steps = (self.fast_steps if mode == "fast" else None) or options.get("iterations") or self.steps
        delay = self.delays.get(mode, self.delay)
        start = time.monotonic()
        for step in range(1, steps + 1):
            if self.gate is not None:
                while not self.gate.wait(0.02):
                    if cancel.cancelled:
                        raise Cancelled("cancelled")
            if cancel.cancelled:
                raise Cancelled("cancelled")
            time.sleep(delay)
            elapsed = time.monotonic() - start
            losses = {"total": 1.0 / step}
            remaining = delay * (steps - step)
            progress(IterationEvent(1, 1, photo.size, step, steps, step, steps, losses, elapsed, remaining))
            progress(PreviewEvent(step, photo))
        progress(DoneEvent(time.monotonic() - start, {"total": 0.1}))
        if size is None:  # as the engines: fast keeps the photo's size, quality paints 512 px
            size = max(photo.size) if mode == "fast" else 512
        scale = size / max(photo.size)
        return photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))))


def worker_engine(content: Any, style: Any, **kwargs: Any) -> Image.Image:
    """The fake engine for worker processes: 2 fast steps, ``iterations`` (or 10) quality steps."""
    delays = {
        "fast": float(os.environ.get("SCALE_STEP_FAST", "0.01")),
        "quality": float(os.environ.get("SCALE_STEP_QUALITY", "0.25")),
    }
    return FakeEngine(steps=10, fast_steps=2, delays=delays)(content, style, **kwargs)
