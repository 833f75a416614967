"""Video: clips the tests make (moving shapes, a pan over the photo) in, painted clips out.

Frame count, frame rate, size, sound and timing must survive; bad clips get a clear error; a
cancelled or killed run resumes without repainting; and the optical-flow stabilisation must cut the
flicker measure on a panning clip by a clear margin.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image
from support.clips import make_clip, shapes

import impasto
from impasto.cli import main
from impasto.cli import video as cli_video
from impasto.errors import Cancelled, OptionsError, VideoError
from impasto.progress import CancelToken, Event, IterationEvent, PreviewEvent
from impasto.video import FlickerMeter, VideoLimits, VideoReader
from impasto.video import pipeline as video_pipeline
from impasto.video.flow import FlowEstimator, gray

ROOT = Path(__file__).resolve().parents[1]


def pan(photo: Image.Image, count: int, step: int = 2) -> list[np.ndarray]:
    """A camera panning right across the photo (64×48 windows of the photo at twice its size)."""
    big = np.asarray(photo.resize((photo.width * 2, photo.height * 2), Image.Resampling.LANCZOS))
    return [np.ascontiguousarray(big[20:68, 10 + step * i : 74 + step * i]) for i in range(count)]


def read(path: Path) -> tuple[dict[str, Any], list[np.ndarray], list[float]]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        info = {
            "fps": video.average_rate,
            "size": (video.codec_context.width, video.codec_context.height),
            "audio": container.streams.audio[0].codec_context.name if container.streams.audio else None,
        }
        frames, times = [], []
        for frame in container.decode(video):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.time or 0.0))
    return info, frames, times


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def test_a_painted_clip_keeps_frames_rate_size_and_sound(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", [shapes(i) for i in range(12)], fps=12, audio="aac")
    events: list[Event] = []
    result = impasto.stylize_video(clip, "starry-night", tmp_path / "out.mp4", progress=events.append)
    info, frames, _ = read(result.path)
    assert (len(frames), info["fps"], info["size"]) == (12, 12, (64, 48))
    assert (result.frames, result.painted, result.audio) == (12, 12, "copied")
    assert audio_packets(result.path) == audio_packets(clip)  # the sound, packet for packet
    steps = [e.step for e in events if isinstance(e, IterationEvent)]
    assert steps == list(range(1, 13))
    assert sum(isinstance(e, PreviewEvent) for e in events) == 12
    assert not np.allclose(frames[5].astype(float), shapes(5).astype(float), atol=30)  # it was painted
    assert not list(tmp_path.glob(".*part"))


def test_every_fast_option_with_a_gif_in_and_out(tmp_path: Path, starry: Image.Image) -> None:
    style = tmp_path / "starry.png"
    starry.save(style)
    clip = make_clip(tmp_path / "in.gif", [shapes(i) for i in range(6)], fps=10, codec="gif")
    result = impasto.stylize_video(
        clip,
        [str(style), "the-scream"],
        tmp_path / "out.gif",
        style_weights=[0.7, 0.3],
        strength=0.6,
        preserve_color="luminance",
        stability=0.5,
        size=48,
    )
    info, frames, times = read(result.path)
    assert (len(frames), info["size"]) == (6, (48, 36))
    assert times == pytest.approx([i / 10 for i in range(6)], abs=0.011)


def test_webm_and_mov_in_mp4_out_and_variable_frame_rate_timing_kept(tmp_path: Path) -> None:
    webm = make_clip(
        tmp_path / "in.webm", [shapes(i) for i in range(5)], fps=10, codec="libvpx-vp9", audio="libopus"
    )
    result = impasto.stylize_video(webm, "udnie", tmp_path / "from-webm.mp4", flow=False)
    info, frames, _ = read(result.path)
    assert (len(frames), info["audio"], result.audio) == (5, "opus", "copied")

    mov = make_clip(tmp_path / "in.mov", [shapes(i) for i in range(3)], audio="pcm_s16le")
    result = impasto.stylize_video(mov, "udnie", tmp_path / "from-mov.mp4", flow=False)
    info, frames, _ = read(result.path)  # MP4 cannot hold PCM: the sound is re-encoded, not lost
    assert (len(frames), info["audio"], result.audio) == (3, "aac", "re-encoded (pcm_s16le → aac)")

    times = [0.0, 0.1, 0.15, 0.4, 0.45, 0.9]  # a phone's variable frame rate
    vfr = make_clip(tmp_path / "vfr.mp4", [shapes(i) for i in range(6)], times=times)
    result = impasto.stylize_video(vfr, "udnie", tmp_path / "from-vfr.mp4")
    _, frames, out_times = read(result.path)
    assert len(frames) == 6
    assert out_times == pytest.approx(times, abs=0.002)


def test_phone_rotation_is_applied_and_odd_sides_made_even(tmp_path: Path) -> None:
    odd = [np.ascontiguousarray(shapes(i, 65, 49)) for i in range(3)]
    clip = make_clip(tmp_path / "portrait.mp4", odd, rotation=90)
    with VideoReader(clip, VideoLimits()) as reader:
        assert (reader.info.width, reader.info.height, reader.info.rotation) == (49, 65, 90)
        upright = next(reader.frames()).rgb
    assert upright.shape == (65, 49, 3)
    # the red marker of the top-left corner, turned a quarter counter-clockwise: bottom-left
    assert upright[-4:, :4, 0].mean() > 180 and upright[-4:, :4, 1].mean() < 90
    result = impasto.stylize_video(clip, "udnie", tmp_path / "out.mp4")
    assert read(result.path)[0]["size"] == (48, 64) and result.frames == 3


def test_quality_mode_paints_short_clips_from_the_warped_previous_frame(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", [shapes(i, 32, 24) for i in range(3)])
    inits: list[object] = []
    real = video_pipeline.FramePainter.__call__

    def spy(self: video_pipeline.FramePainter, rgb: np.ndarray, init: np.ndarray | None) -> np.ndarray:
        inits.append(None if init is None else init.shape)
        return real(self, rgb, init)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(video_pipeline.FramePainter, "__call__", spy)
        result = impasto.stylize_video(
            clip, "udnie", tmp_path / "q.mp4", mode="quality", iterations=2, precision="float32"
        )
    assert result.frames == 3 and inits == [None, (24, 32, 3), (24, 32, 3)]
    with pytest.raises(VideoError, match="quality mode"):
        impasto.stylize_video(clip, "udnie", tmp_path / "q2.mp4", mode="quality", max_quality_frames=2)


def bad_clips(tmp_path: Path) -> dict[str, Path]:
    good = make_clip(tmp_path / "good.mp4", [shapes(i) for i in range(12)])
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    still = tmp_path / "still.png"
    Image.fromarray(shapes(0)).save(still)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    sound = tmp_path / "sound.m4a"
    with av.open(str(sound), "w", format="mp4") as container:
        stream: Any = container.add_stream("aac", rate=24000)
        stream.layout = "mono"
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 24000, 0
        for packet in [*stream.encode(chunk), *stream.encode(None)]:
            container.mux(packet)
    no_frames = tmp_path / "no-frames.webm"  # Matroska keeps a track that has no frames
    with av.open(str(no_frames), "w") as container:
        video: Any = container.add_stream("libvpx-vp9", rate=12)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()  # the header, then nothing
    return {
        "good": good,
        "text": text,
        "still": still,
        "truncated": truncated,
        "empty": empty,
        "sound": sound,
        "no-frames": no_frames,
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("text", "not a video"),
        ("still", "still image"),
        ("truncated", "damaged or truncated"),
        ("empty", "empty file"),
        ("sound", "no video track"),
        ("no-frames", "no frames"),
        ("missing", "no such file"),
    ],
)
def test_bad_clips_get_a_clear_error(tmp_path: Path, name: str, message: str) -> None:
    clips = bad_clips(tmp_path)
    path = clips.get(name, tmp_path / "missing.mp4")
    with pytest.raises(VideoError, match=message):
        impasto.stylize_video(path, "udnie", tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".out.mp4*"))


def test_limits_are_refused_with_the_setting_to_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "in.mp4", [shapes(i) for i in range(12)], fps=12)
    out = tmp_path / "out.mp4"
    with pytest.raises(VideoError, match=r"12 frames.*IMPASTO_VIDEO_MAX_FRAMES"):
        impasto.stylize_video(clip, "udnie", out, limits=VideoLimits(max_frames=5))
    with pytest.raises(VideoError, match="IMPASTO_VIDEO_MAX_SECONDS"):
        impasto.stylize_video(clip, "udnie", out, limits=VideoLimits(max_seconds=0.25))
    monkeypatch.setenv("IMPASTO_VIDEO_MAX_PIXELS", "1000")
    with pytest.raises(VideoError, match=r"64x48.*IMPASTO_VIDEO_MAX_PIXELS"):
        impasto.stylize_video(clip, "udnie", out)
    monkeypatch.delenv("IMPASTO_VIDEO_MAX_PIXELS")
    for bad in ({"stability": 1.5}, {"crf": 60}, {"size": 4}, {"mode": "slow"}, {"brush_size": 3}):
        with pytest.raises(OptionsError):
            impasto.stylize_video(clip, "udnie", out, **bad)
    with pytest.raises(VideoError, match=r"\.mp4, \.mov or \.gif"):
        impasto.stylize_video(clip, "udnie", tmp_path / "out.avi")
    assert not out.exists()


def test_cli_paints_a_clip_and_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "in.mp4", [shapes(i) for i in range(4)], audio="aac")
    out = tmp_path / "out.mp4"
    options = ["-q", "--strength", "0.8", "--brush", "broad"]
    assert main(["video", str(clip), "udnie", "-o", str(out), *options]) == 0
    printed = capsys.readouterr().out
    assert "4 frames" in printed and "audio copied" in printed
    assert len(read(out)[1]) == 4 and not (tmp_path / "out.mp4.frames").exists()
    assert main(["video", str(tmp_path / "nope.mp4"), "udnie", "-o", str(out)]) == 2
    assert main(["video", str(clip), "udnie", "-o", str(out), "--iterations", "3"]) == 2
    assert main(["video", str(clip), "udnie", "-o", str(out), "--mode", "quality", "--brush", "fine"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("impasto: error:") for line in err)


def test_cancel_stops_and_a_rerun_paints_only_the_missing_frames(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", [shapes(i) for i in range(10)])
    out, work = tmp_path / "out.mp4", tmp_path / "work"
    token = CancelToken()

    def stop_after_four(event: Event) -> None:
        if isinstance(event, IterationEvent) and event.step == 4:
            token.cancel()

    with pytest.raises(Cancelled):
        impasto.stylize_video(clip, "udnie", out, work_dir=work, progress=stop_after_four, cancel=token)
    assert not out.exists() and not list(tmp_path.glob(".out.mp4*"))
    assert len(list(work.glob("frame-*.jpg"))) == 4
    result = impasto.stylize_video(clip, "udnie", out, work_dir=work)
    assert (result.frames, result.painted) == (10, 6)
    assert len(read(out)[1]) == 10 and not work.exists()
    # other options are another painting: the work folder starts over
    with pytest.raises(Cancelled):
        impasto.stylize_video(clip, "udnie", out, work_dir=work, progress=stop_after_four, cancel=token)
    assert impasto.stylize_video(clip, "udnie", out, work_dir=work, stability=0.3).painted == 10


def _start_and_stop(cmd: list[str], work: Path, frames: int, sig: signal.Signals) -> subprocess.Popen[str]:
    """Run ``cmd`` until ``work`` holds ``frames`` painted frames, then send ``sig``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(list(work.glob("frame-*.jpg"))) < frames and proc.poll() is None:
            assert time.monotonic() < deadline, "no painted frames after 300 s"
            time.sleep(0.05)
        assert proc.poll() is None, f"the run ended before it could be stopped: {proc.stderr}"
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc


