"""The web product: a FastAPI app with server-rendered pages and the ``/api/v1`` REST API."""

from .app import create_app

__all__ = ["create_app"]
