"""Tiny clips the video tests make with PyAV itself (not Impasto's writer): moving shapes, optional
sound, rotation and timing."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np


def shapes(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """A square moving right over a diagonal gradient, with a red marker in the top-left corner."""
    ys, xs = np.mgrid[0:height, 0:width]
    frame = np.stack([xs * 255 // width, ys * 255 // height, (xs + ys) * 127 // (width + height)], axis=2)
    frame = frame.astype(np.uint8)
    x = 4 + 3 * index
    frame[16:32, x : x + 16] = 255
    frame[:6, :6] = (255, 0, 0)
    return frame


def make_clip(
    path: Path,
    frames: list[np.ndarray],
    fps: int = 12,
    *,
    codec: str = "libx264",
    audio: str | None = None,
    rotation: int = 0,
    times: list[float] | None = None,
) -> Path:
    """Write ``frames`` with PyAV itself (not Impasto's writer); optional sine sound, rotation, timing."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream: Any = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        odd = width % 2 or height % 2  # 4:2:0 needs even sides, 4:4:4 does not
        stream.pix_fmt = "rgb8" if codec == "gif" else ("yuv444p" if odd else "yuv420p")
        if rotation:
            stream.set_display_rotation(rotation)
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        sound: Any = container.add_stream(audio, rate=24000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = round(times[i] * 1000) if times is not None else i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if sound is not None:
            seconds = len(frames) / fps
            t = np.arange(int(24000 * seconds)) / 24000
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, len(samples), 960):
                chunk = av.AudioFrame.from_ndarray(
                    samples[None, start : start + 960], format="fltp", layout="mono"
                )
                chunk.sample_rate = 24000
                chunk.pts = start
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return path
