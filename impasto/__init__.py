"""Impasto: turn a photo into a painting in the style of any artwork.

Two engines share one API: ``quality`` (Gatys et al. optimisation on a pretrained VGG) and
``fast`` (Magenta's arbitrary-style feed-forward networks).
"""

from typing import TYPE_CHECKING, Any

from .errors import ImpastoError
from .imageio import load_image, save_image
from .progress import CancelToken, DoneEvent, Event, IterationEvent, PreviewEvent, StageEvent

if TYPE_CHECKING:
    from .api import stylize, transfer_style
    from .video import stylize_video

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``impasto.stylize``, ``impasto.stylize_video`` and ``impasto.transfer_style``, loaded on first use."""
    if name == "stylize_video":  # PyAV and OpenCV, loaded for video only
        from . import video

        return video.stylize_video
    if name in ("stylize", "transfer_style"):
        # the engines import torch, which takes seconds: `import impasto`, `impasto --help` and
        # the commands that paint nothing do without it
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CancelToken",
    "DoneEvent",
    "Event",
    "ImpastoError",
    "IterationEvent",
    "PreviewEvent",
    "StageEvent",
    "__version__",
    "load_image",
    "save_image",
    "stylize",
    "stylize_video",
    "transfer_style",
]
