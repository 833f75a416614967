"""Temporal consistency: optical flow, warping and the occlusion mask (Ruder et al. 2016).

Painting each frame on its own flickers: small changes in the input move strokes and textures
from frame to frame. Following Ruder, Dosovitskiy and Brox, "Artistic style transfer for videos"
(2016), the previous painted frame is warped onto the current one along the optical flow, and a
forward-backward consistency check marks where the warp cannot be trusted (disocclusions, motion
boundaries, pixels that came from outside the frame). Where it can, the output keeps ``stability``
of the warped previous painting; where it cannot, the fresh painting shows.

The flow is OpenCV's DIS (dense inverse search): no weights, ~10 ms per frame at the working
size of 512 px long side used here on a 2-core CPU, then scaled up to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Long side, in px, the flow is computed at (frames are larger: the flow is scaled up).
FLOW_SIZE = 512


def gray(rgb: np.ndarray, size: int = FLOW_SIZE) -> np.ndarray:
    """The frame in grey, shrunk so its long side is at most ``size``: what the flow sees."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    height, width = g.shape
    scale = size / max(height, width)
    if scale < 1:
        g = cv2.resize(
            g, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA
        )
    return g


@dataclass(frozen=True)
class Motion:
    """How the previous frame maps onto the current one, at the frame's full size."""

    map_x: np.ndarray  # float32 H×W: where each current pixel was in the previous frame
    map_y: np.ndarray
    mask: np.ndarray  # float32 H×W in 0..1: 1 where the warp is trusted

    def warp(self, previous: np.ndarray) -> np.ndarray:
        """The previous frame (any H×W×C image) moved onto the current one."""
        # bicubic: bilinear warps blur a little, and the blur would build up from frame to frame
        return cv2.remap(previous, self.map_x, self.map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


class FlowEstimator:
    """Dense flow between consecutive frames with a forward-backward consistency mask."""

    def __init__(self, size: int = FLOW_SIZE) -> None:
        self.size = size
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)  # type: ignore[attr-defined]

    def motion(self, previous: np.ndarray, current: np.ndarray, shape: tuple[int, int]) -> Motion:
        """Motion from grey ``previous`` to grey ``current`` (as :func:`gray` makes), for frames ``shape``."""
        backward = self.dis.calc(current, previous, None)  # current pixel -> where it was before
        forward = self.dis.calc(previous, current, None)
        small_h, small_w = current.shape
        xs, ys = np.meshgrid(np.arange(small_w, dtype=np.float32), np.arange(small_h, dtype=np.float32))
        px, py = xs + backward[..., 0], ys + backward[..., 1]
        forward_there = cv2.remap(forward, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # Sundaram et al. / Ruder et al.: the two flows should cancel out where nothing was hidden
        round_trip = np.square(backward + forward_there).sum(axis=2)
        size = np.square(backward).sum(axis=2) + np.square(forward_there).sum(axis=2)
        consistent = round_trip <= 0.01 * size + 0.5
        # motion boundaries: a steep change in the flow is unreliable
        du = cv2.Sobel(backward, cv2.CV_32F, 1, 0, ksize=1)
        dv = cv2.Sobel(backward, cv2.CV_32F, 0, 1, ksize=1)
        gradient = np.square(du).sum(axis=2) + np.square(dv).sum(axis=2)
        consistent &= gradient <= 0.01 * np.square(backward).sum(axis=2) + 0.02
        inside = (px >= 0) & (px <= small_w - 1) & (py >= 0) & (py <= small_h - 1)
        mask = (consistent & inside).astype(np.float32)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
        height, width = shape
        scale_x, scale_y = width / small_w, height / small_h
        if (height, width) != (small_h, small_w):
            backward = cv2.resize(backward, (width, height), interpolation=cv2.INTER_LINEAR)
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.004 * max(height, width)))
        full_x, full_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        map_x = full_x + backward[..., 0] * np.float32(scale_x)
        map_y = full_y + backward[..., 1] * np.float32(scale_y)
        return Motion(map_x, map_y, mask)


def blend(painted: np.ndarray, warped: np.ndarray, mask: np.ndarray, stability: float) -> np.ndarray:
    """Keep ``stability`` × mask of the warped previous painting, the fresh painting elsewhere."""
    alpha = mask * np.float32(stability)
    return cv2.blendLinear(warped, painted, alpha, 1.0 - alpha)


class Stabilizer:
    """Carries the previous frame and painting from one frame to the next."""

    def __init__(self, stability: float, size: int = FLOW_SIZE) -> None:
        self.stability = stability
        self.flow = FlowEstimator(size)
        self.previous_gray: np.ndarray | None = None
        self.previous_painting: np.ndarray | None = None
        self.current_gray: np.ndarray | None = None

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The previous painting warped onto ``frame`` and its trust mask (None for the first frame)."""
        self.current_gray = gray(frame, self.flow.size)
        if self.previous_gray is None or self.previous_painting is None:
            return None
        if self.previous_painting.shape[:2] != frame.shape[:2]:
            return None
        motion = self.flow.motion(self.previous_gray, self.current_gray, frame.shape[:2])
        return motion.warp(self.previous_painting), motion.mask

    def finish(self, painted: np.ndarray, warped: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """The output frame: ``painted`` blended with the warped previous output; remembered."""
        out = painted if warped is None else blend(painted, warped[0], warped[1], self.stability)
        self.remember(out)
        return out

    def remember(self, output: np.ndarray, frame: np.ndarray | None = None) -> None:
        """Take ``output`` as the previous painting (``frame``: its input, when not just prepared)."""
        if frame is not None:
            self.current_gray = gray(frame, self.flow.size)
        self.previous_gray, self.previous_painting = self.current_gray, output


class FlickerMeter:
    """The flicker measure: mean absolute difference (0..255) between each output frame and the
    previous output frame warped onto it by the input's flow, where the flow is trusted."""

    def __init__(self, size: int = FLOW_SIZE) -> None:
        self.flow = FlowEstimator(size)
        self.previous: tuple[np.ndarray, np.ndarray] | None = None
        self.total = 0.0
        self.count = 0

    def add(self, frame: np.ndarray, output: np.ndarray) -> None:
        current = gray(frame, self.flow.size)
        if self.previous is not None:
            previous_gray, previous_output = self.previous
            motion = self.flow.motion(previous_gray, current, output.shape[:2])
            weight = motion.mask >= 0.99
            if weight.any():
                diff = np.abs(motion.warp(previous_output).astype(np.float32) - output.astype(np.float32))
                self.total += float(diff[weight].mean())
                self.count += 1
        self.previous = (current, output)

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else 0.0
