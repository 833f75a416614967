"""Clips in and out through PyAV (FFmpeg), one frame at a time.

A clip is never held in memory: :class:`VideoReader` demuxes the input once, decodes each video
packet into upright RGB frames (phone rotation metadata applied) and hands every audio packet to
a sink as it passes, so :class:`VideoWriter` can mux the untouched audio packets interleaved with
the painted frames. Frame timestamps are carried over one by one, which keeps the frame count,
the frame rate and variable-frame-rate timing. Limits on duration, pixels per frame and frames are
checked against the container's header before decoding starts, and again while decoding (headers
can lie).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from .. import environment
from ..errors import VideoError

#: Audio codecs an MP4 file holds as they are; any other audio is re-encoded to AAC.
MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})
#: Output containers by suffix.
OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".gif": "gif"}
#: An upload's check decodes keyframes (for the picture size they bring) this long at most: a clip of
#: keyframes only would otherwise be decoded whole at upload; past it the worker checks every frame.
KEY_FRAME_SECONDS = 2.0
#: Containers FFmpeg opens that are still images, not clips.
STILL_FORMATS = ("image2", "_pipe", "tiff", "bmp")

AudioSink = Callable[[Any], None]  # an av.Packet of the audio track


def _env_number(name: str, default: float) -> float:
    value = environment.video_limit(name)
    return default if value is None else value


@dataclass(frozen=True)
class VideoLimits:
    """The largest clip Impasto agrees to paint (``IMPASTO_VIDEO_MAX_*`` override the defaults)."""

    max_seconds: float = 600.0
    max_frame_pixels: int = 3840 * 2160
    max_frames: int = 36_000

    @classmethod
    def from_env(cls) -> VideoLimits:
        return cls(
            max_seconds=_env_number("IMPASTO_VIDEO_MAX_SECONDS", cls.max_seconds),
            max_frame_pixels=int(_env_number("IMPASTO_VIDEO_MAX_PIXELS", cls.max_frame_pixels)),
            max_frames=int(_env_number("IMPASTO_VIDEO_MAX_FRAMES", cls.max_frames)),
        )

    def check_frame(self, label: str, width: int, height: int) -> None:
        if width * height > self.max_frame_pixels:
            raise VideoError(
                f"{label}: frames are {width}x{height} ({width * height / 1e6:.1f} megapixels), over the "
                f"limit of {self.max_frame_pixels / 1e6:.1f} (IMPASTO_VIDEO_MAX_PIXELS)"
            )

    def check_length(self, label: str, seconds: float | None, frames: int | None) -> None:
        if seconds is not None and seconds > self.max_seconds + 0.5:
            raise VideoError(
                f"{label}: the clip lasts {seconds:.1f} s, over the limit of {self.max_seconds:g} s "
                "(IMPASTO_VIDEO_MAX_SECONDS)"
            )
        if frames is not None and frames > self.max_frames:
            raise VideoError(
                f"{label}: the clip has {frames} frames, over the limit of {self.max_frames} "
                "(IMPASTO_VIDEO_MAX_FRAMES)"
            )


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a clip (``frames`` and ``seconds`` are the header's estimates)."""

    format: str
    codec: str
    width: int  # as displayed: after rotation
    height: int
    rotation: int  # degrees counter-clockwise applied to decoded frames (0, 90, 180, 270)
    fps: Fraction
    frames: int | None
    seconds: float | None
    audio: str | None  # audio codec name, None without a sound track


@dataclass(frozen=True)
class VideoFrame:
    index: int  # 0-based, in display order
    time: float  # seconds since the clip's start
    rgb: np.ndarray  # height × width × 3, uint8, upright


