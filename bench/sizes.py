"""Quality mode at print sizes: time, peak memory and the up-front estimate per size, in one run.

    .venv/bin/python bench/sizes.py                          # 512, 1024, 2048 px; float32 and auto
    .venv/bin/python bench/sizes.py --sizes 2048 --precisions float32 --photo my-12mp.jpg

Each painting is ``impasto stylize PHOTO STYLE -o OUT --size N --precision P`` in its own process
(peak RSS is that process's, the photo's decoding included), on a 4000 × 3000 photo: ``--photo``
as it is, or by default the repository's test photo of Tübingen enlarged to that size (a phone
photo's pixel count; its detail is the small photo's). Before each painting the engine's own
estimate (:func:`impasto.quality.estimate`, what the web page shows and a time budget is checked
against) is printed beside the measured time. ``--sheet`` writes a contact sheet of 100 % crops:
the same part of the picture, pixel for pixel, at every size.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

from PIL import Image, ImageDraw

from impasto.quality.options import Precision

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "data" / "content" / "tubingen.jpg"
PHONE = (4000, 3000)


def phone_photo(folder: Path, photo: str | None) -> Path:
    if photo:
        return Path(photo)
    out = folder / "photo-4000x3000.jpg"
    Image.open(PHOTO).convert("RGB").resize(PHONE, Image.Resampling.LANCZOS).save(out, quality=92)
    return out


def estimate(photo: Path, size: int, precision: str) -> float:
    from impasto.quality import QualityOptions, estimate

    with Image.open(photo) as img:
        return estimate(img.size, QualityOptions(size=size, precision=cast(Precision, precision))).seconds


# The child paints through the CLI and reports its own peak RSS (RUSAGE_CHILDREN would give the
# largest child so far, not this one's).
CHILD = """
import resource, sys
from impasto.cli import main
code = main(sys.argv[1:])
print(f"peak-kib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def paint(photo: Path, style: str, size: int, precision: str, out: Path) -> tuple[float, float, str]:
    """(wall seconds, peak GiB, the CLI's last line) of one painting in a child process."""
    cmd = [sys.executable, "-c", CHILD, "stylize", str(photo), style, "-o", str(out), "--size", str(size)]
    cmd += ["--precision", precision, "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    found = re.search(r"peak-kib (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{' '.join(cmd[3:])} failed: {done.stderr.strip()}")
    return wall, int(found.group(1)) / 2**20, (done.stdout.strip().splitlines() or [""])[-1]


def crops(paths: dict[int, Path], out: Path, window: tuple[int, int] = (480, 360)) -> None:
    """The same part of the picture at 100 % at every size: a window around (45 %, 40 %)."""
    tiles = []
    for size, path in sorted(paths.items()):
        with Image.open(path) as img:
            x = max(0, min(round(img.width * 0.45 - window[0] / 2), img.width - window[0]))
            y = max(0, min(round(img.height * 0.40 - window[1] / 2), img.height - window[1]))
            tile = img.convert("RGB").crop((x, y, x + window[0], y + window[1]))
        ImageDraw.Draw(tile).text((8, 8), f"{size} px, 100 %", fill=(255, 255, 255))
        tiles.append(tile)
    sheet = Image.new("RGB", (window[0] * len(tiles), window[1]))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (i * window[0], 0))
    sheet.save(out, quality=88)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="512,1024,2048")
    parser.add_argument("--precisions", default="float32,auto")
    parser.add_argument("--style", default="starry-night")
    parser.add_argument("--photo", help="a large photo (default: the test photo enlarged to 4000 × 3000)")
    parser.add_argument("--out", default="bench-out/sizes")
    parser.add_argument("--sheet", help="write the 100 %% crops of the float32 paintings here")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"threads: {os.environ.get('OMP_NUM_THREADS', 'torch default')}; cpu: {cpu_name()}")
    print(f"{'size':>6} {'precision':>9} {'estimate':>9} {'wall':>8} {'ratio':>6} {'peak':>9}  result")
    with tempfile.TemporaryDirectory() as tmp:
        photo = phone_photo(Path(tmp), args.photo)
        painted: dict[int, Path] = {}
        for precision in args.precisions.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                guess = estimate(photo, size, precision)
                path = out / f"quality-{size}-{precision}.png"
                wall, peak, line = paint(photo, args.style, size, precision, path)
                if precision == "float32":
                    painted[size] = path
                print(
                    f"{size:>6} {precision:>9} {guess:>8.1f}s {wall:>7.1f}s {wall / guess:>6.2f} "
                    f"{peak:>6.2f} GiB  {line}",
                    flush=True,
                )
        if args.sheet and painted:
            crops(painted, Path(args.sheet))


def cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    name = re.search(r"model name\s*:\s*(.*)", text)
    flags = set(re.findall(r"\b(amx_bf16|avx512_bf16)\b", text))
    return f"{name.group(1) if name else 'unknown'} ({', '.join(sorted(flags)) or 'no bf16 instructions'})"


if __name__ == "__main__":
    main()
