"""``impasto stylize CONTENT STYLE [STYLE ...] -o OUT``: paint one photo or a folder of them."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from tqdm import tqdm

from ..color import COLOR_MODES
from ..errors import Cancelled, ImpastoError, OptionsError
from ..fast.options import FastOptions
from ..imageio import OUTPUT_FORMATS, output_format, save_image
from ..options import add_cli_flag, marked
from ..progress import CancelToken, DoneEvent, Event, IterationEvent, PreviewEvent, StageEvent, duration
from ..quality.options import QualityOptions
from ..styles import parse_weighted
from .gallery import use_saved_styles

#: The engine options this command has flags for: those their schema marks ``cli`` (type, range,
#: choices, help and default all come from :class:`QualityOptions` and :class:`FastOptions`).
ENGINE_FLAG_FIELDS = marked("cli", QualityOptions, FastOptions)
ENGINE_FLAGS = tuple(ENGINE_FLAG_FIELDS)
EXIT_INTERRUPTED = 130
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def _number(kind: type, low: float | None = None, high: float | None = None, what: str = "") -> Any:
    """An argparse type: a number of ``kind`` within [low, high], refused at once (before the
    engines load) with a message that names the range."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
            raise argparse.ArgumentTypeError(f"must be {bounds}{what}, not {text}")
        return value

    parse.__name__ = "int" if kind is int else "number"
    return parse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "stylize",
        help="paint a photo in the style of one or more artworks",
        description="Paint CONTENT (an image, or a folder of images) in the style of STYLE. "
        "A style is an image file or a gallery name (see `impasto styles`); blend several with "
        "weights as `starry.jpg:0.7 scream.jpg:0.3` or --style-weights 0.7,0.3.",
    )
    p.add_argument("content", help="photo to paint, or a folder of photos")
    p.add_argument(
        "styles", nargs="+", metavar="STYLE", help="style image(s) or gallery name(s), optionally :WEIGHT"
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (.png/.jpg/.webp) in an existing folder, or a folder for a batch",
    )
    p.add_argument(
        "--mode",
        choices=["quality", "fast"],
        default="quality",
        help="quality: optimisation (best, slower); fast: feed-forward network (under a second)",
    )
    p.add_argument("--style-weights", help="comma-separated blend weights, one per style")
    p.add_argument(
        "--preserve-color",
        nargs="?",
        const="luminance",
        default="none",
        choices=list(COLOR_MODES),
        help="keep the photo's colours (alone: luminance)",
    )
    add_region_argument(p)
    for name, field in ENGINE_FLAG_FIELDS.items():  # type, range, choices, help: the engines' schema
        fast_only = name not in QualityOptions.__dataclass_fields__
        add_cli_flag(p, field, help_prefix="fast mode: " if fast_only else "")
    add_device_arguments(p)
    p.add_argument(
        "--save-every",
        type=_number(int, 0),
        default=0,
        metavar="N",
        help="write a preview every N iterations",
    )
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The engine keyword options the user set, refusing ones that do not apply to the mode."""

    given = {n: getattr(args, n) for n in ENGINE_FLAGS if getattr(args, n) is not None}
    check_engine_flags(args.mode, given)
    given.update(device=args.device, precision=args.precision)
    if args.mode == "quality" and args.save_every:
        given["preview_every"] = args.save_every
    return given


def add_region_argument(p: argparse.ArgumentParser) -> None:
    """--region MASK=STYLE (repeatable): a part of the picture in a style of its own, or kept."""
    p.add_argument(
        "--region",
        action="append",
        type=_region,
        metavar="MASK=STYLE",
        help="paint the white part of MASK (a greyscale picture) in STYLE (a gallery name or an image), "
        "or keep the photo there with MASK=keep; repeat for more regions (later ones lie over earlier "
        "ones); the main style paints what no region claims",
    )


def _region(text: str) -> tuple[str, str]:
    mask, sep, style = text.partition("=")
    if not sep or not mask or not style:
        raise argparse.ArgumentTypeError(f"{text!r}: give MASK=STYLE (sky.png=the-scream, face.png=keep)")
    return mask, style


def add_device_arguments(p: argparse.ArgumentParser) -> None:
    """--device and --precision, as every painting command takes them."""
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="auto (default: bfloat16 only where the hardware has it), float32 or bfloat16",
    )


def check_engine_flags(mode: str, given: dict[str, Any]) -> None:
    """Refuse non-finite numbers and engine flags that do not apply to ``mode`` (one line each)."""
    from ..api import mode_options  # the engines (torch) load only when a command paints

    for name, value in given.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionsError(f"--{name.replace('_', '-')} must be a finite number, not {value}")
    misplaced = [n for n in given if n not in mode_options(mode)]
    if misplaced:
        flags = ", ".join("--" + n.replace("_", "-") for n in misplaced)
        raise OptionsError(f"{flags} do(es) not apply to {mode} mode")


def parse_styles(args: argparse.Namespace) -> tuple[list[str], list[float] | None]:
    names, weights = [], []
    for text in args.styles:
        name, weight = parse_weighted(text)
        names.append(name)
        weights.append(weight)
    use_saved_styles(names)
    if args.style_weights:
        if any(w is not None for w in weights):
            raise OptionsError("give style weights either as STYLE:WEIGHT or with --style-weights, not both")
        try:
            parsed = [float(w) for w in args.style_weights.split(",")]
        except ValueError:
            raise OptionsError(
                f"--style-weights must be numbers separated by commas, not {args.style_weights!r}"
            ) from None
        weights = list(parsed)
    bad = [w for w in weights if w is not None and not math.isfinite(w)]
    if bad:
        raise OptionsError(f"style weights must be finite numbers, not {bad[0]}")
    if args.style_weights:
        return names, [w for w in weights if w is not None]
    if all(w is None for w in weights):
        return names, None
    return names, [1.0 if w is None else w for w in weights]


def jobs(content: Path, output: Path) -> list[tuple[Path, Path]]:
    """(photo, output) pairs: one, or every image of a folder into an output folder."""
    if not content.is_dir():
        output_format(output)
        _folder_exists(output.parent)
        return [(content, output)]
    if output.suffix.lower() in OUTPUT_FORMATS:
        raise OptionsError(f"{content} is a folder: give a folder as output too, not {output}")
    photos = sorted(p for p in content.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not photos:
        raise OptionsError(f"{content}: no images (.jpg, .png, .webp, …) in this folder")
    _folder_exists(output.parent)  # the batch's own folder is made, but not a whole missing path
    if output.exists() and not output.is_dir():
        raise OptionsError(f"{output} is a file: give a folder as output for a batch")
    output.mkdir(exist_ok=True)
    return [(p, output / f"{p.stem}.png") for p in photos]


def _folder_exists(folder: Path) -> None:
    if not (folder if str(folder) else Path(".")).is_dir():
        raise OptionsError(f"{folder}: no such folder (create it first, or choose another output)")


WORK_UNITS = 1000
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {postfix}"


class Reporter:
    """Turns progress events into one progress line (stages first, then a tqdm bar) and previews."""

    STAGES: ClassVar[dict[str, str]] = {
        "loading": "loading the network",
        "analysing style": "analysing the style",
        "drafting": "drafting",
        "painting": "painting",
    }

    def __init__(self, out: Path, show: bool, save_previews: bool) -> None:
        self.out, self.show, self.save_previews = out, show, save_previews
        self.bar: tqdm[Any] | None = None
        self.done: DoneEvent | None = None
        self.previews: list[str] = []
        self.latest: Any = None  # the latest preview picture, saved if the run is interrupted

    def stage(self, stage: str) -> None:
        """Show ``stage`` on the progress line at once (the bar counts iterations once they start)."""
        if not self.show:
            return
        if self.bar is None:
            self.bar = tqdm(total=None, file=sys.stderr, leave=False, bar_format="{desc}")
        self.bar.set_description_str(f"{self.out.name}: {self.STAGES.get(stage, stage)}…")

    def __call__(self, event: Event) -> None:
        if isinstance(event, IterationEvent) and self.show:
            # the bar counts work, not iterations: at 2048 px one iteration of the last scale costs
            # as much as a hundred at 256 px; the time left is the engine's, from the plan's costs
            if self.bar is None or self.bar.total is None:
                if self.bar is not None:
                    self.bar.close()
                desc = f"{self.out.name}: painting"
                self.bar = tqdm(
                    total=WORK_UNITS, desc=desc, file=sys.stderr, leave=False, bar_format=BAR_FORMAT
                )
            left = f" · about {duration(event.eta)} left" if event.eta is not None else ""
            loss = f" · style loss {event.losses['style']:.3g}" if "style" in event.losses else ""
            self.bar.set_postfix_str(
                f"scale {event.scale}/{event.scales} {event.size[0]}×{event.size[1]}{left}{loss}",
                refresh=False,
            )
            self.bar.update(round(event.fraction * WORK_UNITS) - self.bar.n)
        elif isinstance(event, StageEvent):
            self.stage(event.stage)
        elif isinstance(event, PreviewEvent):
            self.latest = event.image
            if self.save_previews:
                path = self.out.with_name(f"{self.out.stem}-step{event.step:05d}.png")
                save_image(event.image, path)
                self.previews.append(str(path))
        elif isinstance(event, DoneEvent):
            self.done = event

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextlib.contextmanager
def interruptible(token: CancelToken) -> Iterator[None]:
    """The first Ctrl+C asks the engine to stop (it returns the painting so far); a second one
    interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum: int, _frame: Any) -> None:
        token.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def partial_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}-partial{out.suffix}")


