"""Service layer: store, migrations, the job function, the worker pool, restarts, rate limits, config."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect, select
from support.fakes import FakeEngine
from support.images import png
from support.web import client_for, wait_for

import impasto.service.jobs.progress as jobs_module
from impasto.service.config import Settings, redact_url
from impasto.service.guards.ratelimit import RateLimiter
from impasto.service.jobs import lifecycle
from impasto.service.jobs.context import JobContext
from impasto.service.jobs.core import StyleRef, create_job, get_job, recover, run_job
from impasto.service.jobs.pictures import JobOptions
from impasto.service.storage.db import Database
from impasto.service.storage.models import Job, JobEvent
from impasto.service.storage.store import BlobNotFound, FileStore
from impasto.service.workers.pool import WorkerPool


def test_file_store_is_content_addressed_and_refuses_bad_names(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "blobs")
    sha = store.put(b"hello")
    assert sha == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert store.put(b"hello") == sha and store.get(sha) == b"hello" and store.exists(sha)
    assert (tmp_path / "blobs" / sha[:2] / sha).read_bytes() == b"hello"
    assert not list((tmp_path / "blobs").rglob("*.tmp"))
    for bad in ["../../etc/passwd", "a" * 63, "A" * 64, sha + "/", ""]:
        with pytest.raises(BlobNotFound):
            store.get(bad)
        assert not store.exists(bad)
    store.delete(sha)
    assert not store.exists(sha)
    with pytest.raises(BlobNotFound):
        store.get(sha)
    assert store.writable()


def test_migrations_are_idempotent_and_reversible(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from impasto.service.storage.db import MIGRATIONS

    db = Database(db_url)
    db.migrate()
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert {"jobs", "job_events", "saved_styles", "alembic_version"} <= tables
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert "jobs" not in inspect(db.engine).get_table_names()
    db.migrate()
    assert "jobs" in inspect(db.engine).get_table_names()
    db.dispose()


def _context(tmp_path: Path, db_url: str, engine: FakeEngine) -> JobContext:
    db = Database(db_url)
    db.migrate()
    return JobContext(db, FileStore(tmp_path / "blobs"), engine, preview_interval=0.0)


def _queued(ctx: JobContext, mode: str = "fast") -> str:
    sha = ctx.store.put(png())
    style = StyleRef("upload", ctx.store.put(png(color=(1, 200, 3))))
    return create_job(ctx.db, content_sha=sha, style=style, options=JobOptions(mode=mode, size=64)).id


def test_run_job_claims_once_and_persists_events(tmp_path: Path, db_url: str) -> None:
    ctx = _context(tmp_path, db_url, FakeEngine())
    job_id = _queued(ctx)
    assert run_job(job_id, ctx) == "succeeded"
    assert run_job(job_id, ctx) is None  # delivered twice: runs once
    job = get_job(ctx.db, job_id)
    assert (
        job.status == "succeeded"
        and job.attempts == 1
        and job.result_sha
        and ctx.store.exists(job.result_sha)
    )
    with ctx.db.session() as s:
        kinds = [
            e.kind for e in s.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))
        ]
    assert kinds[:3] == ["status", "status", "stage"] and kinds[-1] == "status" and "preview" in kinds
    ctx.db.dispose()


def test_cancel_flag_in_database_reaches_a_running_job(tmp_path: Path, db_url: str) -> None:
    """What a remote worker relies on: no shared token, only the database flag."""
    engine = FakeEngine(steps=100_000, delay=0.001)  # reports progress (and so polls) until cancelled
    ctx = _context(tmp_path, db_url, engine)
    ctx.cancel_poll_interval = 0.05
    job_id = _queued(ctx)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(run_job(job_id, ctx)))
    worker.start()
    _wait(lambda: engine.running == 1, "the job to start")
    with ctx.db.session() as s:
        s.get(Job, job_id).cancel_requested = True  # type: ignore[union-attr]
    worker.join(60)
    assert result == ["cancelled"] and get_job(ctx.db, job_id).status == "cancelled"
    ctx.db.dispose()


def test_pool_runs_quality_one_at_a_time_and_fast_concurrently(tmp_path: Path, db_url: str) -> None:
    engine = FakeEngine(steps=2)
    engine.gate = threading.Event()  # every run waits here until the test has seen the pool full
    ctx = _context(tmp_path, db_url, engine)
    pool = WorkerPool(ctx, fast_workers=2, quality_workers=1)
    pool.start()
    ids = [(_queued(ctx, "quality"), "quality") for _ in range(3)] + [
        (_queued(ctx), "fast") for _ in range(4)
    ]
    for job_id, mode in ids:
        pool.submit(job_id, mode)
    _wait(lambda: engine.running == 3, "two fast jobs and one quality job to run at once")
    # every worker thread is held at the gate with its job: the other four wait in the pool's
    # queues, still queued (a pool that allowed a fourth run would have a thread taking one)
    assert pool.pending() == 4 and len(pool.threads) == 3
    with ctx.db.session() as s:
        statuses = sorted(s.scalars(select(Job.status).where(Job.id.in_([j for j, _ in ids]))))
    assert statuses == ["queued"] * 4 + ["running"] * 3
    assert engine.running == 3 and engine.peak == {"fast": 2, "quality": 1}
    engine.gate.set()
    _wait(lambda: all(get_job(ctx.db, j).state.finished for j, _ in ids), "every job to finish")
    pool.stop()
    assert all(get_job(ctx.db, j).status == "succeeded" for j, _ in ids)
    assert engine.peak == {"fast": 2, "quality": 1}
    ctx.db.dispose()


def _wait(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait for the event the test means (a generous bound: a loaded machine is slow, not wrong)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_restart_runs_queued_jobs_and_requeues_interrupted_ones(tmp_path: Path, db_url: str) -> None:
    held = FakeEngine(steps=100)
    held.gate = threading.Event()  # nothing finishes before the "restart"
    with client_for(tmp_path, db_url, held, fast_workers=1) as client:
        ids = [
            client.post(
                "/api/v1/jobs",
                files=[("content", ("p.png", png(), "image/png")), ("style", ("s.png", png(), "image/png"))],
            ).json()["jobs"][0]["id"]
            for _ in range(3)
        ]
        wait_for(client, ids[0], ("running",))
        identity = client.cookies["impasto_id"]  # the jobs' owner: a browser identity
    # the server stopped: the running job went back to the queue, nothing was lost
    db = Database(db_url)
    with db.session() as s:
        assert {j.status for j in s.scalars(select(Job))} == {"queued"}
    db.dispose()
    with client_for(tmp_path, db_url, FakeEngine(), fast_workers=1) as client:
        client.cookies.set("impasto_id", identity)  # still valid: the secret is in the data folder
        for job_id in ids:
            job = wait_for(client, job_id)
            assert job["status"] == "succeeded", job


def test_crash_recovery_requeues_then_gives_up(tmp_path: Path, db_url: str) -> None:
    ctx = _context(tmp_path, db_url, FakeEngine())
    retry, give_up = _queued(ctx), _queued(ctx)
    with ctx.db.session() as s:  # as if a process died mid-run (kill -9: no clean stop)
        s.get(Job, retry).status, s.get(Job, retry).attempts = "running", 1  # type: ignore[union-attr]
        s.get(Job, give_up).status, s.get(Job, give_up).attempts = "running", 2  # type: ignore[union-attr]
    queued = recover(ctx.db, max_attempts=2)
    assert [job_id for job_id, _ in queued] == [retry]
    failed = get_job(ctx.db, give_up)
    assert failed.status == "failed" and "interrupted by a server restart" in (failed.error or "")
    assert run_job(retry, ctx) == "succeeded" and get_job(ctx.db, retry).attempts == 2
    ctx.db.dispose()


def test_a_run_that_made_progress_does_not_use_up_an_attempt(tmp_path: Path, db_url: str) -> None:
    """Issue 22: a clip killed twice was failed for good ("2 attempts") although each run resumed
    and painted more frames. A run interrupted further than it began is not counted; one
    interrupted where it began is, and the job fails after max_attempts of those."""
    ctx = _context(tmp_path, db_url, FakeEngine())
    job_id = _queued(ctx)
    with ctx.db.session() as s:  # a clip: its painted frames are kept from run to run
        s.get(Job, job_id).kind = "video"  # type: ignore[union-attr]

    def killed_at(fraction: float) -> None:  # claimed, got to ``fraction``, then the process died
        assert lifecycle.claim(ctx.db, job_id)
        with ctx.db.session() as s:
            s.get(Job, job_id).fraction = fraction  # type: ignore[union-attr]

    for fraction in (0.3, 0.6):  # two kills, each after painting more: neither counts
        killed_at(fraction)
        assert recover(ctx.db, max_attempts=2) == [(job_id, "fast")]
        assert get_job(ctx.db, job_id).attempts == 0
    for attempts in (1, 2):  # killed where it began: counted, then given up
        killed_at(0.6)
        assert get_job(ctx.db, job_id).attempts == attempts
        assert recover(ctx.db, max_attempts=2) == ([(job_id, "fast")] if attempts < 2 else [])
    failed = get_job(ctx.db, job_id)
    assert (
        failed.status == "failed"
        and failed.error == "interrupted by a server restart (2 attempts); not retried"
    )
    ctx.db.dispose()


def test_rate_limiter_refills() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    assert 0 < limiter.take("a") <= 1.0
    assert limiter.take("b") == 0  # per client
    limiter.buckets["a"] = (0.0, time.monotonic() - 1.5)
    assert limiter.take("a") == 0


def test_settings_from_env_and_secrets_stay_out_of_logs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("IMPASTO_DATABASE_URL", "postgresql+psycopg://user:s3cret@db.invalid/x")
    monkeypatch.setenv("IMPASTO_FAST_WORKERS", "3")
    settings = Settings.from_env(data_dir=tmp_path)
    assert settings.fast_workers == 3 and settings.data_dir == tmp_path
    assert "s3cret" not in redact_url(settings.db_url) and "***" in redact_url(settings.db_url)
    assert "s3cret" not in redact_url("postgresql://h/db?password=s3cret&sslmode=require")
    assert Settings(data_dir=tmp_path).db_url.startswith("sqlite:///")
    monkeypatch.setenv("IMPASTO_FAST_WORKERS", "many")
    from impasto.errors import OptionsError

    with pytest.raises(OptionsError):
        Settings.from_env()
    from impasto.service.runtime import Runtime

    caplog.set_level(logging.INFO)
    runtime = Runtime(Settings(data_dir=tmp_path))
    runtime.start()
    runtime.stop()
    assert "database ready: sqlite:///" in caplog.text


def test_serve_command_parses_its_options() -> None:
    import argparse

    from impasto.cli import COMMAND_MODULES, serve

    assert "impasto.cli.serve" in COMMAND_MODULES
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--port", "9001", "--data-dir", "/tmp/x", "--fast-workers", "4"])
    assert (args.host, args.port, args.data_dir, args.fast_workers) == ("127.0.0.1", 9001, Path("/tmp/x"), 4)
    assert args.handler is serve.run


def test_migrations_ship_inside_the_package() -> None:
    import impasto.service

    root = Path(impasto.service.__file__).parent / "storage" / "migrations"
    assert (root / "env.py").exists() and (root / "script.py.mako").exists()
    assert list((root / "versions").glob("0001_*.py"))


def test_throttled_progress_keeps_iterations_between_previews(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _context(tmp_path, db_url, FakeEngine(steps=20))
    ctx.event_interval, ctx.preview_interval = 0.1, 0.25
    clock = iter(0.015 * n for n in range(1, 10_000))  # each progress event 15 ms after the last
    monkeypatch.setattr(jobs_module, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    job_id = _queued(ctx)
    assert run_job(job_id, ctx) == "succeeded"
    with ctx.db.session() as s:
        kinds = [e.kind for e in s.scalars(select(JobEvent).where(JobEvent.job_id == job_id))]
    assert 4 <= kinds.count("iteration") < 20 and 1 <= kinds.count("preview") < 20
    ctx.db.dispose()


def test_the_embedded_web_app_needs_no_worker_extra(tmp_path: Path) -> None:
    """`make run` installs impasto[web] only: the app must start without celery, redis and psycopg."""
    code = (
        "import sys\n"
        "for name in ('celery', 'kombu', 'redis', 'psycopg'):\n"
        "    sys.modules[name] = None  # as if not installed: importing it raises ImportError\n"
        "from fastapi.testclient import TestClient\n"
        "from pathlib import Path\n"
        "from impasto.service.config import Settings\n"
        "from impasto.web import create_app\n"
        f"app = create_app(Settings(data_dir=Path({str(tmp_path)!r})))\n"
        "with TestClient(app, base_url='http://127.0.0.1') as client:  # an allowed Host\n"
        "    assert client.get('/api/v1/health').status_code == 200\n"
        "    assert client.get('/').status_code == 200\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
