"""Real servers for the scale-out tests: a private Redis, a PostgreSQL schema, and ``impasto serve``
and ``impasto worker`` as separate processes, all on loopback, all killed when the test ends.

Redis is started privately (from Debian's ``redis-server``, as ``.ci/services`` installs it) so a
test can stop and restart it; PostgreSQL is the one ``.ci/services`` runs, with a schema per test.
A missing service skips the test locally and fails it when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from support.env import ROOT, missing_service
from support.images import b64, png
from support.net import free_port

IMPASTO = [sys.executable, "-m", "impasto"]


class RedisServer:
    """``redis-server`` on loopback with an append-only file, so it keeps messages across a stop."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing_service("redis-server is not installed")
        self.binary = str(binary)
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes"]
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {(self.dir / 'redis.log').read_text()[-500:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Redis flushes its append-only file and exits
            self.proc.wait(10)
        self.proc = None


class Cluster:
    """One web node and any number of workers as child processes, sharing a database and Redis."""

    def __init__(
        self, tmp: Path, db_url: str, broker_url: str, fake_engine: bool = False, **env: str
    ) -> None:
        self.tmp = tmp
        self.fake_engine = fake_engine  # workers run support.fakes.worker_engine (python -m support.worker)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
            "IMPASTO_DATABASE_URL": db_url,
            "IMPASTO_BROKER_URL": broker_url,
            "IMPASTO_DATA_DIR": str(tmp / "web-data"),
            "IMPASTO_JOBS_PER_MINUTE": "100000",
            "IMPASTO_JOBS_BURST": "100000",
            "IMPASTO_MAX_QUEUED": "100000",
            "IMPASTO_MAX_QUEUED_QUALITY": "100000",
            "IMPASTO_MAX_QUEUED_PER_OWNER": "100000",  # the clients are one owner: local scripts
            "IMPASTO_VISIBILITY_TIMEOUT": "6",
            "IMPASTO_LEASE_SECONDS": "4",
            "IMPASTO_MAX_ATTEMPTS": "3",
            "OMP_NUM_THREADS": "1",
            **env,
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        path = self.tmp / f"{name}-{len(self.logs)}.log"
        self.logs.append(path)
        out = open(path, "wb")  # noqa: SIM115 (closed with the process)
        return subprocess.Popen(
            command,
            env={**self.env, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.tmp,
            start_new_session=True,  # its own process group: kill -9 takes the pool children too
        )

    def start_server(self, wait: bool = True) -> None:
        self.server = self._spawn("serve", [*IMPASTO, "serve", "--port", str(self.port)])
        if wait:
            self.wait(lambda: self._ready(), 60, "the web node to start")

    def _ready(self) -> bool:
        try:
            return self.http.get("/api/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    def start_worker(
        self, queues: str = "fast,quality", concurrency: int = 1, **env: str
    ) -> subprocess.Popen[bytes]:
        args = ["--queues", queues, "--concurrency", str(concurrency)]
        if self.fake_engine:
            proc = self._spawn("worker", [sys.executable, "-m", "support.worker", *args], env)
        else:
            proc = self._spawn("worker", [*IMPASTO, "worker", *args], env)
        self.workers.append(proc)
        return proc

    def kill_server(self) -> None:
        if self.server is not None:
            kill_group(self.server)
            self.server = None

    def close(self) -> None:
        self.http.close()
        for proc in [*self.workers, *([self.server] if self.server else [])]:
            kill_group(proc)

    def tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs)

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.tails()}")

    # --- the API ------------------------------------------------------------------------------

    def create(self, mode: str = "fast", **options: Any) -> dict[str, Any]:
        body = {
            "content": b64(png(48, 32)),
            "style_name": "starry-night",
            "mode": mode,
            "size": 64,
            **options,
        }
        response = self.http.post("/api/v1/jobs", json=body)
        assert response.status_code in (201, 202), response.text
        job: dict[str, Any] = response.json()["jobs"][0]
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get(f"/api/v1/jobs/{job_id}").json()
        return data

    def wait_done(self, job_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        done: dict[str, dict[str, Any]] = {}

        def check() -> bool:
            for job_id in job_ids:
                if job_id not in done:
                    job = self.job(job_id)
                    if job["status"] in ("succeeded", "failed", "cancelled"):
                        done[job_id] = job
            return len(done) == len(job_ids)

        self.wait(check, timeout, f"{len(job_ids) - len(done)} of {len(job_ids)} jobs to finish")
        return done


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 a process and its pool children (its process group)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
