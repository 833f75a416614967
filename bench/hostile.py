"""Send the hostile-input classes of issues 13 and 22 to a running server and count what went wrong.

    .venv/bin/python bench/hostile.py                      # starts `impasto serve` on 127.0.0.1:8200
    .venv/bin/python bench/hostile.py --url http://127.0.0.1:8000 --log server.log [--key imp_…]

Classes: over-sized pictures (a 1-bit PNG bomb; PNG, JPEG, GIF, BMP, TIFF and WebP headers
declaring 12000x9000 up to 2^31 x 1 or 100000x100000) as photo, style, gallery upload and one-shot
stylize, in JSON and multipart; empty, blank and non-JSON bodies with each content type; hostile
JSON (deep nesting, 5000-digit numbers, NaN); broken Base64, random bytes, truncated and empty
pictures; text and truncated clips and two clips in one request; and the hostile clip classes of
issue 22 (zero bytes, text, a still image, truncated MP4, sound only, a GIF of 10,000 frames, a header
declaring 8192x8192, a stream growing to 8192x8192 mid-clip, an hour at 1 fps with no duration, a
streamed MKV longer than the limit; and clips that must work: odd 255x191, WebM, a streamed MKV
within the limits), each with what it must get (422, or a job) and the server's peak RSS while it
was sent. Before them it makes a baseline (a saved style and a job); after them it checks the
baseline is intact.

Prints one line per failure and a summary, ``cases=N 5xx=0 tracebacks=0 hangs=0 lost=0`` (and the
server's peak RSS when it started the server); exits 1 unless all four are 0. ``5xx``: answers of
500 or more; ``tracebacks``: "Traceback" in the server's log (or in an answer); ``hangs``: requests
without an answer within ``--timeout`` seconds; ``lost``: baseline things that went missing;
``dropped``: connections the server closed without an answer.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the shared corpus
from support.clips import make_clip, many_frame_gif, raw_h264, shapes, sound_only, streamed
from support.hostile import OVERSIZED

Send = Callable[[httpx.Client], httpx.Response]


def picture(size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", size, (200, 40, 30))
    for x in range(0, size[0], 8):
        for y in range(size[1]):
            image.putpixel((x, y), (30, 200, 40))
    image.save(buf, fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def post(path: str, **request: Any) -> Send:
    """A case: ``request`` (``json=``, ``files=``, ``content=`` …) posted to ``path``."""
    return lambda client: client.post(path, **request)


def picture_cases(name: str, data: bytes) -> dict[str, Send]:
    """One hostile picture through every route that takes one."""
    photo, udnie = picture(), {"style_name": "udnie"}
    both = [("content", ("p.png", photo, "image/png")), ("style", ("s.png", data, "image/png"))]
    return {
        f"{name} / jobs json photo": post("/api/v1/jobs", json={"content": b64(data), **udnie}),
        f"{name} / jobs json style": post("/api/v1/jobs", json={"content": b64(photo), "style": b64(data)}),
        f"{name} / jobs multipart photo": post(
            "/api/v1/jobs", files={"content": ("x.png", data, "image/png")}, data=udnie
        ),
        f"{name} / jobs multipart style": post("/api/v1/jobs", files=both),
        f"{name} / stylize": post("/api/v1/stylize", json={"content": b64(data), **udnie}),
        f"{name} / styles json": post("/api/v1/styles", json={"name": "hostile", "image": b64(data)}),
        f"{name} / styles multipart": post(
            "/api/v1/styles", files={"image": ("s.png", data, "image/png")}, data={"name": "hostile"}
        ),
    }


def body_cases() -> dict[str, Send]:
    """Bodies that are not what an operation takes, with each content type."""
    bodies = {
        "empty": b"",
        "blank": b" \r\n\t",
        "not json": b"{not json",
        "json array": b"[1, 2]",
        "json null": b"null",
        "deep array": b"[" * 100_000 + b"]" * 100_000,
        "huge integer": b'{"size": ' + b"7" * 5_000 + b', "style_name": "udnie"}',
        "nan": b'{"content": "' + b64(picture()).encode() + b'", "style_name": "udnie", "strength": NaN}',
        "bad base64": b'{"content": "not base64!!", "style_name": "udnie"}',
        "random bytes": os.urandom(512),
    }
    kinds = [None, "application/json", "multipart/form-data; boundary=x", "text/plain"]
    cases: dict[str, Send] = {}
    for path in ("/api/v1/jobs", "/api/v1/styles", "/api/v1/stylize", "/api/v1/videos"):
        for name, body in bodies.items():
            for kind in kinds:
                headers = {"content-type": kind} if kind else {}
                cases[f"{name} body ({kind}) / {path}"] = post(path, content=body, headers=headers)
    return cases


def file_cases() -> dict[str, Send]:
    """Pictures and clips that are not what they claim."""
    png = picture()
    bad = {
        "empty file": b"",
        "truncated png": png[: len(png) // 2],
        "text as png": b"hello, I am not a picture\n" * 10,
        "random bytes": os.urandom(4096),
        "1x2000 png": picture((1, 2000)),
        "png as clip": png,
    }
    cases: dict[str, Send] = {}
    for name, data in bad.items():
        cases.update(picture_cases(name, data))
        clip = {"video": ("c.mp4", data, "video/mp4")}
        cases[f"{name} / videos"] = post("/api/v1/videos", files=clip, data={"style_name": "udnie"})
    return cases


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _clip(name: str, frames: list[Any], **kwargs: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return make_clip(Path(tmp) / name, frames, **kwargs).read_bytes()


#: class: (file name, how to make it, what it must get: 422 or 201)
CLIP_CLASSES: dict[str, tuple[str, Callable[[], bytes], int]] = {
    "zero bytes": ("empty.mp4", lambda: b"", 422),
    "text as .mp4": ("notes.mp4", lambda: b"words, not a clip\n" * 50, 422),
    "a still image": ("photo.mp4", picture, 422),
    "truncated MP4": ("cut.mp4", lambda: _half(_clip("c.mp4", [shapes(i) for i in range(24)])), 422),
    "sound only": ("song.mp4", sound_only, 422),
    "GIF of 10,000 frames": ("dots.gif", lambda: many_frame_gif(10_000), 422),
    "header declaring 8192x8192": ("huge.h264", lambda: raw_h264(8192, 8192, 1), 422),
    "stream growing to 8192x8192": ("grows.h264", lambda: raw_h264(64, 64, 3) + raw_h264(8192, 8192, 1), 422),
    "an hour at 1 fps, 16x16, no duration": ("hour.h264", lambda: raw_h264(16, 16, 3600, fps=1), 422),
    "streamed MKV of 75 s": ("live.mkv", lambda: streamed(75 * 12), 422),
    "odd sides 255x191": ("odd.mp4", lambda: _clip("o.mp4", [shapes(i, 255, 191) for i in range(6)]), 201),
    "WebM (VP8)": ("walk.webm", lambda: _clip("w.webm", [shapes(i) for i in range(6)], codec="libvpx"), 201),
    "streamed MKV within the limits": ("short.mkv", lambda: streamed(12), 201),
}


def all_cases() -> dict[str, Send]:
    cases: dict[str, Send] = {}
    for name, (make, _, _) in OVERSIZED.items():
        cases.update(picture_cases(name, make()))
    cases.update(body_cases())
    cases.update(file_cases())
    return cases


@contextmanager
def served(port: int) -> Iterator[tuple[str, Path, int]]:
    """``impasto serve`` on 127.0.0.1:``port`` with a fresh data folder, its log in a file."""
    with tempfile.TemporaryDirectory(prefix="h22-hostile-") as tmp:
        log = Path(tmp) / "server.log"
        env = {
            **os.environ,
            "IMPASTO_JOBS_PER_MINUTE": "1000000",  # the corpus, not the rate limit, is under test
            "IMPASTO_JOBS_BURST": "100000",
            "IMPASTO_MAX_QUEUED": "100000",
            "IMPASTO_MAX_QUEUED_PER_OWNER": "100000",
            "IMPASTO_MAX_STYLES_PER_OWNER": "100000",
            "IMPASTO_LOG_FORMAT": "text",
        }
        command = [
            str(Path(sys.executable).parent / "impasto"),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            tmp,
        ]
        with log.open("wb") as out:
            server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield url, log, server.pid
        finally:
            server.terminate()
            server.wait(30)


def peak_rss_mb(pid: int, field: str = "VmHWM") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextmanager
def rss_sampled(pid: int | None) -> Iterator[list[float]]:
    """The server's resident memory, sampled every 10 ms while the block runs (its peak: max())."""
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set() and pid is not None:
            rss = peak_rss_mb(pid, "VmRSS")
            if rss is not None:
                samples.append(rss)
            done.wait(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


def clip_classes(client: httpx.Client, pid: int | None) -> tuple[int, int, int, int]:
    """Each hostile clip class once, with what it got and the server's peak RSS meanwhile; returns
    (cases, wrong answers, 5xx, tracebacks in answers)."""
    wrong = errors = traces = 0
    for name, (filename, make, expected) in CLIP_CLASSES.items():
        data = make()
        files = {"video": (filename, data, "video/mp4")}
        with rss_sampled(pid) as samples:
            started = time.perf_counter()
            r = client.post("/api/v1/videos", files=files, data={"style_name": "udnie"})
            took = time.perf_counter() - started
        detail = (
            r.json().get("detail", "")
            if r.headers.get("content-type", "").startswith("application/json")
            else ""
        )
        peak = f"{max(samples):.0f} MB" if samples else "n/a"
        print(
            f"clip {name} ({len(data)} bytes): {r.status_code} in {took:.2f} s, server RSS peak {peak}: "
            f"{str(detail)[:110]}"
        )
        wrong += r.status_code != expected
        errors += r.status_code >= 500
        traces += "Traceback" in r.text or "/tmp/" in str(detail)
    return len(CLIP_CLASSES), wrong, errors, traces


def baseline(client: httpx.Client) -> dict[str, str]:
    style = client.post("/api/v1/styles", json={"name": "baseline style", "image": b64(picture(fmt="JPEG"))})
    style.raise_for_status()
    job = client.post("/api/v1/jobs", json={"content": b64(picture()), "style_name": style.json()["name"]})
    job.raise_for_status()
    return {"style": style.json()["name"], "job": job.json()["jobs"][0]["id"]}


def lost(client: httpx.Client, kept: dict[str, str]) -> list[str]:
    missing = []
    if client.get(f"/api/v1/jobs/{kept['job']}").status_code != 200:
        missing.append(f"job {kept['job']}")
    if client.get(f"/api/v1/jobs/{kept['job']}/images/content").status_code != 200:
        missing.append(f"job {kept['job']}'s photo")
    if client.get(f"/api/v1/styles/{kept['style']}/image").status_code != 200:
        missing.append(f"style {kept['style']}")
    return missing


def run(
    url: str, log: Path | None, key: str | None, timeout: float, pid: int | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    failures = {"5xx": 0, "tracebacks": 0, "hangs": 0, "lost": 0, "dropped": 0}
    seen = log.stat().st_size if log and log.exists() else 0
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
        client.get("/api/v1/jobs")  # a cookie to keep, when this client is not the local owner
        kept = baseline(client)
        cases = all_cases()
        for name, send in cases.items():
            try:
                r = send(client)
            except httpx.TimeoutException:
                failures["hangs"] += 1
                print(f"hang: {name}")
                continue
            except httpx.TransportError as exc:  # the server dropped the connection: no answer
                failures["dropped"] += 1
                print(f"dropped: {name}: {exc}")
                continue
            if r.status_code >= 500:
                failures["5xx"] += 1
                print(f"{r.status_code}: {name}: {r.text[:200]}")
            if "Traceback" in r.text:
                failures["tracebacks"] += 1
                print(f"traceback in the answer: {name}")
        count, wrong, errors, traces = clip_classes(client, pid)
        failures["5xx"] += errors
        failures["tracebacks"] += traces
        for thing in lost(client, kept):
            failures["lost"] += 1
            print(f"lost: {thing}")
        health = client.get("/api/v1/health").status_code
    if log is not None and log.exists():
        with log.open("rb") as text:
            text.seek(seen)
            failures["tracebacks"] += text.read().count(b"Traceback")
    return {"cases": len(cases) + count, **failures, "clip_wrong": wrong, "health": health}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server (default: start one on --port)")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--log", type=Path, help="the running server's log, to count tracebacks in")
    parser.add_argument("--key", help="an API key, for a server in IMPASTO_AUTH=keys mode")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds before a request counts as a hang"
    )
    args = parser.parse_args()
    if args.url:
        result, peak = run(args.url, args.log, args.key, args.timeout), None
    else:
        with served(args.port) as (url, log, pid):
            result = run(url, log, args.key, args.timeout, pid)
            peak = peak_rss_mb(pid)
    summary = " ".join(f"{k}={v}" for k, v in result.items() if k != "health")
    print(
        summary
        + (f" server_peak_rss={peak:.0f}MB" if peak is not None else "")
        + f" health={result['health']}"
    )
    failed = ("5xx", "tracebacks", "hangs", "lost", "dropped", "clip_wrong")
    sys.exit(0 if all(result[k] == 0 for k in failed) else 1)


if __name__ == "__main__":
    main()
