"""A job kind is a small object: the generic job machinery (create, queue, claim, run, cancel, rate,
delete, recover after a restart, sweep, the Celery task) knows every kind only through
:class:`Kind`, looked up by the ``kind`` column of the job's row.

Pictures (:mod:`.pictures`) and clips (:mod:`.clips`) are the two kinds; each registers itself when
:mod:`impasto.service.jobs` is imported. A new kind is one more module with one more
:func:`register` call (and its intake and pages): nothing in :mod:`.core` changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from ...errors import ImpastoError
from ...progress import CancelToken, ProgressCallback
from ..storage.db import Database
from ..storage.models import Job
from .context import JobContext


class KindOptions(Protocol):
    """What the machinery reads of any kind's options: the engine mode, whose workers run it."""

    @property
    def mode(self) -> str: ...

    def model_dump(self, *, exclude_none: bool = ...) -> dict[str, Any]: ...


class Kind(Protocol):
    """What the job machinery needs to know of one kind of job."""

    #: the jobs table's ``kind`` value (at most 16 characters)
    name: ClassVar[str]
    #: its options: what a request may ask, kept in the job's row as JSON
    options: ClassVar[type[BaseModel]]
    #: what one progress step is called ("frame"), or ``None`` for the engine's iterations
    unit: ClassVar[str | None]
    #: does an interrupted run keep what it did? Then a run that got further is not counted
    #: among the job's attempts when its worker dies
    resumable: ClassVar[bool]

    def paint(
        self, job: Job, ctx: JobContext, progress: ProgressCallback, cancel: CancelToken
    ) -> dict[str, Any]:
        """Paint the job and return its result columns (``result_sha``, ``result_width``, …).

        Raises :class:`~impasto.errors.Cancelled` when it stopped with nothing to keep,
        :class:`StoppedEarly` when it stopped with a picture worth keeping, and
        :class:`~impasto.errors.ImpastoError` for input it cannot paint (the job fails with its message).
        """
        ...

    def ended(self, ctx: JobContext, job_id: str) -> None:
        """The job ended (done, failed or cancelled): let go of what its runs kept."""
        ...

    def sweep(self, db: Database, work_dir: Path) -> int:
        """Delete what jobs of this kind left behind in ``work_dir`` (ended, or gone); how many."""
        ...

    def served(self, job: Job) -> dict[str, Served]:
        """The files a job of this kind serves besides its pictures (photo, style, previews,
        result, which every kind has), by name: a clip's painted and uploaded clips, say."""
        ...


@dataclass(frozen=True)
class Served:
    """A file a job serves: its blob, and its media type (``None``: read it from the bytes)."""

    sha: str
    media_type: str | None = None


class StoppedEarly(Exception):
    """A run that was asked to stop and still made something worth keeping (the quality engine
    hands back its best picture so far): these are its result columns."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__("stopped early")
        self.values = values


class UnknownKind(ImpastoError):
    """A job row of a kind this version does not know (made by a newer one, say)."""


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Make ``kind`` known to the job machinery (replacing one of the same name)."""
    if not 0 < len(kind.name) <= 16:
        raise ValueError(f"a kind's name is 1 to 16 characters, not {kind.name!r}")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def of(name: str) -> Kind:
    """The kind named ``name``."""
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownKind(f"this version of Impasto does not paint jobs of kind {name!r}") from None


def every() -> list[Kind]:
    return list(_KINDS.values())


__all__ = [
    "Kind",
    "KindOptions",
    "Served",
    "StoppedEarly",
    "UnknownKind",
    "every",
    "of",
    "register",
    "unregister",
]
