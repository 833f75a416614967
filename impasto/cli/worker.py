"""``impasto worker``: a Celery worker that runs the web app's jobs (needs ``IMPASTO_BROKER_URL``).

GPU machines usually take only the ``quality`` queue; small CPU machines the ``fast`` one.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from ..errors import OptionsError
from .extras import require

if TYPE_CHECKING:
    from ..service.jobs.context import Stylize


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "worker",
        help="run a Celery worker for the web app's jobs (scale-out)",
        description="Run jobs queued by `impasto serve` when IMPASTO_BROKER_URL (Redis) is set. "
        "The database (IMPASTO_DATABASE_URL) and the images must be the web node's: see docs/deployment.md.",
    )
    parser.add_argument(
        "--concurrency", "-c", type=int, default=1, help="jobs run at once, one process each (default: 1)"
    )
    parser.add_argument(
        "--queues", "-Q", default="fast,quality", help="queues to take jobs from (default: fast,quality)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="math threads per job process (default: the machine's cores / --concurrency); lower it "
        "when several workers share one machine",
    )
    parser.add_argument("--name", default=None, help="node name (default: impasto-<pid>@<host>)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="least important log lines shown (default: info)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stylize: Stylize | None = None) -> int:
    """Run the worker; ``stylize`` replaces the engine (tests inject a stand-in here)."""
    require("worker", "worker")
    from celery import signals  # the worker extra: imported only once we know it is there

    from ..service import logs
    from ..service.config import Settings, redact_url
    from ..service.workers.celery_app import QUEUES, make_celery

    settings = Settings.from_env()
    if not settings.broker_url:
        raise OptionsError("impasto worker needs IMPASTO_BROKER_URL, e.g. redis://127.0.0.1:6379/0")
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    if not queues or set(queues) - set(QUEUES):
        raise OptionsError(f"--queues: choose from {', '.join(QUEUES)} (got {args.queues!r})")
    if args.concurrency < 1:
        raise OptionsError("--concurrency must be at least 1")
    name = args.name or f"impasto-{os.getpid()}@{socket.gethostname()}"
    logs.setup(args.log_level, node=name)
    signals.setup_logging.connect(_keep_our_logging)  # Celery leaves logging to us
    if args.threads is not None and args.threads < 1:
        raise OptionsError("--threads must be at least 1")
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.concurrency)
    signals.worker_process_init.connect(lambda **_: _share_cores(threads), weak=False)
    logging.getLogger("impasto.worker").info(
        "worker %s: queues %s, concurrency %d, database %s",
        name,
        ",".join(queues),
        args.concurrency,
        redact_url(settings.db_url),
        extra={"queues": queues, "concurrency": args.concurrency},
    )
    app = make_celery(settings, stylize=stylize)
    argv = [
        "--quiet",  # no banner: the log lines say it
        "worker",
        f"--concurrency={args.concurrency}",
        f"--queues={','.join(queues)}",
        f"--hostname={name}",
        f"--loglevel={args.log_level.upper()}",
        "--without-gossip",
        "--without-mingle",
    ]
    app.worker_main(argv)
    return 0


def _keep_our_logging(**_: Any) -> None:
    """Connected to ``setup_logging``: Celery then leaves the JSON handler in place."""


def _share_cores(threads: int) -> None:
    """Each pool process gets its share of the cores for the engine's math."""
    import torch  # already loaded by the job code in this process: this only names it

    torch.set_num_threads(threads)
