"""Quality-engine benchmark: Impasto's defaults against a plain Gatys reference, in one run.

    .venv/bin/python bench/quality.py [--size 512] [--reference-iterations 300]

(1) reference: single scale, float32, L-BFGS, 300 iterations at 512 px long side;
(2) Impasto's defaults (fast mode's draft refined at the full size, precision auto);
(3) for comparison, ``init="content"``: painting from the photo itself, coarse to fine
    (128 → 256 → 512 px), the default of colour-preserving runs.
Each runs in its own child process so its peak memory (max RSS) is its own. Both final images are
scored by the same evaluator (float32, the default loss weights at the full size), so their style
losses compare fairly. Prints seconds per iteration per scale, wall time, losses, peak memory,
the speed ratio, and the largest output that fits in 16 GiB by the memory planner.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"  # the committed images; --content/--style for others
KINDS = ["reference", "default", "from-photo"]


def child(kind: str, size: int, ref_iterations: int, content: str, style: str, out: str) -> None:

    from impasto.imageio import load_image
    from impasto.quality import QualityOptions, run_quality
    from impasto.styles import Style

    photo, painting = load_image(content), load_image(style)
    if kind == "reference":
        opts = QualityOptions(size=size, multiscale=False, iterations=ref_iterations, precision="float32")
    elif kind == "from-photo":
        opts = QualityOptions(size=size, init="content")
    else:
        opts = QualityOptions(size=size)
    start = time.perf_counter()
    result = run_quality(photo, [Style(painting)], opts)
    wall = time.perf_counter() - start
    result.image.save(out)
    print(
        json.dumps(
            {
                "kind": kind,
                "wall": wall,
                "plan": result.plan.describe(),
                "precision": result.precision,
                "sec_per_iteration": result.seconds_per_iteration,
                "losses": result.losses,
                "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def score(image_path: str, content: str, style: str, size: int) -> dict[str, float]:
    """Losses of a finished picture under one fixed evaluator (float32, default weights)."""
    import torch

    from impasto.imageio import load_image
    from impasto.quality import QualityOptions
    from impasto.quality.backbones import load_backbone
    from impasto.quality.engine import Encoder, Objective, resize, to_tensor
    from impasto.quality.plan import Scale, fit
    from impasto.styles import Style

    opts = QualityOptions(size=size, precision="float32")
    photo = load_image(content)
    scale = Scale(fit(photo.size, size), 1)
    enc = Encoder(load_backbone(), torch.device("cpu"), torch.float32)
    with torch.no_grad():
        objective = Objective(
            enc, to_tensor(resize(photo, scale.size), enc.device), [Style(load_image(style))], scale, opts
        )
        return objective(to_tensor(resize(load_image(image_path), scale.size), enc.device))[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--reference-iterations", type=int, default=300)
    parser.add_argument("--content", default=str(DATA / "content" / "tubingen.jpg"))
    parser.add_argument("--style", default=str(DATA / "style" / "starry_night.jpg"))
    parser.add_argument("--out", default="bench-out")
    parser.add_argument("--only", choices=KINDS, help="run one configuration only")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    if args.child:
        child(
            args.child,
            args.size,
            args.reference_iterations,
            args.content,
            args.style,
            str(out / f"{args.child}.png"),
        )
        return

    from impasto.quality.memory import largest_long_side

    runs = {}
    for kind in [args.only] if args.only else KINDS:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--size",
            str(args.size),
            "--reference-iterations",
            str(args.reference_iterations),
            "--content",
            args.content,
            "--style",
            args.style,
            "--out",
            str(out),
        ]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        runs[kind] = json.loads(line)
        runs[kind]["score"] = score(str(out / f"{kind}.png"), args.content, args.style, args.size)
        r = runs[kind]
        print(f"\n== {kind}: plan {r['plan']}  precision {r['precision']}")
        print("   s/iteration per scale: " + ", ".join(f"{s:.3f}" for s in r["sec_per_iteration"]))
        print(f"   wall {r['wall']:.1f} s   peak RSS {r['peak_rss'] / 2**30:.2f} GiB")
        print("   final losses (scored): " + ", ".join(f"{k} {v:.4f}" for k, v in r["score"].items()))
    if "reference" in runs:
        ref = runs["reference"]
        for kind in [k for k in KINDS[1:] if k in runs]:
            run = runs[kind]
            print(
                f"\n{kind}: speed-up over the reference {ref['wall'] / run['wall']:.2f}x "
                f"({ref['wall']:.1f} s / {run['wall']:.1f} s); style loss {kind}/reference "
                f"{run['score']['style'] / ref['score']['style']:.3f} (<= 1: at least as stylised)"
            )
    for aspect in [(4, 3), (1, 1)]:
        side = largest_long_side(16 * 2**30, aspect)
        print(f"largest output that fits in 16 GiB ({aspect[0]}:{aspect[1]}): {side} px long side")


if __name__ == "__main__":
    main()