def test_ctrl_c_and_a_killed_run_resume_without_repainting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "in.mp4", [shapes(i, 128, 96) for i in range(24)])
    out, work = tmp_path / "out.mp4", tmp_path / "out.mp4.frames"
    argv = ["video", str(clip), "udnie", "-o", str(out)]
    real_bar = cli_video.FrameBar.__call__

    def ctrl_c_at_frame_two(self: cli_video.FrameBar, event: Event) -> None:
        real_bar(self, event)
        if isinstance(event, IterationEvent) and event.step == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as mp:
        mp.setattr(cli_video.FrameBar, "__call__", ctrl_c_at_frame_two)
        assert main(argv) == 130
    assert "run the same command to resume" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out.mp4*"))
    before = len(list(work.glob("frame-*.jpg")))
    assert before == 2
    # a worker killed outright, in another process
    _start_and_stop([sys.executable, "-m", "impasto", *argv, "-q"], work, before + 2, signal.SIGKILL)
    kept = len(list(work.glob("frame-*.jpg")))
    assert before + 2 <= kept < 24 and not out.exists()
    result = impasto.stylize_video(clip, "udnie", out, work_dir=work)
    assert (result.frames, result.painted) == (24, 24 - kept)


def test_flow_warps_the_previous_frame_onto_the_current_one(photo: Image.Image) -> None:
    first, second = pan(photo, 2, step=3)
    motion = FlowEstimator().motion(gray(first), gray(second), second.shape[:2])
    warped = motion.warp(first)
    trusted = motion.mask > 0.99
    assert trusted.mean() > 0.6
    assert not trusted[:, -2:].any()  # the strip that came into view has no past
    err = np.abs(warped.astype(float) - second.astype(float))[trusted].mean()
    assert err < 0.4 * np.abs(first.astype(float) - second.astype(float)).mean()