def rotate(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (degrees counter-clockwise, FFmpeg's display-matrix sign)."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


class VideoReader:
    """Open a clip, check it against ``limits``, then stream its frames (and audio packets)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        limits: VideoLimits,
        label: str | None = None,
        *,
        check: bool = False,
    ) -> None:
        """``check``: the reader only checks the clip (an upload): its decoder then allocates no
        picture over the limit at all, so frames it still held when a larger one came may be lost."""
        self.path = Path(path)
        self.label = label or str(path)
        self.limits = limits
        self.check = check
        if not self.path.is_file():
            raise VideoError(f"{self.label}: no such file")
        if self.path.stat().st_size == 0:
            raise VideoError(f"{self.label}: empty file")
        try:
            self.container: Any = av.open(str(self.path), "r", stream_options=_probe_options(limits))
        except av.EOFError:
            raise VideoError(
                f"{self.label}: the clip ends before its first frame (no frames, or cut short)"
            ) from None
        except av.FFmpegError as exc:
            if _looks_like_video(self.path):
                raise VideoError(f"{self.label}: damaged or truncated video ({_reason(exc)})") from None
            raise VideoError(f"{self.label}: not a video Impasto can read ({_reason(exc)})") from None
        try:
            self.info = self._probe()
        except BaseException:
            self.container.close()
            raise

    def _probe(self) -> VideoInfo:
        fmt = self.container.format.name
        if not self.container.streams.video:
            raise VideoError(f"{self.label}: no video track (is it a sound file?)")
        if any(fmt.endswith(s) or fmt == s for s in STILL_FORMATS):
            raise VideoError(f"{self.label}: a still image, not a video (MP4, WebM, MOV or animated GIF)")
        video = self.container.streams.video[0]
        video.thread_type = "AUTO"
        self.video = video
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        ctx = video.codec_context
        if not ctx.width or not ctx.height:
            raise VideoError(f"{self.label}: the video track has no picture size (damaged file?)")
        if self.check:
            _bounded(ctx, self.limits)
        fps = video.average_rate or video.guessed_rate or video.base_rate or Fraction(25)
        seconds = None
        if video.duration is not None and video.time_base is not None:
            seconds = float(video.duration * video.time_base)
        elif self.container.duration is not None:
            seconds = self.container.duration / av.time_base
        frames = video.frames or (round(seconds * fps) if seconds else None)
        self.limits.check_frame(self.label, ctx.width, ctx.height)
        self.limits.check_length(self.label, seconds, frames)
        # the rotation lives in the frames' display matrix: decode the first frame now, keep it
        self._packets: Iterator[Any] = self.container.demux([video] + ([self.audio] if self.audio else []))
        self._pending: list[Any] = []
        first = self._first_frame()
        rotation = round(float(first.rotation or 0.0) / 90) % 4 * 90
        width, height = (first.height, first.width) if rotation % 180 else (first.width, first.height)
        return VideoInfo(
            format=fmt,
            codec=ctx.name,
            width=width,
            height=height,
            rotation=rotation,
            fps=Fraction(fps),
            frames=frames or None,
            seconds=seconds,
            audio=self.audio.codec_context.name if self.audio is not None else None,
        )

    def _first_frame(self) -> Any:
        try:
            for packet in self._packets:
                if packet.stream is not self.video:
                    self._pending.append(packet)
                    continue
                frames = packet.decode()
                self._pending.extend(frames)
                if frames:
                    return frames[0]
        except av.FFmpegError as exc:
            raise VideoError(f"{self.label}: damaged or truncated video ({_reason(exc)})") from None
        raise VideoError(f"{self.label}: the video track has no frames")

    @property
    def start(self) -> float:
        """The clip's first timestamp, seconds: every output timestamp is relative to it."""
        start = self.container.start_time
        return start / av.time_base if start is not None else 0.0

    def _items(self) -> Iterator[Any]:
        """Audio packets and decoded video frames, in file order (the probe's first ones included)."""
        yield from self._pending
        self._pending = []
        for packet in self._packets:
            if packet.stream is self.video:
                yield from packet.decode()  # each frame checked in frames() before it is converted
            else:
                yield packet

    def scan(self) -> tuple[int, float | None]:
        """Read the whole video track as it is, not as its header says: every packet demuxed (not
        decoded) and counted with its timestamp, every keyframe decoded alone for the picture size
        it brings (a stream may grow mid-clip). Stops at the first packet over a limit, so it takes
        at most ``max_frames`` packets, and decodes keyframes for :data:`KEY_FRAME_SECONDS` at most
        (a clip of keyframes only; the worker checks every frame it paints); returns
        ``(frames, seconds)``."""
        started = time.monotonic()
        frames, first, last, seconds = 0, None, None, None
        try:
            with av.open(str(self.path), "r", stream_options=_probe_options(self.limits)) as container:
                video = container.streams.video[0]
                ctx = video.codec_context
                ctx.skip_frame, ctx.thread_count = "NONKEY", 1
                _bounded(ctx, self.limits)
                fps = float(video.guessed_rate or video.average_rate or self.info.fps)
                for packet in container.demux(video):
                    if not packet.size:
                        continue
                    frames += 1
                    stamp = packet.pts if packet.pts is not None else packet.dts
                    if stamp is not None and video.time_base is not None:
                        first = stamp if first is None else min(first, stamp)
                        last = stamp if last is None else max(last, stamp)
                        seconds = float((last - first) * video.time_base) + 1 / fps
                    else:
                        seconds = frames / fps
                    self.limits.check_length(self.label, seconds, frames)
                    if packet.is_keyframe and time.monotonic() - started < KEY_FRAME_SECONDS:
                        packet.decode()
                        self.limits.check_frame(self.label, ctx.width, ctx.height)
        except av.FFmpegError as exc:
            raise VideoError(
                f"{self.label}: damaged or truncated video after {frames} frames ({_reason(exc)})"
            ) from None
        return frames, seconds

    def frames(self, audio_sink: AudioSink | None = None) -> Iterator[VideoFrame]:
        """Decode frame after frame; audio packets go to ``audio_sink`` in file order."""
        index = 0
        fps = float(self.info.fps)
        try:
            for item in self._items():
                if isinstance(item, av.Packet):
                    if item.dts is not None and item.size and audio_sink is not None:
                        audio_sink(item)
                    continue
                when = item.time - self.start if item.time is not None else index / fps
                self.limits.check_length(self.label, when, index + 1)
                # every decoded frame, not the header's size: a stream may grow mid-clip (refused
                # before it is converted, painted or held)
                self.limits.check_frame(self.label, item.width, item.height)
                rgb = rotate(item.to_ndarray(format="rgb24"), self.info.rotation)
                yield VideoFrame(index, max(0.0, when), rgb)
                index += 1
        except av.FFmpegError as exc:
            raise VideoError(
                f"{self.label}: damaged or truncated video after {index} frames ({_reason(exc)})"
            ) from None

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _probe_options(limits: VideoLimits) -> Any:  # a dict per stream (PyAV's stubs say list[str])
    """Options for the decoders FFmpeg opens to probe a file: no picture over the limit is
    allocated (a header declaring 8192x8192 costs ~20 MB to read, not ~150 MB)."""
    return [{"max_pixels": str(limits.max_frame_pixels)}] * 16  # one per stream; more are ignored


def _bounded(ctx: Any, limits: VideoLimits) -> None:
    """The decoder allocates no picture larger than the limit (FFmpeg's ``max_pixels``): a stream
    that grows past it is refused from its new size, not after decoding a huge frame."""
    ctx.options = {**dict(ctx.options or {}), "max_pixels": str(limits.max_frame_pixels)}


def _looks_like_video(path: Path) -> bool:
    """The first bytes of an MP4/MOV, Matroska/WebM, GIF or AVI: a clip, if a broken one."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    return head[4:8] == b"ftyp" or head.startswith((b"\x1a\x45\xdf\xa3", b"GIF8", b"RIFF"))


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".") or type(exc).__name__


def output_format(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise VideoError(f"{path}: output must end in .mp4, .mov or .gif")
    return OUTPUT_FORMATS[suffix]


def even_size(width: int, height: int) -> tuple[int, int]:
    """H.264 in yuv420p needs even sides: drop the odd last column or row."""
    return max(2, width - width % 2), max(2, height - height % 2)


class VideoWriter:
    """Encode frames to MP4/MOV (H.264, yuv420p) or GIF, written to a temporary name then renamed.

    ``audio`` is the input's audio stream: its packets (see :meth:`write_audio`) are muxed as they
    are when the container can hold them, re-encoded to AAC otherwise, and dropped for GIF.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        size: tuple[int, int],
        fps: Fraction,
        audio: Any | None = None,
        crf: int = 20,
        preset: str = "veryfast",
    ) -> None:
        self.path = Path(path)
        self.format = output_format(self.path)
        self.size = size
        self.tmp = self.path.with_name(f".{self.path.name}.part")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.container: Any = av.open(str(self.tmp), "w", format=self.format)
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.path}: cannot write ({_reason(exc)})") from None
        width, height = size
        if self.format == "gif":
            self.time_base = Fraction(1, 100)
            self.stream = self.container.add_stream("gif", rate=fps)
            self.stream.pix_fmt = "pal8"
        else:
            self.time_base = Fraction(1, 90000)
            self.stream = self.container.add_stream("libx264", rate=fps)
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = {"crf": str(crf), "preset": preset}
        self.stream.width, self.stream.height = width, height
        self.stream.codec_context.time_base = self.time_base
        self.stream.time_base = self.time_base
        self.audio_mode = "none"
        self.audio_out: Any = None
        self.resampler: Any = None
        if audio is not None:
            self._add_audio(audio)
        self.last_pts = -1
        self.frames = 0

    def _add_audio(self, audio: Any) -> None:
        name = audio.codec_context.name
        if self.format == "gif":
            self.audio_mode = "dropped (GIF has no sound)"
        elif name in MP4_AUDIO:
            self.audio_out = self.container.add_stream_from_template(audio)
            self.audio_mode = "copied"
        else:
            rate = audio.codec_context.sample_rate or 48000
            out: Any = self.container.add_stream("aac", rate=rate)
            out.layout = audio.codec_context.layout.name
            self.audio_out = out
            self.resampler = av.AudioResampler(format="fltp", layout=out.layout, rate=rate)
            self.audio_mode = f"re-encoded ({name} → aac)"

    def write(self, rgb: np.ndarray, seconds: float) -> None:
        """Encode one frame shown at ``seconds`` after the start."""
        pts = max(round(seconds / self.time_base), self.last_pts + 1)
        self.last_pts = pts
        if self.format == "gif":
            frame = _palette_frame(rgb)
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = pts
        frame.time_base = self.time_base
        self._mux(self.stream.encode(frame))
        self.frames += 1

    def write_audio(self, packet: Any, start: float) -> None:
        """Carry one input audio packet over (timestamps moved by the clip's start, ``start`` s)."""
        if self.audio_out is None:
            return
        shift = round(start / packet.time_base) if packet.time_base else 0
        if self.resampler is not None:
            for frame in packet.decode():
                frame.pts = None
                for resampled in self.resampler.resample(frame):
                    self._mux(self.audio_out.encode(resampled))
            return
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self.audio_out
        self.container.mux(packet)

    def _mux(self, packets: list[Any]) -> None:
        for packet in packets:
            self.container.mux(packet)

    def finish(self) -> Path:
        """Flush the encoders, close the file and give it its name."""
        try:
            self._mux(self.stream.encode(None))
            if self.resampler is not None and self.audio_out is not None:
                for resampled in self.resampler.resample(None):
                    self._mux(self.audio_out.encode(resampled))
                self._mux(self.audio_out.encode(None))
            self.container.close()
        except av.FFmpegError as exc:
            self.abort()
            raise VideoError(f"{self.path}: cannot write ({_reason(exc)})") from None
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the partial file."""
        with contextlib.suppress(Exception):  # the file is being thrown away
            self.container.close()
        self.tmp.unlink(missing_ok=True)


def _palette_frame(rgb: np.ndarray) -> Any:
    """An 8-bit palette frame for GIF, with a palette of the frame's own colours."""
    img = Image.fromarray(rgb).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette = np.zeros((256, 4), dtype=np.uint8)
    colours = np.frombuffer(bytes(img.getpalette() or []), dtype=np.uint8).reshape(-1, 3)[:256]
    palette[: len(colours), 0] = 255
    palette[: len(colours), 1:] = colours
    pair: Any = (np.asarray(img, dtype=np.uint8), palette)
    return av.VideoFrame.from_ndarray(pair, format="pal8")
