"""The one exception family users of Impasto see, each error with a kind that says what went wrong.

Every failure caused by input (a bad file, an impossible option, a size that will not fit)
raises an :class:`ImpastoError` with a message meant for a person; the CLI prints it and exits
with status 2, the web layer turns its :attr:`~ImpastoError.kind` into a status code (one table,
:mod:`impasto.web.errors`). Nothing here knows HTTP::

    ImpastoError                kind: invalid (the default: bad input)
    ├── ImageError              an image cannot be read or written
    ├── OptionsError            an option is out of range (also a ValueError)
    ├── MemoryLimitError        the output will not fit in memory
    ├── BudgetError             the time budget cannot give the size its minimum work
    ├── WeightsError            pretrained weights missing or corrupt
    ├── Cancelled               a run was cancelled before it made a picture
    ├── MissingExtraError       a command needs an extra that is not installed (impasto[web], ...)
    ├── VideoError              a clip cannot be read or written, or is over the video limits
    ├── InvalidInput            a request's fields do not validate, with per-field details
    ├── NotFound                kind: not_found
    │   └── JobNotFound         no job with that id (or not one the asker may see)
    ├── Conflict                kind: conflict (not allowed in the current state)
    │   └── JobConflict         the job's state does not allow it (rating an unfinished job)
    ├── TooLarge                kind: too_large
    ├── RateLimited             kind: rate_limited (retry_after seconds)
    ├── Unavailable             kind: unavailable (a service it needs is down; retry_after)
    └── StorageFull             kind: storage_full (the server's picture storage is at its budget)
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class ErrorKind(enum.StrEnum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    FORBIDDEN = "forbidden"
    STORAGE_FULL = "storage_full"
    INTERNAL = "internal"  # a fault of the server's, not of the input (a job that crashed)


class ImpastoError(Exception):
    """Bad input or an impossible request, with a message for a person."""

    kind: ClassVar[ErrorKind] = ErrorKind.INVALID
    retry_after: float | None = None  # seconds, for kinds that pass


class ImageError(ImpastoError):
    """An image could not be read, was too large, or could not be written."""


class OptionsError(ImpastoError, ValueError):
    """An option is out of range or options contradict each other."""


class MemoryLimitError(ImpastoError):
    """The requested output would not fit in the memory budget."""

    def __init__(self, message: str, largest_size: int | None = None) -> None:
        super().__init__(message)
        self.largest_size = largest_size


class BudgetError(ImpastoError):
    """A time budget too short for the size: painting it would return an almost unchanged photo.

    ``seconds`` is what the full plan is expected to take on this machine, ``minimum`` the least
    that gives the size its minimum useful work, ``largest_size`` the largest long side whose
    minimum fits in the budget (``None``: none does).
    """

    def __init__(self, message: str, seconds: float, minimum: float, largest_size: int | None) -> None:
        super().__init__(message)
        self.seconds, self.minimum, self.largest_size = seconds, minimum, largest_size


class WeightsError(ImpastoError):
    """Pretrained weights are missing, corrupt or could not be fetched."""


class Cancelled(ImpastoError):
    """A run was cancelled before it produced any image."""


class MissingExtraError(ImpastoError):
    """A command needs an optional part of Impasto that is not installed (``impasto[web]``, ...)."""


class VideoError(ImpastoError):
    """A clip could not be read or written, or is over the video limits."""


class InvalidInput(ImpastoError):
    """A request's fields do not validate; ``details`` lists what is wrong with each."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


class NotFound(ImpastoError):
    """The thing asked for does not exist."""

    kind = ErrorKind.NOT_FOUND


class Conflict(ImpastoError):
    """Not allowed in the current state (rating an unfinished job, a name already taken)."""

    kind = ErrorKind.CONFLICT


class JobNotFound(NotFound):
    """No job with that id."""

    def __init__(self, job_id: str) -> None:
        super().__init__("no such job")
        self.job_id = job_id


class JobConflict(Conflict):
    """The job is in a state that does not allow this (e.g. rating an unfinished job)."""


class Forbidden(ImpastoError):
    """Refused whoever asks this way: a form without its CSRF token, a gallery change by a non-admin."""

    kind = ErrorKind.FORBIDDEN


class TooLarge(ImpastoError):
    """A body, file or picture is over its size limit."""

    kind = ErrorKind.TOO_LARGE


class RateLimited(ImpastoError):
    """Too many requests from one client; try again after ``retry_after`` seconds."""

    kind = ErrorKind.RATE_LIMITED

    def __init__(self, retry_after: float, what: str = "jobs") -> None:
        super().__init__(f"too many {what}: try again in {max(1, round(retry_after))} s")
        self.retry_after = retry_after


class Unavailable(ImpastoError):
    """A service the request needs (the job queue) is down; try again after ``retry_after``."""

    kind = ErrorKind.UNAVAILABLE

    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageFull(ImpastoError):
    """The server's stored pictures have reached their budget: nothing new can be kept."""

    kind = ErrorKind.STORAGE_FULL
