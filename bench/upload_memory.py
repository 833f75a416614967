"""Peak memory of concurrent uploads that decode large, with and without the decoded-pixel budget.

    .venv/bin/python bench/upload_memory.py                # 12 uploads of a 6000x6000 PNG at once
    .venv/bin/python bench/upload_memory.py --uploads 8 --side 4000

Issue 13: twelve concurrent uploads of a ~100 KB PNG that decodes to 6000x6000 took the server from
0.66 to 3.9 GB. Each run here is a fresh process (so its peak RSS is its own) holding the app in
process (FastAPI TestClient, a do-nothing engine, SQLite in a temporary folder); the uploads are
sent from threads at once. Rows: the budget off (as big as everything) and the default 100 Mpx.

Measured on the shared 2-core development machine (other agents' tests running), 12 uploads of a
117 KB PNG of 6000x6000: RSS 417 MB before; peak 3168 MB without the budget, 950 MB with it (all 12
accepted, in 14.1 s and 13.4 s). Before Pillow's block size was raised (glibc kept each thread's
freed images) the budget alone gave 3135 MB against 3285 MB; with PILLOW_BLOCK_SIZE=64m and no code
change 816 MB against 3415 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image


def _png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (120, 80, 40)).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _child(uploads: int, side: int, budget: int) -> None:
    from fastapi.testclient import TestClient

    from impasto.service.config import Settings
    from impasto.web import create_app

    def engine(content: Any, style: Any, **kwargs: Any) -> Image.Image:
        return Image.new("RGB", (16, 16))

    photo, style = _png(side), _png(64)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), decode_budget=budget, decode_wait=120.0, jobs_burst=1000,
            jobs_per_minute=6000.0, max_queued=10_000, max_queued_per_owner=10_000,
            allowed_hosts=("testserver",),
        )  # fmt: skip
        with TestClient(create_app(settings, stylize=engine)) as client:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            files = [("content", ("p.png", photo, "image/png")), ("style", ("s.png", style, "image/png"))]
            start = time.perf_counter()
            with ThreadPoolExecutor(uploads) as pool:
                codes = list(pool.map(lambda _: client.post("/api/v1/jobs", files=files).status_code,
                                      range(uploads)))  # fmt: skip
            seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"before_mb": before, "peak_mb": peak, "seconds": seconds, "codes": codes,
                      "png_kb": len(photo) / 1024}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=12)
    parser.add_argument("--side", type=int, default=6000)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.uploads, args.side, args.child)
        return
    rows = {"no budget": 10**12, "default budget (100 Mpx)": 100_000_000}
    for label, budget in rows.items():
        cmd = [sys.executable, __file__, "--uploads", str(args.uploads), "--side", str(args.side),
               "--child", str(budget)]  # fmt: skip
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        ok = sum(1 for c in out["codes"] if c == 201)
        print(
            f"{label:<26} {args.uploads} x {args.side}x{args.side} PNG ({out['png_kb']:.0f} KB): "
            f"RSS {out['before_mb']:.0f} -> peak {out['peak_mb']:.0f} MB, {out['seconds']:.1f} s, "
            f"{ok}/{args.uploads} accepted"
        )


if __name__ == "__main__":
    main()
