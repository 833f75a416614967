"""Video: paint a clip frame by frame, steadied along the optical flow (Ruder et al. 2016).

* :mod:`impasto.video.io` — streaming decode/encode through PyAV (FFmpeg): MP4, WebM, MOV and
  animated GIF in; MP4 (H.264, yuv420p) or GIF out; audio carried over; limits.
* :mod:`impasto.video.flow` — DIS optical flow, warping, the forward-backward occlusion mask, the
  stabilising blend and the flicker measure.
* :mod:`impasto.video.workdir` — painted frames on disk, so a killed run resumes.
* :mod:`impasto.video.pipeline` — :func:`stylize_video`, which ties them together.

Like the engines, this package never imports the service, the web app or the CLI.
"""

from .flow import FlickerMeter, Stabilizer
from .io import VideoInfo, VideoLimits, VideoReader, VideoWriter
from .pipeline import DEFAULT_STABILITY, VideoResult, stylize_video

__all__ = [
    "DEFAULT_STABILITY",
    "FlickerMeter",
    "Stabilizer",
    "VideoInfo",
    "VideoLimits",
    "VideoReader",
    "VideoResult",
    "VideoWriter",
    "stylize_video",
]
