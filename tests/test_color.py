"""Colour preservation: one implementation for both engines."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from impasto import color
from impasto.errors import OptionsError


def test_recombine_keeps_painted_luminance_and_content_chroma(
    photo: Image.Image, starry: Image.Image
) -> None:
    painted = starry.resize(photo.size)
    out = color.recombine(painted, photo)
    # luminance from the painting (up to 8-bit rounding and clipping of out-of-gamut colours)
    assert np.abs(color.luminance(out) - color.luminance(painted)).mean() < 0.02
    yiq = np.asarray(out, dtype=float) / 255 @ color._RGB_TO_YIQ.T
    content_yiq = np.asarray(photo, dtype=float) / 255 @ color._RGB_TO_YIQ.T
    assert np.abs(yiq[..., 1:] - content_yiq[..., 1:]).mean() < 0.03


def test_match_luminance_matches_mean_and_spread(photo: Image.Image, starry: Image.Image) -> None:
    out = color.luminance(color.match_luminance(starry, photo))
    target = color.luminance(photo)
    assert abs(out.mean() - target.mean()) < 0.02
    assert abs(out.std() - target.std()) < 0.02


def test_match_colors_moves_style_palette_to_content(photo: Image.Image, starry: Image.Image) -> None:
    out = np.asarray(color.match_colors(starry, photo), dtype=float).reshape(-1, 3)
    target = np.asarray(photo, dtype=float).reshape(-1, 3)
    before = np.asarray(starry, dtype=float).reshape(-1, 3)
    assert np.abs(out.mean(0) - target.mean(0)).max() < 6
    assert np.abs(before.mean(0) - target.mean(0)).max() > 15  # the test means something


def test_prepare_luminance_gives_grey_images(photo: Image.Image, starry: Image.Image) -> None:
    engine_photo, (engine_style,) = color.prepare(photo, [starry], "luminance")
    for img in (engine_photo, engine_style):
        arr = np.asarray(img, dtype=int)
        assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()


@pytest.mark.parametrize(
    ("given", "mode"), [(True, "luminance"), (False, "none"), (None, "none"), ("histogram", "histogram")]
)
def test_check_mode(given: object, mode: str) -> None:
    assert color.check_mode(given) == mode  # type: ignore[arg-type]


def test_check_mode_refuses_unknown() -> None:
    with pytest.raises(OptionsError, match="luminance or histogram"):
        color.check_mode("sepia")


def _moments(img: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    px = np.asarray(img, dtype=float).reshape(-1, 3) / 255
    return px.mean(0), np.cov(px, rowvar=False)


def test_match_palette_gives_the_photo_the_paintings_colours(photo: Image.Image, starry: Image.Image) -> None:
    """Quality mode's starting picture: the painting's colour mean and covariance, the photo's layout."""
    out = color.match_palette(photo, color.palette_of([starry], [1.0]))
    assert out.size == photo.size
    (mean, cov), (target_mean, target_cov) = _moments(out), _moments(starry)
    photo_mean, _ = _moments(photo)
    assert np.abs(photo_mean - target_mean).max() > 0.05  # the test means something
    assert np.abs(mean - target_mean).max() < 0.01
    assert np.abs(cov - target_cov).max() < 0.15 * np.abs(target_cov).max()
    # the layout is the photo's: luminance correlates with the photo's
    corr = np.corrcoef(color.luminance(out).ravel(), color.luminance(photo).ravel())[0, 1]
    assert corr > 0.8


def test_match_palette_blends_several_paintings(photo: Image.Image, starry: Image.Image) -> None:
    light, dark = Image.new("RGB", (32, 32), (200, 200, 200)), Image.new("RGB", (32, 32), (100, 100, 100))
    grey = np.asarray(color.match_palette(photo, color.palette_of([light, dark], [3.0, 1.0])), dtype=float)
    assert grey.mean() == pytest.approx(175, abs=2)  # the mixture's mean, 3:1 light to dark
    assert grey.std() == pytest.approx(np.sqrt(3 / 16) * 100, rel=0.1)  # and its spread
