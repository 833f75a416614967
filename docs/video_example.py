"""Make the README's video example: a camera pan over Tübingen, painted as The Starry Night.

    make video-example                       # or: .venv/bin/python docs/video_example.py
    .venv/bin/python docs/video_example.py --photo my.jpg --style udnie

Writes, next to this script:

* ``video-example.mp4`` — the pan painted by ``impasto video`` (fast mode, default stability);
* ``video-example-flicker.mp4`` — per-frame painting (left) beside the steadied one (right);
* ``video-example.jpg`` — three frames of the input, per-frame and steadied paintings.
"""

from __future__ import annotations

import argparse
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

import impasto
from impasto.video import VideoLimits, VideoReader, VideoWriter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHOTO_DIRS = (ROOT / "tests" / "data", ROOT.parent / "shared" / "data")


def find_photo() -> Path:
    for folder in PHOTO_DIRS:
        found = sorted(folder.rglob("tubingen*.jpg")) if folder.is_dir() else []
        if found:
            return found[0]
    raise SystemExit("no tubingen*.jpg in tests/data or ../shared/data: use --photo FILE")


def make_pan(photo: Path, path: Path, size: tuple[int, int] = (640, 360), frames: int = 72) -> Path:
    """A slow pan right with a gentle zoom in, 24 fps."""
    width, height = size
    img = Image.open(photo).convert("RGB")
    scale = max(1.25 * height / img.height, (width * 1.25 + 2 * frames) / img.width)
    big = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "16"}
        for i in range(frames):
            zoom = 1.2 - 0.15 * i / frames
            w, h = round(width * zoom), round(height * zoom)
            left, top = 2 * i, (big.height - h) // 2
            window = big.crop((left, top, left + w, top + h)).resize(size, Image.Resampling.LANCZOS)
            frame = av.VideoFrame.from_ndarray(np.asarray(window), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def frames(path: Path) -> list[np.ndarray]:
    with VideoReader(path, VideoLimits()) as reader:
        return [f.rgb for f in reader.frames()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", type=Path, help="photo to pan over (default: Tübingen from the test data)")
    parser.add_argument("--style", default="starry-night")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_pan(args.photo or find_photo(), Path(tmp) / "pan.mp4")
        steady = impasto.stylize_video(clip, args.style, args.out / "video-example.mp4", crf=24)
        raw = impasto.stylize_video(clip, args.style, Path(tmp) / "raw.mp4", flow=False, crf=18)
        print(f"painted {steady.frames} frames at {steady.frames / steady.seconds:.2f} frames/s")
        source, left, right = frames(clip), frames(raw.path), frames(steady.path)
    half = (320, 180)
    writer = VideoWriter(
        args.out / "video-example-flicker.mp4",
        (640, 180),
        Fraction(steady.fps).limit_denominator(1001),
        crf=24,
    )
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        pair = np.concatenate([_shrink(a, half), _shrink(b, half)], axis=1)
        writer.write(pair, i / steady.fps)
    writer.finish()
    picks = [0, len(source) // 2, len(source) - 1]
    rows = [np.concatenate([_shrink(x[i], half) for i in picks], axis=1) for x in (source, left, right)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out / "video-example.jpg", quality=88)
    for name in ("video-example.mp4", "video-example-flicker.mp4", "video-example.jpg"):
        print(f"wrote {args.out / name} ({(args.out / name).stat().st_size / 1024:.0f} KiB)")


def _shrink(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


if __name__ == "__main__":
    main()
