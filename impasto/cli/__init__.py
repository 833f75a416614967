"""The ``impasto`` command line. Each sub-command lives in its own module with a ``register``.

Errors caused by input print one line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from ..errors import ImpastoError

#: Modules that add sub-commands; each has ``register(subparsers) -> None``.
COMMAND_MODULES = [
    "impasto.cli.stylize",
    "impasto.cli.video",
    "impasto.cli.weights",
    "impasto.cli.gallery",
    "impasto.cli.serve",
    "impasto.cli.keys",
    "impasto.cli.worker",
]

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error (the usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"impasto: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="impasto", description="Turn a photo into a painting in the style of any artwork.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed, one line)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.handler(args) or 0)
    except ImpastoError as exc:
        print(f"impasto: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("impasto: interrupted", file=sys.stderr)
        return 130
    finally:
        gallery = sys.modules.get("impasto.gallery")
        if gallery is not None:  # a command plugged in the data folder's styles: one call's worth
            gallery.use(None)


if __name__ == "__main__":
    sys.exit(main())