def run(args: argparse.Namespace) -> int:
    options = engine_options(args)
    names, weights = parse_styles(args)
    summary: list[dict[str, Any]] = []
    failures = 0
    pairs = jobs(Path(args.content), Path(args.output))
    show = not (args.quiet or args.json)
    if show:  # the engines take a few seconds to import: say so from the first moment
        print(f"{pairs[0][1].name}: loading…", end="\r", file=sys.stderr, flush=True)
    from ..api import stylize

    for photo, out in pairs:
        reporter = Reporter(out, show=show, save_previews=bool(args.save_every))
        token = CancelToken()
        try:
            with interruptible(token):
                picture = stylize(
                    photo,
                    names,
                    mode=args.mode,
                    style_weights=weights,
                    preserve_color=args.preserve_color,
                    progress=reporter,
                    cancel=token,
                    regions=args.region,
                    **options,
                )
            if token.cancelled:
                reporter.close()
                return _interrupted(picture, out)
            save_image(picture, out)
        except Cancelled:
            reporter.close()
            return _interrupted(reporter.latest, out)
        except ImpastoError as exc:
            if len(pairs) == 1:
                raise
            failures += 1
            message = str(exc) if str(photo) in str(exc) else f"{photo}: {exc}"
            print(f"impasto: error: {message}", file=sys.stderr)
            summary.append({"content": str(photo), "error": str(exc)})
            continue
        finally:
            reporter.close()
        done = reporter.done
        summary.append(
            {
                "content": str(photo),
                "output": str(out),
                "size": list(picture.size),
                "seconds": done.elapsed if done else None,
                "losses": done.losses if done else {},
                "previews": reporter.previews,
            }
        )
        if not args.json:
            print(f"wrote {out} ({picture.size[0]}×{picture.size[1]})")
    if args.json:
        print(json.dumps({"mode": args.mode, "results": summary}, indent=2))
    return 2 if failures else 0


def _interrupted(picture: Any, out: Path) -> int:
    """Ctrl+C: keep the painting so far (if there is one) next to the output, and say where."""
    if picture is None:
        print("impasto: interrupted before the painting began; nothing saved", file=sys.stderr)
    else:
        path = save_image(picture, partial_path(out))
        print(f"impasto: interrupted; the painting so far is in {path}", file=sys.stderr)
    return EXIT_INTERRUPTED
