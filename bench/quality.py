"""Quality-engine benchmark: style losses and plans against a plain Gatys reference, in one run.

    .venv/bin/python bench/quality.py [--size 512] [--reference-iterations 300] [--variants ...]
    .venv/bin/python bench/quality.py --sheet [--sheet-size 256] [--data /work/shared/data]

Variants (``--variants``, comma-separated; default: all of them):

* ``reference`` — the classic: single scale from the photo, float32, Gram loss, L-BFGS;
* ``default`` — Impasto's defaults: W2 from the photo in the painting's palette, 256 → 512 px,
  precision ``auto`` (bfloat16 where the CPU has AMX or AVX512-BF16);
* ``gram-draft`` (the previous default), ``w2-draft``, ``sliced-draft`` — a loss refining fast
  mode's draft at the full size (13 iterations); ``gram``, ``sliced`` — a loss from the
  photo as it is, coarse to fine (26 iterations, as the default);
* ``average`` — the default with iterate averaging; ``float32`` — the default forced to float32
  (what a CPU without AMX runs); ``bfloat16`` — forced to bfloat16 (slow where the CPU lacks it).

Each runs in its own child process so its peak memory (max RSS) is its own. Every final image is
scored by one evaluator (VGG16, float32, at the output size): the Gram style loss, the W2 style
loss and the content loss of the default weights, so variants optimising different losses compare
on the same rulers. Prints seconds per iteration per scale, wall time, peak memory, the scores and
the ratios to the reference.

``--precision`` measures one iteration (network forward and backward plus every loss) in float32
and in bfloat16 at ``--size``, alternating the two in one process and keeping the fastest of
``--repeats`` each, so load from other processes on a shared machine affects both alike. The
ratio is what bfloat16 gains on this CPU (about 2x with AMX-BF16; far below 1 without it).

``--sheet`` paints photos × gallery paintings × {default, each loss, reference} in one process at
``--sheet-size`` and writes ``docs/quality-sheet.jpg``, with the scores of every cell; with
``--variants float32,bfloat16 --sheet-size 512 --sheet-out docs/precision-sheet.jpg`` it shows
the two precisions side by side. Photos come
from ``--data`` (its ``content/`` folder, or the folder itself); the default is the committed test
images in ``tests/data``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SUFFIXES = {".jpg", ".jpeg", ".png"}

VARIANTS: dict[str, dict[str, Any]] = {
    "reference": {"multiscale": False, "init": "content", "precision": "float32", "style_loss": "gram"},
    "default": {},  # W2 from the photo in the painting's palette, 256 → 512 px, precision auto
    "gram-draft": {"style_loss": "gram", "init": "fast"},  # the previous default
    "w2-draft": {"style_loss": "w2", "init": "fast"},
    "sliced-draft": {"style_loss": "sliced", "init": "fast"},
    "gram": {"style_loss": "gram", "init": "content"},
    "sliced": {"style_loss": "sliced", "init": "content"},
    "average": {"average": 0.7},
    "float32": {"precision": "float32"},
    "bfloat16": {"precision": "bfloat16"},
}
SHEET_VARIANTS = ["default", "gram", "sliced", "gram-draft", "reference"]


def options(kind: str, size: int, ref_iterations: int) -> Any:
    from impasto.quality import QualityOptions

    extra = dict(VARIANTS[kind])
    if kind == "reference":
        extra["iterations"] = ref_iterations
    return QualityOptions(size=size, **extra)


def photos(data: Path) -> list[Path]:
    folder = data / "content" if (data / "content").is_dir() else data
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if not found:
        raise SystemExit(f"no photos in {folder}")
    return found


def default_data() -> Path:
    return TEST_DATA if TEST_DATA.is_dir() else ROOT.parent / "shared" / "data"


def load_style(name: str) -> Any:
    from impasto.imageio import load_image

    if Path(name).is_file():
        return load_image(name)
    from impasto import gallery

    return gallery.style(name).image


def child(kind: str, size: int, ref_iterations: int, content: str, style: str, out: str) -> None:
    from impasto.imageio import load_image
    from impasto.quality import run_quality
    from impasto.styles import Style

    photo, painting = load_image(content), load_style(style)
    opts = options(kind, size, ref_iterations)
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


class Evaluator:
    """One fixed ruler for every picture: VGG16 in float32, Gram and W2 style losses, content loss."""

    def __init__(self) -> None:
        import torch

        from impasto.quality.backbones import load_backbone
        from impasto.quality.engine import Encoder

        self.torch = torch
        self.encoder = Encoder(load_backbone(), torch.device("cpu"), torch.float32)

    def score(self, image: Any, photo: Any, painting: Any) -> dict[str, float]:
        from impasto.quality import QualityOptions
        from impasto.quality.engine import Objective, resize, to_tensor
        from impasto.quality.plan import Scale
        from impasto.styles import Style

        scale = Scale(image.size, 1)
        out = {}
        with self.torch.no_grad():
            for loss in ("gram", "w2"):
                opts = QualityOptions(size=max(image.size), precision="float32", style_loss=loss)
                objective = Objective(
                    self.encoder,
                    to_tensor(resize(photo, scale.size), self.encoder.device),
                    [Style(painting)],
                    scale,
                    opts,
                )
                parts = objective(to_tensor(image, self.encoder.device))[1]
                out[f"style_{loss}"] = parts["style"]
                out["content"] = parts["content"]
        return out


def bench(args: argparse.Namespace) -> None:
    from impasto.imageio import load_image
    from impasto.quality.memory import largest_long_side

    out = Path(args.out)
    out.mkdir(exist_ok=True)
    content = args.content or str(photos(Path(args.data))[0])
    kinds = args.variants.split(",")
    evaluator = Evaluator()
    photo, painting = load_image(content), load_style(args.style)
    print(f"{Path(content).name} × {args.style}, {args.size} px long side")
    runs = {}
    for kind in kinds:
        cmd = [
            sys.executable, __file__, "--child", kind, "--size", str(args.size),
            "--reference-iterations", str(args.reference_iterations),
            "--content", content, "--style", args.style, "--out", str(out),
        ]  # fmt: skip
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        r = runs[kind] = json.loads(line)
        r["score"] = evaluator.score(load_image(str(out / f"{kind}.png")), photo, painting)
        print(f"\n== {kind}: plan {r['plan']}  precision {r['precision']}")
        print("   s/iteration per scale: " + ", ".join(f"{s:.3f}" for s in r["sec_per_iteration"]))
        print(f"   wall {r['wall']:.1f} s   peak RSS {r['peak_rss'] / 2**30:.2f} GiB")
        print("   scored: " + ", ".join(f"{k} {v:.4f}" for k, v in r["score"].items()))
    if "reference" in runs:
        ref = runs["reference"]
        print("\nagainst the reference (speed-up = reference wall / wall; loss ratios <= 1: as stylised):")
        for kind in [k for k in kinds if k != "reference"]:
            r, s, base = runs[kind], runs[kind]["score"], ref["score"]
            ratios = "   ".join(f"{k} {s[k] / base[k]:.3f}" for k in ("style_gram", "style_w2", "content"))
            print(f"  {kind:10s} speed-up {ref['wall'] / r['wall']:6.2f}x   {ratios}")
    if "default" in runs and "float32" in runs:
        d, f = runs["default"], runs["float32"]
        print(
            f"\n{d['precision']} vs float32, s/iteration at the finest scale: "
            f"{d['sec_per_iteration'][-1]:.3f} vs {f['sec_per_iteration'][-1]:.3f} "
            f"({f['sec_per_iteration'][-1] / d['sec_per_iteration'][-1]:.2f}x)"
        )
    for aspect in [(4, 3), (1, 1)]:
        side = largest_long_side(16 * 2**30, aspect)
        print(f"largest output that fits in 16 GiB ({aspect[0]}:{aspect[1]}): {side} px long side")


def precision(args: argparse.Namespace) -> None:
    """float32 vs bfloat16 per iteration, interleaved in one process (fastest of ``--repeats``)."""
    import torch

    from impasto.device import cpu_has_fast_bf16
    from impasto.imageio import load_image
    from impasto.quality import QualityOptions
    from impasto.quality.backbones import load_backbone
    from impasto.quality.engine import Encoder, Objective, resize, to_tensor
    from impasto.quality.plan import Scale, fit
    from impasto.styles import Style

    content = args.content or str(photos(Path(args.data))[0])
    photo, painting = load_image(content), load_style(args.style)
    opts = QualityOptions(size=args.size)
    size = fit(photo.size, args.size)
    net, cpu = load_backbone(opts.backbone, opts.pooling, opts.weights), torch.device("cpu")
    image = to_tensor(resize(photo, size), cpu)
    objectives = {
        dtype: Objective(Encoder(net, cpu, dtype), image, [Style(painting)], Scale(size, 1), opts)
        for dtype in (torch.float32, torch.bfloat16)
    }
    best = dict.fromkeys(objectives, float("inf"))
    for _ in range(args.repeats):
        for dtype, objective in objectives.items():
            pixels = image.clone().requires_grad_(True)
            start = time.perf_counter()
            total, _ = objective(pixels)
            total.backward()
            best[dtype] = min(best[dtype], time.perf_counter() - start)
    f32, bf16 = best[torch.float32], best[torch.bfloat16]
    print(
        f"{Path(content).name} × {args.style} at {size[0]}×{size[1]}, fastest of {args.repeats}, "
        f"CPU {'with' if cpu_has_fast_bf16() else 'without'} native bfloat16 (AMX-BF16/AVX512-BF16)"
    )
    print(f"one iteration: float32 {f32:.3f} s, bfloat16 {bf16:.3f} s → bfloat16 {f32 / bf16:.2f}x faster")


def sheet(args: argparse.Namespace) -> None:
    """Photos × paintings × variants in one picture, with the evaluator's scores printed per cell."""
    from PIL import Image, ImageDraw

    from impasto.imageio import load_image
    from impasto.quality import run_quality
    from impasto.quality.plan import fit
    from impasto.styles import Style

    kinds = args.variants.split(",") if args.variants != ",".join(VARIANTS) else SHEET_VARIANTS
    evaluator = Evaluator()
    size = args.sheet_size
    cell = (size, round(size * 3 / 4))
    label = 18
    pairs = [(p, s) for p in photos(Path(args.data))[: args.photos] for s in args.styles.split(",")]
    if args.pairs:
        by_stem = {p.stem: p for p in photos(Path(args.data))}
        pairs = [(by_stem[a], b) for a, b in (pair.split(":") for pair in args.pairs.split(","))]
    columns = ["photo", "painting", *kinds]
    grid = Image.new("RGB", (cell[0] * len(columns), (cell[1] + label) * len(pairs) + label), "white")
    draw = ImageDraw.Draw(grid)
    for c, name in enumerate(columns):
        draw.text((c * cell[0] + 4, 3), name, fill="black")

    def put(img: Image.Image, row: int, col: int, text: str = "") -> None:
        img = img.copy()
        img.thumbnail(cell)
        y = label + row * (cell[1] + label)
        grid.paste(img, (col * cell[0] + (cell[0] - img.width) // 2, y))
        draw.text((col * cell[0] + 4, y + cell[1] + 3), text, fill="black")

    for row, (photo_path, style_name) in enumerate(pairs):
        photo, painting = load_image(str(photo_path)), load_style(style_name)
        put(photo, row, 0, photo_path.stem)
        put(painting, row, 1, Path(style_name).stem)
        for col, kind in enumerate(kinds, start=2):
            saved = Path(args.cells or ".") / f"{photo_path.stem}-{Path(style_name).stem}-{kind}.png"
            if (args.reuse or args.assemble) and saved.is_file():  # painted earlier: score it only
                image, wall, plan = load_image(str(saved)), float("nan"), "(reused)"
            elif args.assemble:  # not painted (yet): leave the cell empty
                put(Image.new("RGB", (8, 6), "white"), row, col, "not painted")
                continue
            else:
                start = time.perf_counter()
                result = run_quality(photo, [Style(painting)], options(kind, size, args.reference_iterations))
                wall = time.perf_counter() - start
                image, plan = result.image, result.plan.describe()
                if args.cells:
                    saved.parent.mkdir(parents=True, exist_ok=True)
                    image.save(saved)
            s = evaluator.score(image, photo, painting)
            took = f"{wall:.0f}s " if wall == wall else ""  # nan: reused, not timed
            put(image, row, col, f"{took}g{s['style_gram']:.3f} w{s['style_w2']:.3f}")
            print(
                f"{photo_path.stem:10s} {style_name:14s} {kind:10s} plan {plan:24s} "
                f"wall {wall:6.1f} s  gram {s['style_gram']:.4f}  w2 {s['style_w2']:.4f}  "
                f"content {s['content']:.4f}",
                flush=True,
            )
        save(grid, Path(args.sheet_out))  # after every row: something to look at while it paints
    target = Path(args.sheet_out)
    print(
        f"wrote {target} ({target.stat().st_size / 2**20:.2f} MiB), cells {cell[0]}×{cell[1]} "
        f"(paintings at {size} px long side; aspect {fit((4, 3), size)})"
    )


def save(grid: Any, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    grid.save(target, quality=82, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--reference-iterations", type=int, default=300)
    parser.add_argument("--data", default=str(default_data()), help="folder of photos (or with content/)")
    parser.add_argument("--content", help="the benchmark's photo (default: the first of --data)")
    parser.add_argument("--style", default="starry-night", help="gallery name or image file")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", default="bench-out")
    parser.add_argument("--sheet", action="store_true", help="render the contact sheet instead")
    parser.add_argument("--sheet-size", type=int, default=256)
    parser.add_argument("--sheet-out", default=str(ROOT / "docs" / "quality-sheet.jpg"))
    parser.add_argument("--styles", default="starry-night,the-scream,woman-with-hat")
    parser.add_argument("--photos", type=int, default=2, help="how many photos of --data")
    parser.add_argument("--pairs", help="photo-stem:style pairs instead of photos × styles, comma-separated")
    parser.add_argument("--cells", help="also save every painting of the sheet in this folder")
    parser.add_argument("--reuse", action="store_true", help="take paintings already in --cells as they are")
    parser.add_argument("--assemble", action="store_true", help="only assemble --cells; paint nothing")
    parser.add_argument("--precision", action="store_true", help="float32 vs bfloat16 per iteration")
    parser.add_argument("--repeats", type=int, default=8, help="--precision: fastest of this many")
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out = Path(args.out)
        child(
            args.child,
            args.size,
            args.reference_iterations,
            args.content,
            args.style,
            str(out / f"{args.child}.png"),
        )
    elif args.sheet:
        sheet(args)
    elif args.precision:
        precision(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
