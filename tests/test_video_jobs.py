"""Video jobs through the REST API and the pages, on the in-process workers: a clip in (limits checked
at upload), progress by frame with the painted frame as preview, cancel, the painted clip served
for a ``<video>`` player, and a re-run after a stopped worker that paints only the missing frames.

The frames are painted by a stand-in (the photo's negative) so these tests take seconds; the real
engine paints video jobs in ``test_scale.py`` (Celery) and clips in ``test_video.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.clips import make_clip, shapes
from support.images import png
from support.web import as_browser, client_for, forms_without_token, wait_for

from impasto.service.config import Settings
from impasto.service.jobs import lifecycle
from impasto.service.jobs.clips import VideoOptions
from impasto.service.jobs.core import StyleRef, create_job
from impasto.service.storage.db import Database
from impasto.service.storage.models import JobKind, Status
from impasto.service.storage.store import BlobPins, FileStore
from impasto.service.workers.sweep import sweep
from impasto.video import pipeline as video_pipeline

FRAMES = 6


class Painter:
    """Stands in for the engine per frame: counts the frames it paints; ``hold_at`` (1-based) makes
    that frame wait until its run is cancelled (a worker stopping mid-clip)."""

    def __init__(self) -> None:
        self.calls = 0
        self.weights: list[float] = []  # of the styles the clip is painted in
        self.hold_at: int | None = None
        self.holding = threading.Event()

    def __call__(self, painter: Any, rgb: np.ndarray, init: np.ndarray | None) -> np.ndarray:
        self.calls += 1
        self.weights = [round(style.weight, 3) for style in painter.styles]
        if self.calls == self.hold_at:
            self.holding.set()
            while not (painter.cancel is not None and painter.cancel.cancelled):
                threading.Event().wait(0.01)
        return np.ascontiguousarray(255 - rgb)


@pytest.fixture
def painter(monkeypatch: pytest.MonkeyPatch) -> Painter:
    fake = Painter()
    monkeypatch.setattr(
        video_pipeline.FramePainter, "__call__", lambda self, rgb, init: fake(self, rgb, init)
    )
    return fake


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    return make_clip(tmp_path / "walk.mp4", [shapes(i) for i in range(FRAMES)], audio="aac").read_bytes()


def app(tmp_path: Path, **settings: Any) -> TestClient:
    return client_for(tmp_path, f"sqlite:///{tmp_path / 'video.db'}", None, **settings)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with app(tmp_path) as c:
        yield as_browser(c)  # an identity with its CSRF token, as the pages have


def upload(client: TestClient, data: bytes, name: str = "walk.mp4", **fields: str) -> Any:
    form = {"style_name": "starry-night", **fields}
    return client.post("/api/v1/videos", files={"video": (name, data, "video/mp4")}, data=form)


def decoded(data: bytes, tmp_path: Path, suffix: str = "mp4") -> tuple[list[np.ndarray], str | None]:
    path = tmp_path / f"got.{suffix}"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames, audio


def events(client: TestClient, job_id: str) -> list[dict[str, Any]]:
    text = client.get(f"/api/v1/jobs/{job_id}/events").text
    found = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    return [e for e in found if "kind" in e]  # not the stream's own end


def test_a_clip_is_painted_frame_by_frame_and_served_for_a_player(
    client: TestClient, painter: Painter, clip: bytes, tmp_path: Path
) -> None:
    created = upload(client, clip, stability="0.5", strength="0.7", brush="broad", preserve_color="luminance")
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["kind"] == "video" and job["mode"] == "fast" and job["content_name"] == "walk.mp4"
    assert job["options"] == {
        "mode": "fast",
        "preserve_color": "luminance",
        "strength": 0.7,
        "brush": "broad",
        "stability": 0.5,
        "flow": True,
        "format": "mp4",
    }
    assert created.headers["location"] == f"/api/v1/jobs/{job['id']}"
    done = wait_for(client, job["id"])
    assert done["status"] == "succeeded", done
    assert done["result"] == {"width": 64, "height": 48} and done["attempts"] == 1
    assert painter.calls == FRAMES

    seen = events(client, job["id"])
    steps = [e for e in seen if e["kind"] == "iteration"]
    assert [(e["step"], e["steps"]) for e in steps][-1] == (FRAMES, FRAMES)
    previews = [e for e in seen if e["kind"] == "preview"]
    assert previews and client.get(previews[-1]["url"]).headers["content-type"] == "image/jpeg"
    summary = next(e for e in seen if e["kind"] == "video")
    assert summary | {"id": 0, "at": ""} == {
        "kind": "video",
        "frames": FRAMES,
        "painted": FRAMES,
        "resumed": 0,
        "fps": 12.0,
        "size": [64, 48],
        "audio": "copied",
        "format": "mp4",
        "id": 0,
        "at": "",
    }

    video = client.get(done["links"]["video"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.headers["accept-ranges"] == "bytes"
    frames, audio = decoded(video.content, tmp_path)
    assert len(frames) == FRAMES and frames[0].shape == (48, 64, 3) and audio == "aac"
    with av.open(str(tmp_path / "got.mp4")) as container:  # what browsers play
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    part = client.get(done["links"]["video"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == video.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(video.content)}"
    tail = client.get(done["links"]["video"], headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == video.content[-10:]
    past = client.get(done["links"]["video"], headers={"Range": f"bytes={len(video.content)}-"})
    assert past.status_code == 416
    download = client.get(f"{done['links']['video']}?download=true")
    assert download.headers["content-disposition"] == 'attachment; filename="walk-starry-night-video.mp4"'
    original = client.get(f"{done['links']['source']}?download=true").headers["content-disposition"]
    assert original == 'attachment; filename="walk-original.mp4"'
    source = client.get(done["links"]["source"])
    assert source.content == clip and source.headers["content-type"] == "video/mp4"
    for kind in ("content", "result", "preview"):  # first frames: every picture link works as for photos
        picture = client.get(f"/api/v1/jobs/{job['id']}/images/{kind}?thumb=64")
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"

    page = client.get(f"/jobs/{job['id']}/result")
    assert page.status_code == 200
    assert '<video id="painted-video" controls' in page.text
    assert forms_without_token(page.text) == [] and forms_without_token(client.get("/video").text) == []
    assert f'src="/api/v1/jobs/{job["id"]}/video"' in page.text and "?download=true" in page.text
    assert 'data-kind="video"' in client.get(f"/jobs/{job['id']}").text
    assert "walk · video" in client.get("/history").text
    assert not list((tmp_path / "data" / "video-work").glob("*"))  # an ended job keeps no frames
    again = client.post(f"/jobs/{job['id']}/again", data={"strength": "0.5"}, follow_redirects=False)
    assert again.status_code == 422 and "upload the clip again" in again.text
    assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    assert client.get(done["links"]["video"]).status_code == 404


def test_two_styles_are_blended(client: TestClient, painter: Painter, clip: bytes) -> None:
    job = upload(client, clip, blend_style="shipwreck", blend="0.3").json()
    assert wait_for(client, job["id"])["status"] == "succeeded"
    assert painter.weights == [0.7, 0.3]
    job = upload(client, clip, blend_style="shipwreck").json()
    assert wait_for(client, job["id"])["status"] == "succeeded"
    assert painter.weights == [0.5, 0.5]


def test_a_gif_in_a_gif_out_shown_as_a_picture(
    client: TestClient, painter: Painter, clip: bytes, tmp_path: Path
) -> None:
    gif_in = make_clip(tmp_path / "walk.gif", [shapes(i) for i in range(FRAMES)], codec="gif")
    job = upload(client, gif_in.read_bytes(), "walk.gif", format="gif", flow="false").json()
    assert client.get(job["links"]["source"]).headers["content-type"] == "image/gif"
    done = wait_for(client, job["id"])
    assert done["status"] == "succeeded", done
    gif = client.get(done["links"]["video"])
    assert gif.headers["content-type"] == "image/gif"
    frames, audio = decoded(gif.content, tmp_path, "gif")
    assert len(frames) == FRAMES and audio is None
    page = client.get(f"/jobs/{job['id']}/result").text
    assert f'<img id="painted-video" src="/api/v1/jobs/{job["id"]}/video"' in page


def bad_clips(tmp_path: Path, clip: bytes) -> dict[str, bytes]:
    no_frames = tmp_path / "no-frames.webm"
    with av.open(str(no_frames), "w") as container:
        video: Any = container.add_stream("libvpx-vp9", rate=12)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    big = make_clip(tmp_path / "big.mp4", [np.zeros((200, 320, 3), np.uint8)] * 2)
    tiny = make_clip(tmp_path / "tiny.mp4", [np.full((2, 2, 3), 90, np.uint8)] * 3)
    long = make_clip(tmp_path / "long.mp4", [shapes(i % 10) for i in range(24)])  # 2 s
    return {
        "text": b"just some words",
        "still": png(),
        "no-frames": no_frames.read_bytes(),
        "big": big.read_bytes(),
        "long": long.read_bytes(),
        "tiny": tiny.read_bytes(),
    }


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"video": "text"}, 422, "not a video Impasto can read"),
        ({"video": "still"}, 422, "a still image, not a video"),
        ({"video": "no-frames"}, 422, "no frames"),
        ({"video": "long"}, 422, "lasts 2.0 s, over the limit of 1 s (IMPASTO_VIDEO_MAX_SECONDS)"),
        ({"video": "many"}, 422, "has 6 frames, over the limit of 3 (IMPASTO_VIDEO_MAX_FRAMES)"),
        ({"video": "big"}, 422, "over the limit of 0.0 (IMPASTO_VIDEO_MAX_PIXELS)"),
        ({"video": "tiny"}, 422, "walk.mp4: a 2x2 clip painted is 2x2; Impasto paints 16 px or more a side"),
        ({"video": "two"}, 422, "send one clip per request (2 `video` parts came)"),
        ({"size": "1024"}, 422, "over the limit of 0.0 (IMPASTO_VIDEO_MAX_PIXELS)"),
        ({"video": "huge"}, 413, "the clip is larger than"),
        ({"video": "none"}, 422, "choose a clip to paint"),
        ({"stability": "1.5"}, 422, "'loc': ['stability'], 'msg': 'Input should be less than or equal to 1"),
        ({"format": "avi"}, 422, "Input should be 'mp4' or 'gif'"),
        ({"mode": "quality"}, 422, "Input should be 'fast'"),
        ({"style_name": "nope"}, 422, "no style named 'nope' in the gallery"),
        ({"blend_style": "nope"}, 422, "no style named 'nope' in the gallery"),
        ({"blend": "0.3"}, 422, "blend needs blend_style"),
        ({"content": "x"}, 422, "unknown field(s): content"),
    ],
)
def test_bad_uploads_are_refused_at_once_with_a_clear_message(
    tmp_path: Path, clip: bytes, fields: dict[str, str], status: int, message: str
) -> None:
    limits: dict[str, Any] = {}
    which = fields.pop("video", "good")
    if which == "long":
        limits["video_max_seconds"] = 1.0
    if which == "many":
        limits["video_max_frames"] = 3
    if which == "big" or "size" in fields:
        limits["video_max_pixels"] = 64 * 48 * 2  # the 64x48 clip itself fits
    data = {**bad_clips(tmp_path, clip), "good": clip, "many": clip, "huge": clip, "none": b"", "two": clip}[
        which
    ]
    if which == "huge":
        limits["max_video_bytes"] = len(clip) - 1
    with app(tmp_path, **limits) as client:
        if which == "two":  # two clips: the second was dropped without a word (issue 22)
            files = [("video", ("walk.mp4", clip, "video/mp4")), ("video", ("b.mp4", clip, "video/mp4"))]
            refused = client.post("/api/v1/videos", files=files, data={"style_name": "starry-night"})
        else:
            refused = upload(client, data, **fields)
        assert refused.status_code == status, refused.text
        assert message in str(refused.json()["detail"]), refused.text
        assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing stored, nothing queued


def test_cancel_stops_within_a_frame_and_keeps_no_clip(
    client: TestClient, painter: Painter, clip: bytes, tmp_path: Path
) -> None:
    painter.hold_at = 3  # frame 3 is being painted when the cancel comes
    job = upload(client, clip).json()
    assert painter.holding.wait(60)
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 202
    done = wait_for(client, job["id"])
    assert done["status"] == "cancelled" and done["result"] is None and "video" not in done["links"]
    assert painter.calls == 3  # not one frame more
    missing = client.get(f"/api/v1/jobs/{job['id']}/video")
    assert missing.status_code == 404 and missing.json()["detail"] == "this job has no painted clip (yet)"
    work = tmp_path / "data" / "video-work"
    assert not list(work.glob("*")) and not list(work.rglob("*.part"))


def test_a_worker_stopped_mid_clip_is_resumed_without_painting_a_frame_twice(
    tmp_path: Path, painter: Painter, clip: bytes
) -> None:
    """The in-process worker stops (the server shuts down) while frame 4 is being painted: the job
    goes back to the queue with frames 1-3 on disk, and the next start paints only frames 4-6."""
    painter.hold_at = 4
    with app(tmp_path) as client:
        job = upload(client, clip).json()
        assert painter.holding.wait(60)
        identity = client.cookies["impasto_id"]  # the job's owner
    folder = tmp_path / "data" / "video-work" / job["id"]
    assert sorted(p.name for p in (folder / "frames").glob("frame-*.jpg")) == [
        "frame-000000.jpg",
        "frame-000001.jpg",
        "frame-000002.jpg",
    ]
    assert not list(folder.glob("painted*")) and not list(folder.glob(".painted*"))  # no half clip
    painter.calls, painter.hold_at = 0, None
    with app(tmp_path) as client:
        client.cookies.set("impasto_id", identity)
        interrupted = client.get(f"/api/v1/jobs/{job['id']}").json()
        done = wait_for(client, job["id"])
        assert done["status"] == "succeeded", (interrupted, done)
        assert painter.calls == FRAMES - 3  # frames 4, 5 and 6 only
        summary = next(e for e in events(client, job["id"]) if e["kind"] == "video")
        assert (summary["frames"], summary["painted"], summary["resumed"]) == (FRAMES, FRAMES - 3, 3)
        statuses = [e["status"] for e in events(client, job["id"]) if e["kind"] == "status"]
        assert statuses == ["queued", "running", "queued", "running", "succeeded"]
        frames, _ = decoded(client.get(done["links"]["video"]).content, tmp_path)
        assert len(frames) == FRAMES
        # the resumed frames are the painted ones (negatives), not the clip's
        source, _ = decoded(client.get(done["links"]["source"]).content, tmp_path)
        assert np.abs(frames[0].astype(int) - (255 - source[0].astype(int))).mean() < 12
    assert not folder.exists()


def test_the_video_page_makes_a_job_and_comes_back_with_the_message(
    client: TestClient, painter: Painter, clip: bytes
) -> None:
    page = client.get("/video")
    assert page.status_code == 200 and 'name="video"' in page.text and 'name="stability"' in page.text
    assert 'href="/video"' in client.get("/").text
    fields = {
        "style_source": "gallery",
        "style_name": "starry-night",
        "flow": "false",
        "size": "",
        "save": "",
    }
    files = {"video": ("walk.mp4", clip, "video/mp4")}
    made = client.post("/video", data=fields, files=files, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].startswith("/jobs/")
    job = wait_for(client, made.headers["location"].rsplit("/", 1)[1])
    assert job["options"]["flow"] is False and job["status"] == "succeeded"
    refused = client.post("/video", data=fields, files={"video": ("notes.txt", b"words", "text/plain")})
    assert refused.status_code == 422 and "notes.txt: not a video" in refused.text
    assert 'value="false" selected' in refused.text  # the choices stay


def test_the_sweep_deletes_work_folders_of_jobs_that_ended_or_are_gone(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'sweep.db'}")
    db.migrate()
    settings = Settings(data_dir=tmp_path / "data")
    options = VideoOptions()
    style, video = StyleRef("starry-night"), JobKind.VIDEO
    queued, ended = (
        create_job(db, content_sha="0" * 64, style=style, options=options, kind=video) for _ in range(2)
    )
    lifecycle.move(db, ended.id, Status.CANCELLED)
    root = settings.video_work_dir
    for name in (queued.id, ended.id, "f" * 32):  # the last: a job deleted meanwhile
        (root / name / "frames").mkdir(parents=True)
    (root / "not-a-job").mkdir()
    report = sweep(db, FileStore(tmp_path / "blobs"), BlobPins(), settings)
    assert report.work_folders_deleted == 2
    assert sorted(p.name for p in root.iterdir()) == sorted([queued.id, "not-a-job"])
    db.dispose()


def test_a_shared_clip_is_revalidated_so_a_revoke_holds_at_once(
    client: TestClient, painter: Painter, clip: bytes
) -> None:
    """As the shared pictures: a shared clip was cacheable for an hour after its link was revoked."""
    job = wait_for(client, upload(client, clip).json()["id"])
    link = client.post(f"/api/v1/jobs/{job['id']}/shares", json={}).json()
    stranger = TestClient(client.app, base_url=str(client.base_url))
    first = stranger.get(f"{link['url']}/video")
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    again = {"If-None-Match": first.headers["etag"]}
    assert stranger.get(f"{link['url']}/video", headers=again).status_code == 304
    assert client.delete(f"/api/v1/jobs/{job['id']}/shares/{link['token']}").status_code == 204
    assert stranger.get(f"{link['url']}/video", headers=again).status_code == 404
