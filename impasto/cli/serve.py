"""``impasto serve``: the web app and REST API, with SQLite and in-process workers by default."""

from __future__ import annotations

import argparse
import errno
import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import OptionsError
from .extras import require


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the web app and REST API",
        description="Run the web app (pages and /api/v1, docs at /docs). Data (SQLite database and images) "
        "goes to --data-dir unless IMPASTO_DATABASE_URL names another database.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="where the database and images live (default: ./data)"
    )
    parser.add_argument("--fast-workers", type=int, default=None, help="fast jobs run at once (default: 2)")
    parser.add_argument(
        "--quality-workers", type=int, default=None, help="quality jobs run at once (default: 1)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="least important log lines shown (default: info)",
    )
    parser.set_defaults(handler=run)


def check_port(host: str, port: int) -> None:
    """Refuse a port that is taken in one line, before anything (./data included) is created."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise OptionsError(f"cannot listen on {host!r}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        if os.name != "nt":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OptionsError(
                    f"port {port} on {host} is already in use: choose another with --port "
                    f"(e.g. impasto serve --port {port + 1})"
                ) from None
            raise OptionsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    require("web", "serve")
    if not 0 < args.port < 65536:
        raise OptionsError(f"--port must be between 1 and 65535, not {args.port}")
    check_port(args.host, args.port)
    import uvicorn  # the web extra: imported only once we know it is there

    from ..service import logs
    from ..service.config import Settings
    from ..web import create_app, server

    logs.setup(args.log_level, node="web")  # text at a terminal, JSON lines otherwise
    settings = Settings.from_env(
        data_dir=args.data_dir, fast_workers=args.fast_workers, quality_workers=args.quality_workers
    )
    served = server.served_host(args.host)
    if served is not None and served not in settings.allowed_hosts:
        settings = replace(settings, allowed_hosts=(*settings.allowed_hosts, served))
    app = create_app(settings)
    print(f"Impasto is serving on http://{args.host}:{args.port}/ (API docs: /docs); Ctrl+C stops it")
    if served is None and settings.allowed_hosts == Settings.allowed_hosts:  # not configured
        names = ", ".join(settings.allowed_hosts)
        print(f"It answers only for {names}: set IMPASTO_ALLOWED_HOSTS to the names it is reached by")
    config = server.config(
        app,
        settings,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,  # uvicorn's lines go through the same structured handler
        timeout_graceful_shutdown=15,
    )
    uvicorn.Server(config).run()
    return 0
