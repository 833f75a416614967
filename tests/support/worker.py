"""``python -m support.worker ARGS``: ``impasto worker ARGS`` running the stand-in engine
:func:`support.fakes.worker_engine`. Tests inject the engine here, as a parameter, so production
code has no engine switch."""

from __future__ import annotations

import sys

from impasto.cli import build_parser
from impasto.cli.worker import run
from support.fakes import worker_engine

if __name__ == "__main__":
    sys.exit(run(build_parser().parse_args(["worker", *sys.argv[1:]]), stylize=worker_engine))
