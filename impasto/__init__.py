"""Impasto: turn a photo into a painting in the style of any artwork.

Two engines share one API: ``quality`` (Gatys et al. optimisation on a pretrained VGG) and
``fast`` (Magenta's arbitrary-style feed-forward networks).
"""

from .api import stylize, transfer_style
from .errors import ImpastoError
from .imageio import load_image, save_image
from .progress import CancelToken, DoneEvent, Event, IterationEvent, PreviewEvent, StageEvent

__version__ = "0.1.0"

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
    "transfer_style",
]
