"""Shared fixtures: the test images in ../shared/data and small versions of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"test images not found at {DATA} (the project expects ../shared/data beside it)")
    return DATA


def thumbnail(path: Path, size: int) -> Image.Image:
    img = Image.open(path).convert("RGB")
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return img


@pytest.fixture(scope="session")
def photo(data_dir: Path) -> Image.Image:
    """Tübingen, 96 px long side: small enough for many engine runs."""
    return thumbnail(data_dir / "content" / "tubingen.jpg", 96)


@pytest.fixture(scope="session")
def starry(data_dir: Path) -> Image.Image:
    return thumbnail(data_dir / "style" / "starry_night.jpg", 128)


@pytest.fixture(scope="session")
def scream(data_dir: Path) -> Image.Image:
    return thumbnail(data_dir / "style" / "the_scream.jpg", 128)
