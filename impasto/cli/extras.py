"""Optional parts of Impasto: ``pip install impasto`` gives the engines, the CLI and the Python API;
``impasto[web]`` adds the web app and its database, ``impasto[worker]`` the Celery workers. A command
that needs a part that is missing says so in one line, before importing anything of it."""

from __future__ import annotations

import importlib.util

from ..errors import MissingExtraError

#: The modules each extra brings, as imported (not as named on PyPI).
EXTRAS: dict[str, tuple[str, ...]] = {
    "web": (
        "fastapi",
        "uvicorn",
        "jinja2",
        "multipart",
        "sqlalchemy",
        "alembic",
        "httpx",
        "swagger_ui_bundle",
        "itsdangerous",
    ),
    "worker": ("celery", "redis", "psycopg"),
}


def require(extra: str, command: str) -> None:
    """Raise :class:`MissingExtraError` naming the install command when ``extra`` is not installed."""
    missing = [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"`impasto {command}` needs the {extra} extra: pip install 'impasto[{extra}]' "
            f"(not installed: {', '.join(missing)})"
        )
