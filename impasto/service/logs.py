"""Structured logs for ``impasto serve`` and ``impasto worker``: one JSON object per line.

``{"ts": "...", "level": "info", "logger": "impasto.jobs", "msg": "job 3f… succeeded", "job": "3f…"}``
Extra fields come from ``log.info(..., extra={"job": id})``; exceptions add ``"exc"``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

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


def setup(level: str = "info", node: str | None = None) -> None:
    """Log lines on stderr for the root logger: plain text for a person at a terminal, JSON objects
    otherwise (services, files); ``IMPASTO_LOG_FORMAT=json|text`` decides explicitly."""
    handler = logging.StreamHandler()
    default = "text" if sys.stderr.isatty() else "json"
    if os.environ.get("IMPASTO_LOG_FORMAT", default).lower() == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(node))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
