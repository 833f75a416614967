"""Structured logs for ``impasto serve`` and ``impasto worker``: one JSON object per line.

``{"ts": "...", "level": "info", "logger": "impasto.jobs", "msg": "job 3f… succeeded", "job": "3f…"}``
Extra fields come from ``log.info(..., extra={"job": id})``; exceptions add ``"exc"``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from .. import environment

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, node: str | None = None) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        if self.node:
            line["node"] = self.node
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """``08:21:03 job 3f… succeeded``; warnings and errors say so (``08:21:04 ERROR: …``)."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        when = self.formatTime(record, self.datefmt)
        level = f" {record.levelname}:" if record.levelno >= logging.WARNING else ""
        line = f"{when}{level} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def for_a_person(record: logging.LogRecord) -> bool:
    """What a person at a terminal wants to read: not a line per HTTP request, nor the server's and
    the migrations' start-up chatter (the serve command prints its address; "database ready" says
    the rest), but jobs, warnings and errors."""
    if record.name == "uvicorn.access":
        return False
    return not (record.name.startswith(("uvicorn", "alembic")) and record.levelno < logging.WARNING)


def setup(level: str = "info", node: str | None = None) -> None:
    """Log lines on stderr for the root logger: a short human log at a terminal (jobs, warnings,
    errors; no line per request), JSON objects otherwise (services, files: every request too);
    ``IMPASTO_LOG_FORMAT=json|text`` decides explicitly."""
    handler = logging.StreamHandler()
    default = "text" if sys.stderr.isatty() else "json"
    if (environment.log_format() or default) == "text":
        handler.setFormatter(HumanFormatter())
        handler.addFilter(for_a_person)
    else:
        handler.setFormatter(JsonFormatter(node))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's own config may have run
        server_log = logging.getLogger(name)
        server_log.handlers[:], server_log.propagate, server_log.disabled = [], True, False
        server_log.setLevel(logging.NOTSET)
