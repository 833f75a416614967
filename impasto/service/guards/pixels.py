"""A budget of decoded pixels shared by every upload this process is decoding at once.

Each image is checked against ``max_pixels`` on its own, but a dozen concurrent uploads of a small
PNG that decodes to 6000×6000 took a server from 0.66 to 3.9 GB (issue 13). So an upload takes its
image's pixel count (known from the header, before decoding) from one process-wide budget before it
decodes, and gives it back after. When the budget is spent the upload waits a little for others to
finish, then gives up with :class:`~impasto.errors.Unavailable` (503 with Retry-After). An image
larger than the whole budget still goes through, alone.

The budget alone is not enough: glibc keeps memory freed by one thread in that thread's arena, so
decodes that never overlapped still added up (twelve 6000×6000 uploads: 3.1 GB peak with the
budget, 3.3 GB without). :func:`return_freed_images` makes Pillow allocate big images in blocks
above glibc's largest mmap threshold (32 MiB), which go back to the system when freed: 0.95 GB with
the budget, 3.2 GB without (``bench/upload_memory.py``, on a loaded 2-core machine).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from PIL import Image

from ...errors import Unavailable

BLOCK_BYTES = 64 * 1024 * 1024  # above glibc's largest dynamic mmap threshold (32 MiB on 64-bit)


def return_freed_images() -> None:
    """Pillow's big images in blocks glibc maps and unmaps (process-wide; small images unchanged)."""
    Image.core.set_block_size(BLOCK_BYTES)  # type: ignore[attr-defined]


class PixelBudget:
    """``total`` decoded pixels in flight at most; :meth:`hold` waits up to ``wait`` seconds."""

    def __init__(self, total: int, wait: float = 5.0, retry_after: float = 5.0) -> None:
        self.total, self.wait, self.retry_after = max(1, total), wait, retry_after
        self.in_flight = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` of the budget for the block (clamped to the whole budget)."""
        need = min(max(0, pixels), self.total)
        deadline = time.monotonic() + self.wait
        with self._cond:
            while self.in_flight + need > self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Unavailable(
                        "the server is decoding too many large pictures at once; try again in a few seconds",
                        self.retry_after,
                    )
                self._cond.wait(left)
            self.in_flight += need
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= need
                self._cond.notify_all()
