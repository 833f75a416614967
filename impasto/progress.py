"""Progress as typed events.

An engine reports what it is doing by calling a :data:`ProgressCallback` with one of the event
objects below. The CLI's progress bar, the web page's live stream and remote workers all consume
the same events; :meth:`to_dict` gives a JSON-ready form (previews are sent separately as images).
A :class:`CancelToken` lets any thread stop a run; the engine checks it once per iteration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class StageEvent:
    """A coarse step of the run: ``"loading"``, ``"analysing style"``, ``"painting"``, ..."""

    stage: str
    message: str = ""
    kind: str = field(default="stage", init=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IterationEvent:
    """One optimisation step (quality mode) or one tile/part done (fast mode)."""

    scale: int  # 1-based index of the current scale
    scales: int  # how many scales the plan has
    size: tuple[int, int]  # (width, height) painted at this scale
    iteration: int  # 1-based, within the scale
    iterations: int  # planned iterations at this scale
    step: int  # 1-based, across all scales
    steps: int  # planned steps across all scales
    losses: dict[str, float]
    elapsed: float  # seconds since the run started
    eta: float | None  # seconds left, estimated; None before an estimate exists
    # the share of the work done, when steps differ in cost (quality mode: an iteration at 2048 px
    # costs about 25 at 512 px); None: every step costs the same
    work: float | None = None
    kind: str = field(default="iteration", init=False)

    @property
    def fraction(self) -> float:
        if self.work is not None:
            return self.work
        return self.step / self.steps if self.steps else 1.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["size"] = list(self.size)
        data["fraction"] = self.fraction
        return data


@dataclass(frozen=True)
class PreviewEvent:
    """An intermediate picture of the painting as it forms."""

    step: int
    image: Image.Image
    kind: str = field(default="preview", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, "size": list(self.image.size)}


@dataclass(frozen=True)
class DoneEvent:
    """The run finished (``cancelled`` tells whether it stopped early)."""

    elapsed: float
    losses: dict[str, float]
    cancelled: bool = False
    kind: str = field(default="done", init=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Event = StageEvent | IterationEvent | PreviewEvent | DoneEvent
ProgressCallback = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default callback: report nothing."""


class CancelToken:
    """Thread-safe flag that asks a running engine to stop at its next iteration."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def duration(seconds: float) -> str:
    """A duration for a person: ``"2 min 50 s"``, ``"45 s"``."""
    whole = max(1, round(seconds))
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"
