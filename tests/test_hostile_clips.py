"""Hostile clips at upload (issue 22, item 7): each class gets a clear 4xx before anything is stored,
or becomes a working job. Limits hold for what a clip holds, not what its header says: a raw stream
or a streamed MKV has no duration and no frame count in any header, a stream may grow mid-clip;
the upload reads every packet (and decodes keyframes alone) to know. No message names a server path."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.clips import make_clip, many_frame_gif, raw_h264, shapes, sound_only, streamed
from support.images import png
from support.web import as_browser, client_for, wait_for

from impasto.errors import VideoError
from impasto.video import VideoLimits, VideoReader
from impasto.video import io as video_io
from impasto.video import pipeline as video_pipeline

#: the service's limits for these tests: small, so the clips are tiny and quick to make
LIMITS = {"video_max_seconds": 10.0, "video_max_frames": 200, "video_max_pixels": 256 * 256}


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(  # each frame "painted" at once: these tests are about intake, not painting
        video_pipeline.FramePainter, "__call__", lambda self, rgb, init: np.ascontiguousarray(255 - rgb)
    )
    with client_for(tmp_path, f"sqlite:///{tmp_path / 'clips.db'}", None, **LIMITS) as c:
        yield as_browser(c)


def upload(client: TestClient, data: bytes, name: str) -> Any:
    form = {"style_name": "starry-night"}
    return client.post("/api/v1/videos", files={"video": (name, data, "video/mp4")}, data=form)


def truncated(tmp_path: Path) -> bytes:
    whole = make_clip(tmp_path / "whole.mp4", [shapes(i) for i in range(12)]).read_bytes()
    return whole[: len(whole) // 3]


REFUSED: dict[str, tuple[str, Any, str]] = {
    # class: (file name, how to make it, what the message says)
    "zero bytes": ("empty.mp4", lambda tmp: b"", "choose a clip"),
    "text as .mp4": ("notes.mp4", lambda tmp: b"just some words, not a clip", "not a video Impasto can read"),
    "a still image": ("photo.mp4", lambda tmp: png(), "a still image, not a video"),
    "truncated MP4": ("cut.mp4", truncated, "cut.mp4: "),
    "sound only": ("song.mp4", lambda tmp: sound_only(), "no video track"),
    "a GIF of 10,000 frames": ("dots.gif", lambda tmp: many_frame_gif(10_000), "over the limit"),
    "a header declaring a huge frame": (
        "huge.h264",
        lambda tmp: raw_h264(320, 320, 2),
        "huge.h264: frames are 320x320 (0.1 megapixels), over the limit",
    ),
    "a stream that grows mid-clip": (
        "grows.h264",
        lambda tmp: raw_h264(64, 64, 3) + raw_h264(320, 320, 2),
        "grows.h264: frames are 320x320 (0.1 megapixels), over the limit",
    ),
    "an hour at 1 fps, 16 x 16, no duration": (
        "hour.h264",
        lambda tmp: raw_h264(16, 16, 3600, fps=1),
        "hour.h264: the clip lasts 11.0 s, over the limit of 10 s (IMPASTO_VIDEO_MAX_SECONDS)",
    ),
    "a streamed MKV, no duration": (
        "live.mkv",
        lambda tmp: streamed(12 * 12),  # 12 s at 12 fps
        "s, over the limit of 10 s (IMPASTO_VIDEO_MAX_SECONDS)",  # the first packet past 10 s
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_hostile_clip_is_refused_at_upload_with_its_reason(
    client: TestClient, tmp_path: Path, case: str
) -> None:
    name, make, message = REFUSED[case]
    r = upload(client, make(tmp_path), name)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and message in detail, detail
    assert str(tmp_path) not in detail and "/tmp" not in detail and "Traceback" not in detail
    assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing stored, nothing queued


WORKING: dict[str, tuple[str, Any, tuple[int, int]]] = {
    "odd sides, 255 x 191": (
        "odd.mp4",
        lambda tmp: make_clip(tmp / "odd.mp4", [shapes(i, 255, 191) for i in range(4)]).read_bytes(),
        (254, 190),  # H.264 in 4:2:0 needs even sides
    ),
    "WebM (VP8)": (
        "walk.webm",
        lambda tmp: make_clip(tmp / "w.webm", [shapes(i) for i in range(4)], codec="libvpx").read_bytes(),
        (64, 48),
    ),
    "a streamed MKV within the limits": ("live.mkv", lambda tmp: streamed(6), (64, 48)),
    "a raw H.264 stream within the limits": ("raw.h264", lambda tmp: raw_h264(64, 48, 5), (64, 48)),
}


@pytest.mark.parametrize("case", list(WORKING))
def test_an_unusual_but_honest_clip_is_painted(client: TestClient, tmp_path: Path, case: str) -> None:
    name, make, size = WORKING[case]
    r = upload(client, make(tmp_path), name)
    assert r.status_code == 201, r.text
    job = wait_for(client, r.json()["id"] if "id" in r.json() else r.json()["jobs"][0]["id"])
    assert job["status"] == "succeeded", job
    painted = client.get(f"/api/v1/jobs/{job['id']}/video")
    assert painted.status_code == 200
    with av.open(io.BytesIO(painted.content), "r") as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == size


def test_the_worker_names_a_clip_by_its_label_never_its_path(tmp_path: Path) -> None:
    """A clip the worker refuses (its limits are the worker's own) is named as the user named it:
    the job's error never shows where the server keeps it."""
    source = tmp_path / "video-work" / "0123" / "source"
    source.parent.mkdir(parents=True)
    source.write_bytes(raw_h264(64, 64, 3) + raw_h264(320, 320, 2))
    limits = VideoLimits(max_frame_pixels=100 * 100)
    with pytest.raises(VideoError) as refused:
        video_pipeline.stylize_video(source, "udnie", tmp_path / "out.mp4", limits=limits, label="walk.h264")
    assert str(refused.value).startswith("walk.h264: ") and str(tmp_path) not in str(refused.value)


def test_the_upload_decodes_keyframes_for_a_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clip of keyframes only is not decoded whole at upload: past KEY_FRAME_SECONDS the check
    only counts packets (and the worker checks every frame it paints)."""
    path = tmp_path / "grows.h264"
    path.write_bytes(raw_h264(64, 64, 3) + raw_h264(320, 320, 2))
    limits = VideoLimits(max_frame_pixels=256 * 256)
    with (
        VideoReader(path, limits, label="grows.h264", check=True) as reader,
        pytest.raises(VideoError, match="frames are 320x320"),
    ):
        reader.scan()
    monkeypatch.setattr(video_io, "KEY_FRAME_SECONDS", 0.0)
    with VideoReader(path, limits, label="grows.h264", check=True) as reader:
        assert reader.scan()[0] == 5  # every packet counted, no keyframe decoded
