"""Regions (issue 25): parts of the picture in styles of their own, or kept, in both engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.data import CONTENT, STYLE, thumbnail

import impasto
from impasto import masks
from impasto.api import Mode
from impasto.cli import main
from impasto.errors import ImageError, OptionsError

SCREAM = thumbnail(STYLE / "the_scream.jpg", 128)  # oranges and reds
STARRY = thumbnail(STYLE / "starry_night.jpg", 128)  # blues


def _halves(size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    """A mask of the left half and one of a disc in the right half's middle."""
    width, height = size
    left = np.zeros((height, width), dtype=np.uint8)
    left[:, : width // 2] = 255
    yy, xx = np.mgrid[:height, :width]
    disc = ((xx - 0.75 * width) ** 2 + (yy - 0.5 * height) ** 2 < (0.2 * height) ** 2).astype(np.uint8) * 255
    return Image.fromarray(left, "L"), Image.fromarray(disc, "L")


def _mean(img: Image.Image, area: np.ndarray) -> np.ndarray:
    pixels = np.asarray(img.convert("RGB"), dtype=np.float64)[area]
    mean: np.ndarray = pixels.mean(0)
    return mean


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("fast", {}),
        ("quality", {"size": 96, "iterations": 8, "precision": "float32"}),
        # from the photo itself: only the guided style losses can move each region to its painting
        ("quality", {"size": 96, "iterations": 12, "precision": "float32", "init": "content"}),
    ],
)
def test_each_region_moves_towards_its_own_painting_and_kept_parts_stay(mode: Mode, options: dict) -> None:  # type: ignore[type-arg]
    photo = thumbnail(CONTENT / "tubingen.jpg", 96)
    left, disc = _halves(photo.size)
    out = impasto.stylize(photo, STARRY, mode=mode, regions=[(left, SCREAM), (disc, "keep")], **options)
    assert out.size == photo.size
    width, height = photo.size
    yy, xx = np.mgrid[:height, :width]
    inner_left = xx < width // 2 - 8  # away from the feathered border
    inner_right = (xx > width // 2 + 8) & (
        (xx - 0.75 * width) ** 2 + (yy - 0.5 * height) ** 2 > (0.3 * height) ** 2
    )
    scream, starry = (
        _mean(SCREAM, np.ones(SCREAM.size[::-1], bool)),
        _mean(STARRY, np.ones(STARRY.size[::-1], bool)),
    )
    for area, own, other in ((inner_left, scream, starry), (inner_right, starry, scream)):
        colour = _mean(out, area)
        assert np.linalg.norm(colour - own) < np.linalg.norm(colour - other), (mode, colour, own, other)
    kept = (xx - 0.75 * width) ** 2 + (yy - 0.5 * height) ** 2 < (0.1 * height) ** 2  # the disc's middle
    difference = np.abs(np.asarray(out, float) - np.asarray(photo, float))[kept].mean()
    assert difference < 6, difference  # the photo itself, but for the feathered edge
    whole = impasto.stylize(photo, STARRY, mode=mode, **options)  # without regions: painted there too
    assert np.abs(np.asarray(whole, float) - np.asarray(photo, float))[kept].mean() > 3 * difference + 10


def test_a_mask_close_to_the_photos_shape_is_resized_and_one_far_off_refused() -> None:
    size = (120, 90)
    close = Image.new("L", (124, 90), 255)  # 3% wider
    assert masks.load_mask(close, size).shape == (90, 120)
    with pytest.raises(OptionsError, match=r"shapes differ by 25% .* this one is refused"):
        masks.load_mask(Image.new("L", (90, 90), 255), size, "square.png")


def test_masks_that_are_not_pictures_or_empty_are_refused() -> None:
    photo = thumbnail(CONTENT / "tubingen.jpg", 64)
    with pytest.raises(ImageError, match="region 1's mask"):
        impasto.stylize(photo, STARRY, mode="fast", regions=[(b"not a picture", "keep")])
    with pytest.raises(OptionsError, match="empty: it has no white"):
        impasto.stylize(photo, STARRY, mode="fast", regions=[(Image.new("L", photo.size, 0), "keep")])
    with pytest.raises(OptionsError, match="pair"):
        impasto.stylize(photo, STARRY, mode="fast", regions=[Image.new("L", photo.size, 255)])  # type: ignore[list-item]
    with pytest.raises(OptionsError, match="not sliced"):
        impasto.stylize(
            photo, STARRY, regions=[(Image.new("L", photo.size, 255), "keep")], style_loss="sliced"
        )


def test_the_cli_takes_regions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "photo.png"
    thumbnail(CONTENT / "tubingen.jpg", 80).save(photo)
    left, disc = _halves(Image.open(photo).size)
    left.save(tmp_path / "left.png")
    disc.save(tmp_path / "disc.png")
    out = tmp_path / "out.png"
    argv = ["stylize", str(photo), "starry-night", "--mode", "fast", "-o", str(out), "--quiet"]
    regions = ["--region", f"{tmp_path / 'left.png'}=the-scream", "--region", f"{tmp_path / 'disc.png'}=keep"]
    assert main([*argv, *regions]) == 0
    assert Image.open(out).size == Image.open(photo).size
    assert main([*argv, "--region", str(tmp_path / "left.png")]) == 2
    assert "give MASK=STYLE" in capsys.readouterr().err
    Image.new("L", (40, 80), 255).save(tmp_path / "tall.png")
    assert main([*argv, "--region", f"{tmp_path / 'tall.png'}=keep"]) == 2
    assert "refused" in capsys.readouterr().err
