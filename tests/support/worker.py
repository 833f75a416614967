"""``python -m support.worker ARGS``: ``impasto worker ARGS`` running the stand-in engine
:func:`support.fakes.worker_engine`. Tests inject the engine here, as a parameter, so production
code has no engine switch. ``SCALE_VIDEO_FRAME`` (seconds) makes each frame of a video job take at
least that long (the real engine paints it), so a test can stop a worker mid-clip on any machine."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from impasto.cli import build_parser
from impasto.cli.worker import run
from impasto.video import pipeline
from support.fakes import worker_engine


def slow_frames(seconds: float) -> None:
    paint = pipeline.FramePainter.__call__

    def slowly(self: pipeline.FramePainter, rgb: Any, init: Any) -> Any:
        time.sleep(seconds)
        return paint(self, rgb, init)

    pipeline.FramePainter.__call__ = slowly  # type: ignore[method-assign]


if __name__ == "__main__":
    if os.environ.get("SCALE_VIDEO_FRAME"):
        slow_frames(float(os.environ["SCALE_VIDEO_FRAME"]))
    sys.exit(run(build_parser().parse_args(["worker", *sys.argv[1:]]), stylize=worker_engine))
