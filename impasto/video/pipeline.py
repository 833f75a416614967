"""Paint a clip: decode → paint each frame → stabilise along the optical flow → encode.

One frame is in flight at a time (plus the previous painting, which the flow needs), so memory
does not grow with the clip's length. Every frame is painted with one style vector, computed
from the first frame (fast mode), so the style does not drift. With a work folder, each painted
frame is kept on disk and a rerun after a kill only paints the frames that are missing.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from .. import color, gallery
from ..api import MODES, prepare_colors
from ..device import select_device
from ..errors import Cancelled, OptionsError, VideoError
from ..fast import FastOptions, blend_vectors, run_fast
from ..fast.engine import image_key
from ..progress import (
    CancelToken,
    DoneEvent,
    IterationEvent,
    PreviewEvent,
    ProgressCallback,
    StageEvent,
    ignore,
)
from ..quality import QualityOptions, run_quality
from ..styles import Style, StyleSpec, resolve_styles
from .flow import Stabilizer
from .io import VideoLimits, VideoReader, VideoWriter, even_size, output_format
from .workdir import WorkFolder, file_key

#: Default share of the warped previous painting kept where the flow is trusted.
DEFAULT_STABILITY = 0.8
#: Quality mode paints each frame for seconds to minutes: only short clips (frames).
MAX_QUALITY_FRAMES = 250
#: Quality mode, frames after the first: iterations refining the warped previous painting.
QUALITY_FRAME_ITERATIONS = 8


@dataclass(frozen=True)
class VideoResult:
    path: Path
    frames: int  # frames written
    painted: int  # frames painted by this run (the others came from the work folder)
    size: tuple[int, int]
    fps: float
    seconds: float  # wall time of the run
    audio: str  # "none", "copied", "re-encoded (…)", "dropped (…)"


def _check_options(cls: type, mode: str, options: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise OptionsError(
            f"unknown option(s) for {mode} mode: {', '.join(unknown)} (known: {', '.join(sorted(names))})"
        )
    return cls(**options)


class FramePainter:
    """Paints one frame (an RGB array) with the engine, colour mode and styles of the whole clip."""

    def __init__(
        self,
        mode: str,
        styles: list[Style],
        color_mode: str,
        options: dict[str, Any],
        cancel: CancelToken | None,
    ) -> None:
        self.mode, self.styles, self.color_mode, self.cancel = mode, styles, color_mode, cancel
        self.vector: np.ndarray | None = None
        self.engine_styles: list[Style] | None = None
        if mode == "fast":
            self.options: Any = _check_options(FastOptions, mode, {**options, "size": None})
        else:
            # from the frame as it is: later frames refine the warped previous painting against
            # their own photo, and a palette-matched first frame would start the clip in other colours
            options = {"init": "content", **options}
            self.options = _check_options(QualityOptions, mode, options)
            self.refine = dataclasses.replace(
                self.options,
                multiscale=False,
                iterations=options.get("iterations") or QUALITY_FRAME_ITERATIONS,
            )

    def _first(self, photo: Image.Image) -> None:
        """Colour-prepare the styles against the first frame and fix the style vector."""
        _, self.engine_styles = prepare_colors(photo, self.styles, self.color_mode)
        if self.mode == "fast":
            device = str(select_device(self.options.device))
            photo_for_vector = color.prepare(photo, [], self.color_mode)[0]
            self.vector = blend_vectors(
                self.engine_styles, photo_for_vector, float(self.options.strength), device
            )

    def __call__(self, rgb: np.ndarray, init: np.ndarray | None) -> np.ndarray:
        photo = Image.fromarray(rgb)
        if self.engine_styles is None:
            self._first(photo)
        assert self.engine_styles is not None
        engine_photo = color.prepare(photo, [], self.color_mode)[0]
        if self.mode == "fast":
            painted = run_fast(
                engine_photo, self.engine_styles, self.options, ignore, self.cancel, self.vector
            )
        else:
            size = max(photo.size)
            if init is None:
                opts = dataclasses.replace(self.options, size=size)
            else:
                opts = dataclasses.replace(self.refine, size=size, init=Image.fromarray(init))
            painted = run_quality(engine_photo, self.engine_styles, opts, ignore, self.cancel).image
        if painted.size != photo.size:
            painted = painted.resize(photo.size, Image.Resampling.LANCZOS)
        return np.asarray(color.finish(painted, photo, self.color_mode).convert("RGB"))


def _fit(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The decoded frame at the output size (resized, or its odd last row/column dropped)."""
    height, width = rgb.shape[:2]
    out_w, out_h = size
    if (width, height) == (out_w, out_h):
        return rgb
    if width - out_w in (0, 1) and height - out_h in (0, 1):
        return np.ascontiguousarray(rgb[:out_h, :out_w])
    shrink = out_w < width
    return cv2.resize(rgb, (out_w, out_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def output_size(width: int, height: int, size: int | None) -> tuple[int, int]:
    if size is not None:
        scale = size / max(width, height)
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
    return even_size(width, height)


def stylize_video(
    source: str | os.PathLike[str],
    style: StyleSpec,
    output: str | os.PathLike[str],
    *,
    mode: str = "fast",
    style_weights: Sequence[float] | None = None,
    preserve_color: str | bool | None = "none",
    stability: float = DEFAULT_STABILITY,
    flow: bool = True,
    size: int | None = None,
    crf: int = 20,
    work_dir: str | os.PathLike[str] | None = None,
    keep_work: bool = False,
    limits: VideoLimits | None = None,
    max_quality_frames: int = MAX_QUALITY_FRAMES,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    label: str | None = None,
    **options: Any,
) -> VideoResult:
    """Paint the clip ``source`` in ``style`` and write it to ``output`` (.mp4, .mov or .gif).

    ``stability`` (0..1) is the share of the previous painted frame, warped along the optical flow,
    kept where the flow is trusted; ``flow=False`` paints every frame on its own. ``size`` is the
    output's long side (default: the clip's). ``work_dir`` keeps painted frames so a rerun after a
    kill or a cancel resumes; it is deleted after success unless ``keep_work``. Other keyword
    options go to the engine (fast: strength, tile_size, device, precision; quality: iterations, …).
    Progress: one :class:`IterationEvent` and one :class:`PreviewEvent` per frame. ``label`` names
    the clip in messages (default: its path; a server passes the uploaded file's name).
    """
    start = time.perf_counter()
    report = progress or ignore
    _check_video_options(mode, stability, crf, size)
    output_format(output)
    color_mode = color.check_mode(preserve_color)
    styles = resolve_styles(style, style_weights, by_name=gallery.style)
    painter = FramePainter(mode, styles, color_mode, options, cancel)
    limits = limits or VideoLimits.from_env()

    label = label or str(source)
    with VideoReader(source, limits, label=label) as reader:
        info = reader.info
        if mode == "quality" and (info.frames or 0) > max_quality_frames:
            raise VideoError(
                f"{label}: {info.frames} frames is too long for quality mode (at most {max_quality_frames}; "
                "use fast mode)"
            )
        out_size = output_size(info.width, info.height, size)
        limits.check_frame(label, *out_size)
        work = None
        if work_dir is not None:  # the painted frames of a run with the same input and options
            key = {
                "input": file_key(Path(source)),
                "styles": [(_style_key(s), s.weight) for s in styles],
                "mode": mode,
                "color": color_mode,
                "options": dataclasses.asdict(painter.options),
                "stability": stability,
                "flow": flow,
                "size": out_size,
            }
            work = WorkFolder(Path(work_dir), key)
        frames = _Frames(painter, Stabilizer(float(stability)) if flow else None, work, cancel)
        report(
            StageEvent(
                "loading",
                f"{info.width}x{info.height} at {float(info.fps):.3g} fps, ~{info.frames or '?'} frames, "
                f"painting at {out_size[0]}x{out_size[1]}",
            )
        )
        writer = VideoWriter(output, out_size, info.fps, reader.audio, crf=crf)
        index = -1
        try:
            report(
                StageEvent("painting", f"{mode} mode, stability {stability:g}" if flow else f"{mode} mode")
            )
            for frame in reader.frames(lambda packet: writer.write_audio(packet, reader.start)):
                index = frame.index
                if mode == "quality" and index >= max_quality_frames:
                    raise VideoError(f"{label}: too long for quality mode (over {max_quality_frames} frames)")
                out = frames.paint(index, _fit(frame.rgb, out_size))
                writer.write(out, frame.time)
                _report_frame(report, out, index, info.frames, frames.painted, time.perf_counter() - start)
            path = writer.finish()
        except BaseException:
            writer.abort()
            raise
    if work is not None and not keep_work:
        work.remove()
    seconds = time.perf_counter() - start
    report(DoneEvent(seconds, {}))
    return VideoResult(path, index + 1, frames.painted, out_size, float(info.fps), seconds, writer.audio_mode)


def _check_video_options(mode: str, stability: float, crf: int, size: int | None) -> None:
    if mode not in MODES:
        raise OptionsError(f"unknown mode {mode!r}: use fast or quality")
    if isinstance(stability, bool) or not isinstance(stability, int | float) or not 0 <= stability <= 1:
        raise OptionsError(f"stability must be a number from 0 to 1, got {stability!r}")
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise OptionsError(f"crf must be a whole number from 0 to 51, got {crf!r}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 8192):
        raise OptionsError(f"size must be a whole number of pixels from 16 to 8192, got {size!r}")


@dataclasses.dataclass
class _Frames:
    """One frame after another: taken from the work folder when a former run painted it, else
    painted from the frame and the previous painting warped along the flow (then kept there)."""

    painter: FramePainter
    stabilizer: Stabilizer | None
    work: WorkFolder | None
    cancel: CancelToken | None
    painted: int = 0

    def paint(self, index: int, rgb: np.ndarray) -> np.ndarray:
        _check(self.cancel, index)
        out = self.work.load(index, rgb.shape) if self.work is not None else None
        if out is not None:  # resumed
            if self.stabilizer is not None:
                self.stabilizer.remember(out, rgb)
            return out
        warped = self.stabilizer.prepare(rgb) if self.stabilizer is not None else None
        fresh = self.painter(rgb, warped[0] if warped is not None else None)
        _check(self.cancel, index)  # a cancelled engine returns early: do not keep its frame
        out = self.stabilizer.finish(fresh, warped) if self.stabilizer is not None else fresh
        self.painted += 1
        if self.work is not None:
            self.work.save(index, out)
        return out


def _report_frame(
    report: ProgressCallback, out: np.ndarray, index: int, frames: int | None, painted: int, elapsed: float
) -> None:
    """One step and one preview per frame; the time left from the frames painted (not resumed)."""
    total = max(frames or 0, index + 1)
    eta = elapsed / painted * (total - index - 1) if painted else None
    size = (out.shape[1], out.shape[0])
    report(IterationEvent(1, 1, size, index + 1, total, index + 1, total, {}, elapsed, eta))
    report(PreviewEvent(index + 1, Image.fromarray(out)))


def _style_key(style: Style) -> str:
    return image_key(style.image)


def _check(cancel: CancelToken | None, index: int) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled(f"video cancelled at frame {index + 1}")
