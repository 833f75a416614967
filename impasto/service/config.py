"""Service settings, from keyword arguments or ``IMPASTO_*`` environment variables.

Embedded defaults need nothing: SQLite and images under ``./data``, jobs in-process.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from ..errors import OptionsError

N = TypeVar("N", int, float)


def _env_number(name: str, default: N, parse: Callable[[str], N], what: str) -> N:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return parse(value)
    except ValueError:
        raise OptionsError(f"{name}={value!r} is not {what}") from None


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "a whole number")


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def _env_bytes(name: str, default: int | None) -> int | None:
    """A size in bytes (``20G``, ``500M`` or a number), ``none`` for no limit, or ``default``."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    if value.lower() in ("none", "off", "0"):
        return None
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    number = value.upper().removesuffix("B").removesuffix("I")
    try:
        if number and number[-1] in units:
            return int(float(number[:-1]) * units[number[-1]])
        return int(number)
    except ValueError:
        raise OptionsError(f"{name}={value!r}: give a size such as 20G or 500M, or none") from None


def _env_days(name: str) -> float | None:
    """A positive number of days, or None (keep forever) when unset."""
    days = _env_float(name, math.nan)
    if math.isnan(days) and not os.environ.get(name):
        return None
    if not math.isfinite(days) or days <= 0:
        raise OptionsError(
            f"{name}={os.environ.get(name)!r}: give a positive number of days, or leave it unset"
        )
    return days


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = os.environ.get(name)
    if not value:
        return default
    return tuple(item.strip() for item in value.split(",") if item.strip())


