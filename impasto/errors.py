"""The one exception family users of Impasto see.

Every failure caused by input (a bad file, an impossible option, a size that will not fit)
raises an :class:`ImpastoError` with a message meant for a person; the CLI prints it and exits
with status 2, the web API turns it into a 4xx response.
"""

from __future__ import annotations


class ImpastoError(Exception):
    """Bad input or an impossible request, with a message for a person."""


class ImageError(ImpastoError):
    """An image could not be read, was too large, or could not be written."""


class OptionsError(ImpastoError, ValueError):
    """An option is out of range or options contradict each other."""


class MemoryLimitError(ImpastoError):
    """The requested output would not fit in the memory budget."""

    def __init__(self, message: str, largest_size: int | None = None) -> None:
        super().__init__(message)
        self.largest_size = largest_size


class WeightsError(ImpastoError):
    """Pretrained weights are missing, corrupt or could not be fetched."""


class Cancelled(ImpastoError):
    """A run was cancelled before it produced any image."""


class MissingExtraError(ImpastoError):
    """A command needs an optional part of Impasto that is not installed (``impasto[web]``, ...)."""
