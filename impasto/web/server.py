"""The web app under uvicorn, with bounds on slow clients.

uvicorn closes idle keep-alive connections, but a client that sends its request headers a byte at
a time (or nothing at all after connecting) holds a connection for as long as it likes, and a
client that trickles the body holds a request. Here every connection must deliver a request's
headers within ``Settings.header_timeout`` seconds of connecting (or of the previous response), and
:class:`impasto.web.guards.BodyDeadline` bounds the body; headers are limited in size too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..service.config import Settings

MAX_HEADER_BYTES = 16 * 1024  # request line and headers (h11's buffer for an incomplete event)
KEEP_ALIVE = 5  # seconds an idle connection stays open between requests


class TimedH11Protocol(H11Protocol):
    """h11 with a deadline for each request's headers; a late connection is closed."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a request's headers arrived: no deadline now
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's headers are due

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if getattr(self, "_header_timer", None) is not None:
            assert self._header_timer is not None
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info("closed a connection that did not send its request headers in time")
            self.transport.close()


def protocol(header_timeout: float) -> type[TimedH11Protocol]:
    return type("TimedH11", (TimedH11Protocol,), {"header_timeout": header_timeout})


def config(app: Any, settings: Settings, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app``: h11 with header deadlines, bounded header size."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol(settings.header_timeout),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=KEEP_ALIVE,
        proxy_headers=False,  # the app trusts X-Forwarded-For from IMPASTO_TRUSTED_PROXIES only
        **options,
    )


def served_host(host: str) -> str | None:
    """The Host name a browser uses for a listening address (None: every address, e.g. 0.0.0.0)."""
    if host in ("0.0.0.0", "::", ""):
        return None
    return f"[{host}]" if ":" in host else host
