"""``impasto styles`` (list or add gallery styles) and ``impasto sheet`` (a contact sheet)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import OptionsError
from ..imageio import output_format, save_image


def register(sub: Any) -> None:
    styles: argparse.ArgumentParser = sub.add_parser(
        "styles",
        help="list the style gallery, or add your own style to it",
        description="List the gallery's named styles (use a name wherever a style image is expected), "
        "or save a style image of your own under a name with `impasto styles add NAME IMAGE`.",
    )
    styles.set_defaults(handler=run_list)
    styles_sub = styles.add_subparsers(dest="styles_command", metavar="ACTION")
    add = styles_sub.add_parser("add", help="save a style image into your gallery under a name")
    add.add_argument("name", help="kebab-case name, e.g. my-watercolour")
    add.add_argument("image", help="the style image (JPEG, PNG, WebP, ...)")
    add.add_argument("--title", default=None, help="title of the work")
    add.add_argument("--artist", default="", help="who made it")
    add.add_argument("--year", default="", help="when it was made")
    add.add_argument("--licence", default="the user's own", help="licence note kept with it")
    add.add_argument("--replace", action="store_true", help="overwrite a style of yours with that name")
    add.set_defaults(handler=run_add)

    sheet: argparse.ArgumentParser = sub.add_parser(
        "sheet",
        help="paint one photo in every gallery style, on one labelled sheet",
        description="Render a contact sheet: the photo painted in each gallery style, labelled.",
    )
    sheet.add_argument("photo", help="the photo")
    sheet.add_argument("-o", "--output", required=True, help="where to save the sheet (.png, .jpg, .webp)")
    sheet.add_argument("--size", type=int, default=256, help="long side of each picture in px (default 256)")
    sheet.add_argument("--columns", type=int, default=3, help="pictures per row (default 3)")
    sheet.add_argument("--mode", choices=["fast", "quality"], default="fast", help="engine (default fast)")
    sheet.set_defaults(handler=run_sheet)


def run_list(args: argparse.Namespace) -> int:
    from .. import gallery  # the gallery computes style vectors with the fast engine (torch)

    entries = gallery.list_styles()
    width = max((len(e.name) for e in entries), default=4)
    for entry in entries:
        origin = "" if entry.builtin else "  (yours)"
        year = f" ({entry.year})" if entry.year else ""
        artist = f", {entry.artist}" if entry.artist else ""
        print(f"{entry.name:<{width}}  {entry.title}{artist}{year}{origin}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from .. import gallery  # the gallery computes style vectors with the fast engine (torch)

    entry = gallery.add_style(
        args.name, Path(args.image), title=args.title, artist=args.artist, year=args.year,
        licence=args.licence, replace=args.replace,
    )  # fmt: skip
    print(f"saved {entry.name!r} to {entry.path}; use it as: impasto stylize PHOTO {entry.name}")
    return 0


def run_sheet(args: argparse.Namespace) -> int:
    from ..sheet import contact_sheet  # the engines (torch) load only when a command paints

    output_format(args.output)  # refuse a bad suffix before any painting
    if args.size < 16 or args.columns < 1:
        raise OptionsError("--size must be at least 16 and --columns at least 1")
    sheet = contact_sheet(
        Path(args.photo), size=args.size, mode=args.mode, columns=args.columns,
        on_style=lambda name: print(f"painting {name}...", file=sys.stderr),
    )  # fmt: skip
    save_image(sheet, args.output)
    print(f"wrote {args.output}")
    return 0