AUTH_MODES = ("open", "keys")


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told; :meth:`from_env` reads the environment."""

    data_dir: Path = Path("data")
    database_url: str | None = None  # None: SQLite file in data_dir
    max_request_bytes: int = 40 * 1024 * 1024  # whole request body
    max_image_bytes: int = 25 * 1024 * 1024  # one uploaded or fetched image
    max_pixels: int = 40_000_000  # one decoded image
    max_files: int = 20  # photos in one create request
    decode_budget: int = 100_000_000  # decoded pixels of all uploads in flight at once (per process)
    decode_wait: float = 5.0  # seconds an upload waits for that budget before a 503
    fast_workers: int = 2
    quality_workers: int = 1
    max_attempts: int = 2  # runs of a job interrupted by restarts before it is marked failed
    jobs_per_minute: float = 60.0  # job creation rate limit per client
    jobs_burst: int = 20
    max_queued: int = 200  # jobs waiting in all; more are refused with 503 and Retry-After
    max_queued_quality: int = 20  # quality jobs waiting (each takes about half a minute or more)
    retention_days: float | None = None  # delete jobs older than this (None: keep them forever)
    sweep_interval: float = 3600.0  # seconds between sweeps (retention, orphaned pictures, stale runs)
    stale_after: float = 3600.0  # a running job silent this long has lost its worker (scale-out)
    url_timeout: float = 10.0
    url_max_redirects: int = 3
    sync_timeout: float = 120.0  # POST /stylize waits at most this long for a job
    preview_interval: float = 0.5  # seconds between persisted previews
    broker_url: str | None = None  # Redis: jobs go to Celery workers (impasto worker), not in-process
    blob_dir: Path | None = None  # images in this (shared) directory instead of data_dir/blobs
    blob_store: str = "auto"  # "files", "database", or "auto": database when a broker is set
    visibility_timeout: float = 900.0  # seconds before a dead worker's job is redelivered
    lease_seconds: float = 30.0  # a running job's lease in Redis, renewed every third of it
    # Host names the web app answers for (``*``: any); ``impasto serve`` adds the address it serves on
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client; by default
    # none: the header is ignored, and a request that carries it is never the machine's own user
    trusted_proxies: tuple[str, ...] = ()
    header_timeout: float = 10.0  # seconds a client may take to send a request's headers
    body_timeout: float = 120.0  # seconds a client may take to send a request's body
    # Video jobs: the largest clip taken (checked at upload, and again by the worker as it decodes).
    # The service narrows the library's own limits (VideoLimits: 10 min, 4K, for one's own machine)
    # to what a shared server should paint for anyone: a minute of 1080p; the same variables set both.
    max_video_bytes: int = 32 * 1024 * 1024  # one uploaded clip (within max_request_bytes)
    video_max_seconds: float = 60.0
    video_max_pixels: int = 1920 * 1080  # per frame, input and output
    video_max_frames: int = 1800
    video_dir: Path | None = None  # running video jobs' painted frames (default: see video_work_dir)
    # "open": browsers get an anonymous cookie identity, keyless scripts on 127.0.0.1 are "local";
    # "keys": every API call needs an API key (or the cookie of a browser using the pages)
    auth: str = "open"
    secret_key: str | None = None  # signs identity cookies; None: data_dir/secret.key, made once
    max_styles_per_owner: int = 50  # saved styles one owner may keep (admins: no limit)
    max_queued_per_owner: int = 50  # jobs one owner may have waiting (admins: no limit); 429 beyond
    # new anonymous identities (cookies) one address may be given: a script that drops its cookie
    # would otherwise get a fresh owner, and fresh per-owner quotas, with every request
    identities_per_hour: float = 120.0
    identities_burst: int = 60
    # bytes the stored pictures (uploads, saved styles, results) may take; None: no limit. Beyond
    # it, uploads and style saves get a 507 that says so (results of jobs already taken are kept)
    max_store_bytes: int | None = 20 * 2**30
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'impasto.db').resolve()}"

    @property
    def video_work_dir(self) -> Path:
        """Where video jobs keep painted frames, so a re-run after a lost worker resumes: with
        Celery workers, a folder they share (the blob folder when there is one)."""
        return self.video_dir or (self.blob_dir or self.data_dir) / "video-work"

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        env = cls(
            data_dir=Path(os.environ.get("IMPASTO_DATA_DIR") or "data"),
            database_url=os.environ.get("IMPASTO_DATABASE_URL") or None,
            max_request_bytes=_env_int("IMPASTO_MAX_REQUEST_BYTES", cls.max_request_bytes),
            max_image_bytes=_env_int("IMPASTO_MAX_IMAGE_BYTES", cls.max_image_bytes),
            max_pixels=_env_int("IMPASTO_MAX_PIXELS", cls.max_pixels),
            decode_budget=_env_int("IMPASTO_DECODE_BUDGET", cls.decode_budget),
            decode_wait=_env_float("IMPASTO_DECODE_WAIT", cls.decode_wait),
            fast_workers=_env_int("IMPASTO_FAST_WORKERS", cls.fast_workers),
            quality_workers=_env_int("IMPASTO_QUALITY_WORKERS", cls.quality_workers),
            jobs_per_minute=_env_float("IMPASTO_JOBS_PER_MINUTE", cls.jobs_per_minute),
            jobs_burst=_env_int("IMPASTO_JOBS_BURST", cls.jobs_burst),
            max_queued=_env_int("IMPASTO_MAX_QUEUED", cls.max_queued),
            max_queued_quality=_env_int("IMPASTO_MAX_QUEUED_QUALITY", cls.max_queued_quality),
            retention_days=_env_days("IMPASTO_RETENTION_DAYS"),
            sweep_interval=_env_float("IMPASTO_SWEEP_INTERVAL", cls.sweep_interval),
            stale_after=_env_float("IMPASTO_STALE_AFTER", cls.stale_after),
            max_attempts=_env_int("IMPASTO_MAX_ATTEMPTS", cls.max_attempts),
            broker_url=os.environ.get("IMPASTO_BROKER_URL") or None,
            blob_dir=Path(os.environ["IMPASTO_BLOB_DIR"]) if os.environ.get("IMPASTO_BLOB_DIR") else None,
            blob_store=os.environ.get("IMPASTO_BLOB_STORE") or cls.blob_store,
            visibility_timeout=_env_float("IMPASTO_VISIBILITY_TIMEOUT", cls.visibility_timeout),
            lease_seconds=_env_float("IMPASTO_LEASE_SECONDS", cls.lease_seconds),
            allowed_hosts=_env_list("IMPASTO_ALLOWED_HOSTS", cls.allowed_hosts),
            trusted_proxies=_env_list("IMPASTO_TRUSTED_PROXIES", cls.trusted_proxies),
            header_timeout=_env_float("IMPASTO_HEADER_TIMEOUT", cls.header_timeout),
            body_timeout=_env_float("IMPASTO_BODY_TIMEOUT", cls.body_timeout),
            max_video_bytes=_env_int("IMPASTO_MAX_VIDEO_BYTES", cls.max_video_bytes),
            video_max_seconds=_env_float("IMPASTO_VIDEO_MAX_SECONDS", cls.video_max_seconds),
            video_max_pixels=_env_int("IMPASTO_VIDEO_MAX_PIXELS", cls.video_max_pixels),
            video_max_frames=_env_int("IMPASTO_VIDEO_MAX_FRAMES", cls.video_max_frames),
            video_dir=Path(work) if (work := os.environ.get("IMPASTO_VIDEO_WORK_DIR")) else None,
            auth=(os.environ.get("IMPASTO_AUTH") or cls.auth).strip().lower(),
            secret_key=os.environ.get("IMPASTO_SECRET_KEY") or None,
            max_styles_per_owner=_env_int("IMPASTO_MAX_STYLES_PER_OWNER", cls.max_styles_per_owner),
            max_queued_per_owner=_env_int("IMPASTO_MAX_QUEUED_PER_OWNER", cls.max_queued_per_owner),
            identities_per_hour=_env_float("IMPASTO_IDENTITIES_PER_HOUR", cls.identities_per_hour),
            identities_burst=_env_int("IMPASTO_IDENTITIES_BURST", cls.identities_burst),
            max_store_bytes=_env_bytes("IMPASTO_MAX_STORE_BYTES", cls.max_store_bytes),
        )
        return replace(env, **{k: v for k, v in overrides.items() if v is not None})

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise OptionsError(f"IMPASTO_AUTH={self.auth!r}: use one of {', '.join(AUTH_MODES)}")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise OptionsError(
                    f"IMPASTO_TRUSTED_PROXIES: {proxy!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None


SECRET_KEYS = {"password", "passwd", "pass", "secret", "token", "sslpassword"}


def redact_url(url: str) -> str:
    """A database URL fit for logs: the password (also as a query argument) replaced by ``***``."""
    try:
        parsed = make_url(url)
        query = {k: ("***" if k.lower() in SECRET_KEYS else v) for k, v in parsed.query.items()}
        return parsed.set(query=query).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable url>"
