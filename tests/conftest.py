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


@pytest.fixture(scope="session")
def photo(data_dir: Path) -> Image.Image:
    """Tübingen, 96 px long side: small enough for many engine runs."""
    img = Image.open(data_dir / "content" / "tubingen.jpg").convert("RGB")
    img.thumbnail((96, 96), Image.Resampling.LANCZOS)
    return img


@pytest.fixture(scope="session")
def starry(data_dir: Path) -> Image.Image:
    img = Image.open(data_dir / "style" / "starry_night.jpg").convert("RGB")
    img.thumbnail((128, 128), Image.Resampling.LANCZOS)
    return img


@pytest.fixture(scope="session")
def scream(data_dir: Path) -> Image.Image:
    img = Image.open(data_dir / "style" / "the_scream.jpg").convert("RGB")
    img.thumbnail((128, 128), Image.Resampling.LANCZOS)
    return img