def flicker(source: Path, painted: Path) -> float:
    meter = FlickerMeter()
    with VideoReader(source, VideoLimits()) as a, VideoReader(painted, VideoLimits()) as b:
        for frame, out in zip(a.frames(), b.frames(), strict=True):
            meter.add(frame.rgb, out.rgb)
    return meter.value


def test_stabilisation_cuts_flicker_on_a_panning_clip(tmp_path: Path, photo: Image.Image) -> None:
    clip = make_clip(tmp_path / "pan.mp4", pan(photo, 10))
    steady = impasto.stylize_video(clip, "starry-night", tmp_path / "steady.mp4", crf=10)
    raw = impasto.stylize_video(clip, "starry-night", tmp_path / "raw.mp4", flow=False, crf=10)
    with_flow, without = flicker(clip, steady.path), flicker(clip, raw.path)
    assert with_flow < 0.5 * without, (with_flow, without)
    print(f"flicker with flow {with_flow:.2f}, without {without:.2f}")


def _raw_h264(width: int, height: int, frames: int) -> bytes:
    """A raw H.264 stream (no container, no duration) of ``frames`` flat frames."""
    out = io.BytesIO()
    with av.open(out, "w", format="h264") as container:
        stream: Any = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), i * 40, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def test_the_frame_limit_holds_for_every_decoded_frame_not_the_header(tmp_path: Path) -> None:
    """Issue 22: a raw stream whose header says 64x64 but whose last frames were 8192x8192 was
    painted (server peak 1.15 GB). Each decoded frame is checked before it is converted."""
    grows = tmp_path / "grows.h264"
    grows.write_bytes(_raw_h264(64, 64, 3) + _raw_h264(256, 256, 2))
    sizes: list[tuple[int, ...]] = []
    with VideoReader(grows, VideoLimits(max_frame_pixels=100 * 100), label="grows.h264") as reader:
        assert (reader.info.width, reader.info.height) == (64, 64)  # what the header says
        with pytest.raises(VideoError) as refused:
            sizes.extend(frame.rgb.shape[:2] for frame in reader.frames())
    assert sizes == [(64, 64)] * 3
    assert str(refused.value) == (
        "grows.h264: frames are 256x256 (0.1 megapixels), over the limit of 0.0 (IMPASTO_VIDEO_MAX_PIXELS)"
    )
