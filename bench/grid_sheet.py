"""A small contact sheet of judge-grid results, for the README: photo | painting | each grid's painting.

``../shared/tools/judge-grid OUTDIR [options]`` paints every photo × painting of ../shared/data and
scores each (scores.tsv); this script lays out the pairs of several such OUTDIRs side by side, with
their scores, for the pairs named (by default the public-domain ones: the classic photos × the
classic paintings, the only ones the repository may show).

    .venv/bin/python bench/grid_sheet.py docs/quality-grid.jpg fast=OUT_FAST quality=OUT_DEFAULT
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PHOTOS = ("tubingen", "sailboat", "hoover_tower_night")
PAINTINGS = ("starry_night", "the_scream", "shipwreck", "woman_with_hat", "udnie")


def scores(folder: Path) -> dict[tuple[str, str], str]:
    out = {}
    for line in (folder / "scores.tsv").read_text().splitlines():
        photo, painting, _seconds, figures = line.split("\t")[:4]
        out[(photo, painting)] = figures.replace("style=", "style ").replace(" structure=", " · structure ")
    return out


def tile(path: Path, height: int) -> Image.Image:
    img = Image.open(path).convert("RGB")
    return img.resize((max(1, round(img.width * height / img.height)), height), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("grids", nargs="+", help="LABEL=OUTDIR of a judge-grid run")
    parser.add_argument("--height", type=int, default=170)
    args = parser.parse_args()
    grids = [(label, Path(folder)) for label, folder in (g.split("=", 1) for g in args.grids)]
    figures = {label: scores(folder) for label, folder in grids}
    rows = []
    for photo in PHOTOS:
        for painting in PAINTINGS:
            images = [tile(next((DATA / "content").glob(photo + ".*")), args.height)]
            images.append(tile(next((DATA / "style").glob(painting + ".*")), args.height))
            images += [tile(folder / f"{photo}__{painting}.png", args.height) for _, folder in grids]
            scored = [f"{label}: {figures[label].get((photo, painting), '')}" for label, _ in grids]
            labels = ["photo", "painting", *scored]
            rows.append((images, labels))
    width = max(sum(i.width + 6 for i in images) for images, _ in rows) + 6
    sheet = Image.new("RGB", (width, len(rows) * (args.height + 20) + 6), "white")
    draw, y = ImageDraw.Draw(sheet), 6
    for images, labels in rows:
        x = 6
        for img, label in zip(images, labels, strict=True):
            draw.text((x, y), label, fill="black")
            sheet.paste(img, (x, y + 14))
            x += img.width + 6
        y += args.height + 20
    sheet.save(args.out, quality=75)
    print(f"{args.out}: {len(rows)} pairs, {sheet.size[0]}×{sheet.size[1]}")


if __name__ == "__main__":
    main()
