"""``impasto styles`` (list, add, rename or delete gallery styles) and ``impasto sheet`` (a contact sheet).

Saved styles live in the data folder the web app uses (``IMPASTO_DATA_DIR``, else ``./data``;
``IMPASTO_DATABASE_URL`` for PostgreSQL), so the CLI, the Python API and the web app share them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import OptionsError
from ..imageio import output_format, save_image
from ..styles import looks_like_name


def use_saved_styles(names: Sequence[str] | None = None, *, create: bool = False) -> None:
    """Plug the data folder's saved styles into :mod:`impasto.gallery`: when ``create``, making the
    folder if need be; else when it exists and (if ``names`` are given) one of them is a style name
    that is not built in. Without the web extras (SQLAlchemy) the gallery keeps its plain folder."""
    if names is not None:
        from .. import gallery

        builtin = {s.name for s in gallery.builtin_styles()}
        if not any(looks_like_name(n) and not os.path.exists(n) and n not in builtin for n in names):
            return
    try:
        from ..service.gallery import attach
    except ImportError:  # impasto without [web]: the plain folder gallery
        return
    attach(create=create)


def register(sub: Any) -> None:
    styles: argparse.ArgumentParser = sub.add_parser(
        "styles",
        help="list the style gallery, or add your own style to it",
        description="List the gallery's named styles (use a name wherever a style image is expected), "
        "or save a style image of your own under a name with `impasto styles add NAME IMAGE`.",
    )
    styles_sub = styles.add_subparsers(dest="styles_command", metavar="ACTION")
    for parser in (styles, styles_sub.add_parser("list", help="list the styles (the same as no action)")):
        parser.add_argument(
            "--sheet", metavar="FILE", help="also save a picture of every style's thumbnail, labelled"
        )
        parser.set_defaults(handler=run_list)
    add = styles_sub.add_parser("add", help="save a style image into your gallery under a name")
    add.add_argument("name", help="kebab-case name, e.g. my-watercolour")
    add.add_argument("image", help="the style image (JPEG, PNG, WebP, ...)")
    add.add_argument("--title", default=None, help="title of the work")
    add.add_argument("--artist", default="", help="who made it")
    add.add_argument("--year", default="", help="when it was made")
    add.add_argument("--licence", default="the user's own", help="licence note kept with it")
    add.add_argument("--replace", action="store_true", help="overwrite a style of yours with that name")
    add.set_defaults(handler=run_add)
    ren = styles_sub.add_parser("rename", help="give a saved style a new name and/or title")
    ren.add_argument("name", help="the style's name now")
    ren.add_argument("new_name", nargs="?", default=None, help="its new kebab-case name (optional)")
    ren.add_argument("--title", default=None, help="its new title")
    ren.set_defaults(handler=run_rename)
    rm = styles_sub.add_parser("delete", help="delete a saved style (paintings made with it stay)")
    rm.add_argument("name", help="the style's name")
    rm.set_defaults(handler=run_delete)

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
    from .. import gallery  # listing needs no engine: PyTorch is not imported

    use_saved_styles()  # the data folder's saved styles, if there is one
    entries = gallery.list_styles()
    width = max((len(e.name) for e in entries), default=4)
    for entry in entries:
        origin = "" if entry.builtin else " (yours)"
        year = f" ({entry.year})" if entry.year else ""
        artist = f", {entry.artist}" if entry.artist else ""
        print(f"{entry.name:<{width}}  {entry.title}{artist}{year}{origin}")
    if getattr(args, "sheet", None):
        from ..sheet import styles_sheet

        output_format(args.sheet)
        save_image(styles_sheet(entries), args.sheet)
        print(f"wrote {args.sheet} ({len(entries)} styles)")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from .. import gallery  # adding computes the style vector with the fast engine (torch)

    use_saved_styles(create=True)
    entry = gallery.add_style(
        args.name, Path(args.image), title=args.title, artist=args.artist, year=args.year,
        licence=args.licence, replace=args.replace,
    )  # fmt: skip
    where = entry.path if entry.file else "the data folder's gallery"
    print(f"saved {entry.name!r} to {where}; use it as: impasto stylize PHOTO {entry.name}")
    return 0


def run_rename(args: argparse.Namespace) -> int:
    from .. import gallery

    if args.new_name is None and args.title is None:
        raise OptionsError("give a new name, a new --title, or both")
    use_saved_styles()
    entry = gallery.rename_style(args.name, args.new_name, title=args.title)
    print(f"renamed {args.name!r} to {entry.name!r} ({entry.title})")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from .. import gallery

    use_saved_styles()
    gallery.remove_style(args.name)
    print(f"deleted {args.name!r} from the gallery")
    return 0


def run_sheet(args: argparse.Namespace) -> int:
    from ..sheet import contact_sheet  # the engines (torch) load only when a command paints

    output_format(args.output)  # refuse a bad suffix before any painting
    use_saved_styles()  # the data folder's saved styles are on the sheet too
    if args.size < 16 or args.columns < 1:
        raise OptionsError("--size must be at least 16 and --columns at least 1")
    sheet = contact_sheet(
        Path(args.photo), size=args.size, mode=args.mode, columns=args.columns,
        on_style=lambda name: print(f"painting {name}...", file=sys.stderr),
    )  # fmt: skip
    save_image(sheet, args.output)
    print(f"wrote {args.output}")
    return 0
