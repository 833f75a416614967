"""A stand-in engine for Celery worker processes in tests and benchmarks (``IMPASTO_ENGINE=
scale_engine:stylize`` with ``tests`` on ``PYTHONPATH``): paints nothing, but takes a set time per
step, reports progress and previews like an engine, names its process, and obeys cancellation.

``SCALE_STEP_FAST`` / ``SCALE_STEP_QUALITY``: seconds per step (default 0.01 / 0.25); steps are
``iterations`` (quality) or 2 (fast).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from impasto.errors import Cancelled
from impasto.imageio import load_image
from impasto.progress import CancelToken, DoneEvent, IterationEvent, PreviewEvent, StageEvent


def stylize(
    content: Any,
    style: Any,
    *,
    progress: Callable[[Any], None],
    cancel: CancelToken,
    mode: str = "fast",
    size: int = 512,
    iterations: int | None = None,
    **_: Any,
) -> Image.Image:
    photo = load_image(content)
    progress(StageEvent("painting", f"pid {os.getpid()}"))
    steps = (iterations or 10) if mode == "quality" else 2
    delay = float(os.environ.get(f"SCALE_STEP_{mode.upper()}", "0.25" if mode == "quality" else "0.01"))
    start = time.monotonic()
    for step in range(1, steps + 1):
        if cancel.cancelled:
            raise Cancelled("cancelled")
        time.sleep(delay)
        elapsed = time.monotonic() - start
        progress(
            IterationEvent(1, 1, photo.size, step, steps, step, steps, {"total": 1.0 / step}, elapsed, 0.0)
        )
        progress(PreviewEvent(step, photo))
    progress(DoneEvent(time.monotonic() - start, {"total": 0.1}))
    scale = size / max(photo.size)
    return photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))))
