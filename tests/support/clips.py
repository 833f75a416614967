"""Tiny clips the video tests make with PyAV itself (not Impasto's writer): moving shapes, optional
sound, rotation and timing."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image


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


class _Pipe(io.RawIOBase):
    """A file that cannot seek: what a muxer writes when it streams (no duration, no index)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)


def _encode(container: Any, codec: str, sides: list[tuple[int, int]], fps: int) -> None:
    stream: Any = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = *sides[0], "yuv420p"
    for i, (width, height) in enumerate(sides):
        rgb = np.full((height, width, 3), (i * 7) % 200, np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def raw_h264(width: int, height: int, frames: int, fps: int = 12) -> bytes:
    """A raw H.264 stream: no container, so no duration and no frame count in any header."""
    out = io.BytesIO()
    with av.open(out, "w", format="h264") as container:
        _encode(container, "libx264", [(width, height)] * frames, fps)
    return out.getvalue()


def streamed(frames: int, fps: int = 12, fmt: str = "matroska", codec: str = "libx264") -> bytes:
    """A clip muxed as a live stream is (to a pipe): no duration, no index."""
    pipe = _Pipe()
    with av.open(pipe, "w", format=fmt) as container:
        _encode(container, codec, [(64, 48)] * frames, fps)
    return bytes(pipe.data)


def many_frame_gif(frames: int, side: int = 4) -> bytes:
    """An animated GIF of ``frames`` tiny frames (each a different colour, so none is merged)."""
    pictures = [Image.new("RGB", (side, side), (i % 256, i // 256 % 256, 9)) for i in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=20, loop=0)
    return out.getvalue()


def sound_only(seconds: float = 1.0) -> bytes:
    """An MP4 with a sine tone and no video track."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        sound: Any = container.add_stream("aac", rate=24000)
        sound.layout = "mono"
        t = np.arange(int(24000 * seconds)) / 24000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = av.AudioFrame.from_ndarray(
                samples[None, start : start + 1024], format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 24000, start
            for packet in sound.encode(chunk):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)
    return out.getvalue()
