"""Scale-out: the web node enqueues, Celery workers run the same jobs, over real Redis and
PostgreSQL on loopback. End to end with the real engine, then faults and load with a stand-in
engine whose timing is known (``tests/support/fakes.py``).
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from support.clips import make_clip, shapes
from support.cluster import Cluster, RedisServer, kill_group
from support.images import b64, png

from impasto.service.config import Settings
from impasto.service.jobs import lifecycle
from impasto.service.jobs.core import StyleRef, create_job, get_job
from impasto.service.jobs.pictures import JobOptions
from impasto.service.storage.blobdb import DbStore, make_store, store_kind
from impasto.service.storage.db import Database
from impasto.service.storage.models import FINISHED, Job, JobEvent, JobKind, Status
from impasto.service.storage.store import BlobNotFound, FileStore
from impasto.service.workers.celery_app import WorkerNode

pytestmark = pytest.mark.scale
MakeCluster = Callable[..., Cluster]


def sse(cluster: Cluster, job_id: str, timeout: float = 120) -> list[dict[str, Any]]:
    """Every event of a job, read live from its Server-Sent Events stream until it ends."""
    events: list[dict[str, Any]] = []
    with cluster.http.stream("GET", f"/api/v1/jobs/{job_id}/events", timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            if line.startswith("event: end"):
                break
    return events


def status_events(db: Database, job_id: str) -> list[str]:
    with db.session() as s:
        rows = s.scalars(
            select(JobEvent.data)
            .where(JobEvent.job_id == job_id, JobEvent.kind == "status")
            .order_by(JobEvent.id)
        )
        return [r["status"] for r in rows]


# --- the shared blob store -------------------------------------------------------------------


def test_db_store_is_content_addressed_and_shared_between_nodes(db_url: str) -> None:
    one, two = Database(db_url), Database(db_url)  # two nodes, one database
    one.migrate()
    a, b = DbStore(one), DbStore(two)
    sha = a.put(b"hello")
    assert sha == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert b.get(sha) == b"hello" and b.exists(sha) and b.put(b"hello") == sha
    for bad in ["../../etc/passwd", "a" * 63, "A" * 64, ""]:
        with pytest.raises(BlobNotFound):
            b.get(bad)
        assert not b.exists(bad)
        b.delete(bad)
    with ThreadPoolExecutor(4) as pool:  # racing puts of the same bytes all succeed
        assert set(pool.map(lambda s: s.put(b"x" * 1000), [a, b, a, b])) == {a.put(b"x" * 1000)}
    b.delete(sha)
    assert not a.exists(sha)
    with pytest.raises(BlobNotFound):
        a.get(sha)
    assert a.writable()
    one.dispose()
    two.dispose()


def test_store_choice_follows_the_settings(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    embedded = Settings(data_dir=tmp_path)
    assert store_kind(embedded) == "files" and isinstance(make_store(embedded, db), FileStore)
    broker = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:1/0")
    assert isinstance(make_store(broker, db), DbStore)
    shared = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:1/0", blob_dir=tmp_path / "nfs")
    store = make_store(shared, db)
    assert isinstance(store, FileStore) and store.root == tmp_path / "nfs"
    with pytest.raises(ValueError):
        store_kind(Settings(blob_store="s3"))


def test_a_job_whose_worker_was_lost_runs_again_then_fails_after_max_attempts(db_url: str) -> None:
    settings = Settings(database_url=db_url, broker_url="redis://127.0.0.1:1/0", max_attempts=2)
    node = WorkerNode(settings)
    node.db.migrate()
    opts = JobOptions(mode="quality")
    job = create_job(node.db, content_sha="0" * 64, style=StyleRef("starry-night"), options=opts)
    assert node.reclaim(job.id)  # queued: ready to run
    with node.db.session() as s:
        s.get(Job, job.id).status, s.get(Job, job.id).attempts = "running", 1  # type: ignore[union-attr]
    assert node.reclaim(job.id)  # lost once: queued again
    assert get_job(node.db, job.id).status == "queued"
    with node.db.session() as s:
        s.get(Job, job.id).status, s.get(Job, job.id).attempts = "running", 2  # type: ignore[union-attr]
    assert not node.reclaim(job.id)
    lost = get_job(node.db, job.id)
    assert lost.status == "failed" and lost.error == "its worker was lost 2 times; not retried"
    assert status_events(node.db, job.id)[-2:] == ["queued", "failed"]
    assert not node.reclaim(job.id)  # finished: a late redelivery does nothing
    node.db.dispose()


def test_a_lost_worker_that_made_progress_does_not_use_up_an_attempt(db_url: str) -> None:
    """Issue 22: each redelivery of a clip that resumed and painted more used up an attempt."""
    settings = Settings(database_url=db_url, broker_url="redis://127.0.0.1:1/0", max_attempts=1)
    node = WorkerNode(settings)
    node.db.migrate()
    style, clip = StyleRef("starry-night"), JobKind.VIDEO  # a clip keeps its painted frames
    job = create_job(node.db, content_sha="0" * 64, style=style, options=JobOptions(), kind=clip)
    for fraction in (0.25, 0.5):  # lost twice, further each time: run again both times
        assert lifecycle.claim(node.db, job.id)
        with node.db.session() as s:
            s.get(Job, job.id).fraction = fraction  # type: ignore[union-attr]
        assert node.reclaim(job.id) and get_job(node.db, job.id).attempts == 0
    assert lifecycle.claim(node.db, job.id)  # lost where it began: counted, and over max_attempts
    assert (
        not node.reclaim(job.id)
        and get_job(node.db, job.id).error == "its worker was lost 1 times; not retried"
    )
    node.db.dispose()


# --- end to end ------------------------------------------------------------------------------


def test_end_to_end_fast_and_quality_jobs_on_two_workers_with_live_progress(
    cluster_factory: MakeCluster, pg_url: str, redis_server: RedisServer
) -> None:
    """The real engine, tiny sizes: one worker takes only the fast queue, the other both."""
    cluster = cluster_factory(pg_url, redis_server.url, IMPASTO_VISIBILITY_TIMEOUT="120")
    cluster.start_server()
    cluster.start_worker("fast")
    cluster.start_worker("quality,fast")
    ready = cluster.http.get("/api/v1/health/ready").json()
    assert ready["checks"] == {"database": True, "store": True, "workers": True, "broker": True}

    quality = cluster.create("quality", iterations=12)
    fast = [cluster.create("fast") for _ in range(3)]
    events = sse(cluster, quality["id"])  # live, from the first event
    kinds = [e.get("kind") for e in events]
    assert kinds[0] == "status" and "stage" in kinds and "iteration" in kinds and "preview" in kinds
    assert events[-1] == {**events[-1], "kind": "status", "status": "succeeded"}
    preview = next(e for e in events if e.get("kind") == "preview")
    pic = cluster.http.get(preview["url"])  # written by a worker, served by the web node
    assert pic.status_code == 200 and pic.headers["content-type"] == "image/jpeg"

    done = cluster.wait_done([quality["id"], *(j["id"] for j in fast)], 120)
    assert {j["status"] for j in done.values()} == {"succeeded"}, done
    assert all(j["attempts"] == 1 for j in done.values())
    result = cluster.http.get(f"/api/v1/jobs/{fast[0]['id']}/images/result")
    assert Image.open(io.BytesIO(result.content)).size == (64, 43)
    assert cluster.http.put(f"/api/v1/jobs/{fast[0]['id']}/rating", json={"rating": 5}).status_code == 200

    # cancelling reaches the job on its worker
    long = cluster.create("quality", iterations=2000)
    cluster.wait(lambda: cluster.job(long["id"])["status"] == "running", 60, "the long job to start")
    assert cluster.http.post(f"/api/v1/jobs/{long['id']}/cancel").status_code == 202
    cancelled = cluster.wait_done([long["id"]], 30)[long["id"]]  # long before 2000 iterations
    assert cancelled["status"] == "cancelled"
    if cancelled["result"] is not None:  # stopped mid-run: the painting so far is kept, as in-process
        kept = cluster.http.get(f"/api/v1/jobs/{long['id']}/images/result")
        assert kept.status_code == 200 and Image.open(io.BytesIO(kept.content)).size == (64, 43)


def test_kill_9_of_a_worker_mid_job_the_job_completes_on_the_other_once(
    cluster_factory: MakeCluster, pg_url: str, redis_server: RedisServer
) -> None:
    """The quality job (9 s) outlives the visibility timeout (6 s) too: the live lease keeps a
    redelivery from running it twice while its worker is alive."""
    cluster = cluster_factory(pg_url, redis_server.url, SCALE_STEP_QUALITY="0.3", fake_engine=True)
    cluster.start_server()
    workers = [cluster.start_worker(), cluster.start_worker()]
    job = cluster.create("quality", iterations=30)

    def runner_pid() -> int | None:
        for e in sse_now(cluster, job["id"]):
            if e.get("kind") == "stage" and str(e.get("message", "")).startswith("pid "):
                return int(e["message"][4:])
        return None

    pid = cluster.wait(runner_pid, 60, "the job to start on a worker")
    cluster.wait(lambda: cluster.job(job["id"])["fraction"] > 0.2, 30, "the job to be well under way")
    victim = next(w for w in workers if os.getpgid(pid) == w.pid)
    kill_group(victim)
    done = cluster.wait_done([job["id"]], 90)[job["id"]]
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    db = Database(pg_url)
    statuses = status_events(db, job["id"])
    assert statuses.count("succeeded") == 1 and statuses.count("running") == 2, statuses
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1
    pids = {e["message"] for e in sse_now(cluster, job["id"]) if e.get("kind") == "stage" and "pid" in str(e)}
    assert len(pids) == 2  # it ran on two processes, once each
    db.dispose()


def test_video_job_on_celery_workers_resumes_after_kill_9_without_repainting(
    cluster_factory: MakeCluster, pg_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """A clip painted by the real engine (at least 0.15 s a frame) on a worker that is killed
    mid-clip: the job runs again on another worker, which paints only the frames the first one had
    not (they share the data folder, as workers share a blob folder)."""
    frames = 40
    clip = make_clip(tmp_path / "walk.mp4", [shapes(i % 12, 96, 72) for i in range(frames)], audio="aac")
    cluster = cluster_factory(pg_url, redis_server.url, fake_engine=True, SCALE_VIDEO_FRAME="0.15")
    cluster.start_server()
    first = cluster.start_worker()
    created = cluster.http.post(
        "/api/v1/videos",
        files={"video": ("walk.mp4", clip.read_bytes(), "video/mp4")},
        data={"style_name": "starry-night"},
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]

    def frames_done() -> int:
        stage = str(cluster.job(job_id)["stage"])
        return int(stage.split()[1]) if stage.startswith("frame ") else 0

    cluster.wait(lambda: frames_done() >= 4, 180, "the worker to paint a few frames")
    kill_group(first)
    assert cluster.job(job_id)["status"] == "running"  # killed mid-clip, not finished
    cluster.start_worker()
    done = cluster.wait_done([job_id], 240)[job_id]
    assert done["status"] == "succeeded" and done["attempts"] == 1, done  # the lost run made progress
    summary = next(e for e in sse_now(cluster, job_id) if e.get("kind") == "video")
    assert summary["frames"] == frames and summary["resumed"] >= 4, summary
    assert summary["painted"] == frames - summary["resumed"], summary  # none painted twice
    painted = tmp_path / "painted.mp4"
    painted.write_bytes(cluster.http.get(done["links"]["video"]).content)  # stored by a worker
    with av.open(str(painted)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in container.decode(video=0)) == frames
    assert not list((tmp_path / "web-data" / "video-work").glob("*"))  # the ended job left no frames


# --- faults ----------------------------------------------------------------------------------


def test_server_killed_with_jobs_queued_loses_none(
    cluster_factory: MakeCluster, pg_url: str, redis_server: RedisServer
) -> None:
    cluster = cluster_factory(pg_url, redis_server.url, fake_engine=True)
    cluster.start_server()
    ids = [cluster.create("fast")["id"] for _ in range(6)] + [cluster.create("quality", iterations=2)["id"]]
    cluster.kill_server()  # kill -9, no worker has run anything yet
    db = Database(pg_url)
    # a job committed by a server that died before it could publish it
    orphan = create_job(
        db, content_sha=DbStore(db).put(png()), style=StyleRef("starry-night"), options=JobOptions()
    )
    cluster.start_server()
    cluster.start_worker(concurrency=2)
    done = cluster.wait_done([*ids, orphan.id], 90)
    assert {j["status"] for j in done.values()} == {"succeeded"}, done
    assert all(j["attempts"] == 1 for j in done.values())  # the republished duplicates ran nothing
    assert all(status_events(db, i).count("succeeded") == 1 for i in done)
    db.dispose()


def test_redis_stopped_briefly_gives_clear_errors_then_recovers_without_losing_jobs(
    cluster_factory: MakeCluster, pg_url: str, redis_server: RedisServer
) -> None:
    cluster = cluster_factory(pg_url, redis_server.url, SCALE_STEP_FAST="0.2", fake_engine=True)
    cluster.start_server()
    cluster.start_worker()
    before = [cluster.create("fast")["id"] for _ in range(8)]  # ~0.4 s each: most still queued
    redis_server.stop()
    refused = cluster.http.post("/api/v1/jobs", json={"content": b64(png()), "style_name": "starry-night"})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    assert refused.json() == {
        "detail": "the job queue (Redis) is unavailable; try again shortly",
        "code": "unavailable",
    }
    ready = cluster.http.get("/api/v1/health/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["broker"] is False
    time.sleep(2)
    redis_server.start()
    cluster.wait(lambda: cluster.http.get("/api/v1/health/ready").status_code == 200, 30, "readiness")
    after = [cluster.create("fast")["id"] for _ in range(2)]
    done = cluster.wait_done([*before, *after], 120)
    assert {j["status"] for j in done.values()} == {"succeeded"}, done
    db = Database(pg_url)
    with db.session() as s:  # the refused request's job is accounted for: failed, with the reason
        failed = s.scalars(select(Job).where(Job.status == Status.FAILED.value)).all()
        assert [j.error for j in failed] == ["the job queue (Redis) is unavailable; try again shortly"]
        assert s.scalar(select(func.count()).select_from(Job)) == len(before) + len(after) + 1
    db.dispose()


# --- load --------------------------------------------------------------------------------------


def test_load_20_clients_200_fast_jobs_every_job_accounted_for_once(
    cluster_factory: MakeCluster, pg_url: str, redis_server: RedisServer
) -> None:
    cluster = cluster_factory(pg_url, redis_server.url, fake_engine=True)
    cluster.start_server()
    cluster.start_worker(concurrency=2)
    cluster.start_worker(concurrency=2)
    body = {"content": b64(png(32, 24)), "style_name": "starry-night", "size": 64}

    def client(n: int) -> list[str]:
        with httpx.Client(base_url=cluster.base, timeout=60) as http:
            out = []
            for _ in range(10):
                r = http.post("/api/v1/jobs", json=body)
                assert r.status_code == 201, r.text
                out.append(r.json()["jobs"][0]["id"])
            return out

    with ThreadPoolExecutor(20) as pool:
        ids = [i for batch in pool.map(client, range(20)) for i in batch]
    assert len(ids) == len(set(ids)) == 200
    db = Database(pg_url)

    def finished() -> bool:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(Job).where(Job.status.in_(FINISHED))) == 200

    cluster.wait(finished, 150, "200 jobs to finish")
    with db.session() as s:
        jobs = s.scalars(select(Job)).all()
        succeeded = s.scalars(
            select(JobEvent.job_id).where(
                JobEvent.kind == "status", JobEvent.data["status"].as_string() == "succeeded"
            )
        ).all()
    assert sorted(j.id for j in jobs) == sorted(ids)
    assert {(j.status, j.attempts) for j in jobs} == {("succeeded", 1)}
    assert sorted(succeeded) == sorted(ids)  # one "succeeded" event per job: none ran twice
    db.dispose()


def sse_now(cluster: Cluster, job_id: str) -> list[dict[str, Any]]:
    """The events so far (the stream of a finished job ends by itself; a running one is cut short)."""
    events: list[dict[str, Any]] = []
    try:
        with cluster.http.stream("GET", f"/api/v1/jobs/{job_id}/events", timeout=1.5) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
    except Exception:
        pass
    return events


# --- operations ----------------------------------------------------------------------------------


def test_worker_command_refuses_bad_setups_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from impasto.cli import main

    monkeypatch.delenv("IMPASTO_BROKER_URL", raising=False)
    assert main(["worker"]) == 2
    assert "impasto worker needs IMPASTO_BROKER_URL" in capsys.readouterr().err
    monkeypatch.setenv("IMPASTO_BROKER_URL", "redis://127.0.0.1:1/0")
    assert main(["worker", "--queues", "slow"]) == 2
    assert "--queues: choose from fast, quality" in capsys.readouterr().err
    assert main(["worker", "--threads", "0"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


def test_log_lines_are_json_objects_with_fields() -> None:
    import logging

    from impasto.service.logs import JsonFormatter

    record = logging.makeLogRecord(
        {"name": "impasto.worker", "levelname": "INFO", "msg": "job %s done", "args": ("abc",), "job": "abc"}
    )
    line = json.loads(JsonFormatter("w1").format(record))
    assert line["msg"] == "job abc done" and line["job"] == "abc" and line["node"] == "w1"
    assert line["level"] == "info" and line["logger"] == "impasto.worker" and "ts" in line
