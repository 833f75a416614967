"""Colour preservation, shared by both engines (Gatys et al. 2016, "Preserving color in NST").

Two methods:

* ``luminance`` — luminance-only transfer: both engines paint on luminance images (the style's
  luminance matched to the content's mean and spread), then the painted luminance is joined with
  the content's own chroma (YIQ).
* ``histogram`` — colour histogram matching: the style image's colours are mapped onto the
  content's colour distribution (mean and covariance) before painting, so the painting uses the
  photo's palette.

Use :func:`prepare` before an engine runs and :func:`finish` after it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image

from .errors import OptionsError

ColorMode = Literal["none", "luminance", "histogram"]
COLOR_MODES: tuple[str, ...] = ("none", "luminance", "histogram")

_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def _array(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0


def _image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8), "RGB")


def luminance(img: Image.Image) -> np.ndarray:
    """The Y channel (0..1) of an RGB image."""
    y: np.ndarray = _array(img) @ _RGB_TO_YIQ[0]
    return y


def grey(y: np.ndarray) -> Image.Image:
    return _image(np.repeat(y[..., None], 3, axis=2))


def match_luminance(style: Image.Image, content: Image.Image) -> Image.Image:
    """The style's luminance as a grey image, shifted and scaled to the content's mean and spread."""
    ys, yc = luminance(style), luminance(content)
    matched = (ys - ys.mean()) * (yc.std() / max(ys.std(), 1e-6)) + yc.mean()
    return grey(matched)


def recombine(painted: Image.Image, content: Image.Image) -> Image.Image:
    """The painted image's luminance with the content's chroma (I and Q)."""
    if content.size != painted.size:
        content = content.resize(painted.size, Image.Resampling.LANCZOS)
    yiq = _array(content) @ _RGB_TO_YIQ.T
    yiq[..., 0] = luminance(painted)
    return _image(yiq @ _YIQ_TO_RGB.T)


def match_colors(style: Image.Image, content: Image.Image) -> Image.Image:
    """Map the style's RGB distribution onto the content's (mean and covariance, symmetric root)."""
    s, c = _array(style).reshape(-1, 3), _array(content).reshape(-1, 3)
    mu_s, mu_c = s.mean(0), c.mean(0)
    cov_s = np.cov(s, rowvar=False) + np.eye(3) * 1e-5
    cov_c = np.cov(c, rowvar=False) + np.eye(3) * 1e-5
    transform = _sqrtm(cov_c) @ np.linalg.inv(_sqrtm(cov_s))
    out = (s - mu_s) @ transform.T + mu_c
    return _image(out.reshape(style.size[1], style.size[0], 3))


Palette = tuple[np.ndarray, np.ndarray]  # RGB mean (3,) and covariance (3, 3), in 0..1


def palette_of(styles: list[Image.Image], weights: list[float]) -> Palette:
    """The colour mean and covariance of the weighted mixture of the paintings' pixels."""
    total = sum(weights)
    mean, second = np.zeros(3), np.zeros((3, 3))
    for img, w in zip(styles, weights, strict=True):
        s = _array(img.resize(_thumb(img.size))).reshape(-1, 3)
        mean += w / total * s.mean(0)
        second += w / total * (s.T @ s / len(s))
    return mean, second - np.outer(mean, mean)


def match_palette(content: Image.Image, palette: Palette) -> Image.Image:
    """The photo recoloured to a painting's palette (:func:`palette_of`): its RGB mean and
    covariance mapped onto the palette's.

    Quality mode starts from this picture: the optimisation then spends its iterations on strokes
    and shapes, not on dragging a dark photo towards a pale painting's colours.
    """
    c = _array(content).reshape(-1, 3)
    mean, cov = palette
    cov_c = np.cov(c, rowvar=False) + np.eye(3) * 1e-5
    transform = _transport(cov_c, cov + np.eye(3) * 1e-5)
    out = (c - c.mean(0)) @ transform.T + mean
    return _image(out.reshape(content.size[1], content.size[0], 3))


def _thumb(size: tuple[int, int], side: int = 256) -> tuple[int, int]:
    scale = min(1.0, side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _transport(cov_from: np.ndarray, cov_to: np.ndarray) -> np.ndarray:
    """The linear map of the optimal transport between two centred Gaussians (Monge-Kantorovich):
    the least change of colour that gives the target covariance."""
    root = _sqrtm(cov_from)
    inv_root = np.linalg.inv(root)
    transform: np.ndarray = inv_root @ _sqrtm(root @ cov_to @ root) @ inv_root
    return transform


def _sqrtm(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    root: np.ndarray = (vectors * np.sqrt(np.clip(values, 1e-10, None))) @ vectors.T
    return root


def check_mode(mode: str | bool | None) -> str:
    """Normalise a user's colour option: ``True`` means luminance, ``False``/``None`` means none."""
    if mode is True:
        return "luminance"
    if mode in (False, None):
        return "none"
    if mode not in COLOR_MODES:
        raise OptionsError(f"unknown colour preservation {mode!r}: use none, luminance or histogram")
    return str(mode)


def prepare(
    content: Image.Image, styles: list[Image.Image], mode: str
) -> tuple[Image.Image, list[Image.Image]]:
    """The images an engine should paint with, for the given colour mode."""
    if mode == "luminance":
        return grey(luminance(content)), [match_luminance(s, content) for s in styles]
    if mode == "histogram":
        return content, [match_colors(s, content) for s in styles]
    return content, styles


def finish(painted: Image.Image, content: Image.Image, mode: str) -> Image.Image:
    """The user's picture from the engine's output, for the given colour mode."""
    return recombine(painted, content) if mode == "luminance" else painted
