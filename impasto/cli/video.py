"""``impasto video IN STYLE [STYLE ...] -o OUT``: paint a clip, steadied from frame to frame.

Painted frames are kept in a work folder beside the output (``OUT.frames/``) until the clip is
written, so after Ctrl+C or a kill the same command resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..color import COLOR_MODES
from ..fast.options import FastOptions
from ..options import add_cli_flag, schema
from ..progress import Event, IterationEvent
from .stylize import add_device_arguments, check_engine_flags, parse_styles


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "video",
        help="paint a video clip in the style of one or more artworks",
        description="Paint every frame of IN (MP4, WebM, MOV or animated GIF) in the style of STYLE and "
        "write OUT (.mp4 or .gif) with the same frame rate, frame count and sound. Frames are steadied "
        "along the optical flow so the painting does not flicker.",
    )
    p.add_argument("input", help="video clip to paint")
    p.add_argument(
        "styles", nargs="+", metavar="STYLE", help="style image(s) or gallery name(s), optionally :WEIGHT"
    )
    p.add_argument("-o", "--output", required=True, help="output clip (.mp4, .mov or .gif)")
    p.add_argument(
        "--mode",
        choices=["fast", "quality"],
        default="fast",
        help="fast (default): feed-forward network per frame; quality: optimisation per frame (short clips)",
    )
    p.add_argument("--size", type=int, help="long side of the output in px (default: the clip's)")
    p.add_argument("--style-weights", help="comma-separated blend weights, one per style")
    p.add_argument(
        "--preserve-color",
        nargs="?",
        const="luminance",
        default="none",
        choices=list(COLOR_MODES),
        help="keep the clip's colours",
    )
    fast = schema(FastOptions)  # type, range and help: the fast engine's own
    for name in ("strength", "tile_size", "brush"):
        add_cli_flag(p, fast[name], help_prefix="fast mode: ")
    p.add_argument("--iterations", type=int, help="quality mode: iterations per frame after the first")
    p.add_argument(
        "--stability",
        type=float,
        help="0..1: share of the previous painted frame kept where the motion is trusted (default 0.8)",
    )
    p.add_argument("--no-flow", dest="flow", action="store_false", help="paint every frame on its own")
    p.add_argument("--crf", type=int, default=20, help="H.264 quality, 0 (lossless) to 51 (default 20)")
    p.add_argument("--work-dir", help="where painted frames are kept for resuming (default: OUT.frames)")
    p.add_argument("--no-resume", action="store_true", help="keep no work folder (a rerun starts over)")
    p.add_argument("--max-seconds", type=float, help="refuse clips longer than this (default 600)")
    p.add_argument("--max-frames", type=int, help="refuse clips with more frames (default 36000)")
    add_device_arguments(p)
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


class FrameBar:
    """A tqdm bar counting frames."""

    def __init__(self, name: str, show: bool) -> None:
        self.name, self.show = name, show
        self.bar: tqdm[Any] | None = None

    def __call__(self, event: Event) -> None:
        if not (self.show and isinstance(event, IterationEvent)):
            return
        if self.bar is None:
            self.bar = tqdm(total=event.steps, desc=self.name, unit="frame", file=sys.stderr, leave=False)
        if self.bar.total != event.steps:
            self.bar.total = event.steps
        self.bar.update(event.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    from ..video import VideoLimits, stylize_video  # PyAV, OpenCV and the engines (torch)

    names, weights = parse_styles(args)
    options: dict[str, Any] = {"device": args.device, "precision": args.precision}
    flags = {n: getattr(args, n) for n in ("strength", "tile_size", "brush", "iterations")}
    given = {n: v for n, v in flags.items() if v is not None}
    check_engine_flags(args.mode, given)
    options.update(given)
    if args.stability is not None:
        options["stability"] = args.stability
    base = VideoLimits.from_env()
    limits = VideoLimits(
        max_seconds=args.max_seconds if args.max_seconds is not None else base.max_seconds,
        max_frame_pixels=base.max_frame_pixels,
        max_frames=args.max_frames if args.max_frames is not None else base.max_frames,
    )
    output = Path(args.output)
    work = None if args.no_resume else Path(args.work_dir or output.with_name(output.name + ".frames"))
    bar = FrameBar(output.name, show=not (args.quiet or args.json))
    try:
        result = stylize_video(
            args.input,
            names,
            output,
            mode=args.mode,
            style_weights=weights,
            preserve_color=args.preserve_color,
            flow=args.flow,
            size=args.size,
            crf=args.crf,
            work_dir=work,
            limits=limits,
            progress=bar,
            **options,
        )
    except KeyboardInterrupt:
        bar.close()
        if work is not None and work.is_dir():
            print(f"impasto: painted frames kept in {work}: run the same command to resume", file=sys.stderr)
        raise
    finally:
        bar.close()
    summary = {
        "output": str(result.path),
        "frames": result.frames,
        "painted": result.painted,
        "resumed": result.frames - result.painted,
        "size": list(result.size),
        "fps": result.fps,
        "seconds": result.seconds,
        "audio": result.audio,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        resumed = f", {summary['resumed']} resumed" if summary["resumed"] else ""
        print(
            f"wrote {result.path} ({result.size[0]}×{result.size[1]}, {result.frames} frames at "
            f"{result.fps:.3g} fps{resumed}, {result.frames / max(result.seconds, 1e-9):.2f} frames/s, "
            f"audio {result.audio})"
        )
    return 0
