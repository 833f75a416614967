"""Images in: everything a user may hand us becomes 8-bit sRGB, or a clear ImageError."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from impasto.errors import ImageError
from impasto.imageio import check_paintable, fit_long_side, load_image, save_image


def encoded(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    """One pixel of an RGB image (``getpixel`` is typed for every mode)."""
    pixel = image.convert("RGB").getpixel(xy)
    assert isinstance(pixel, tuple)
    r, g, b = pixel
    return int(r), int(g), int(b)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF"])
def test_reads_common_formats(fmt: str) -> None:
    img = Image.new("RGB", (40, 30), (200, 40, 10))
    out = load_image(encoded(img, fmt))
    assert out.mode == "RGB" and out.size == (40, 30)
    assert np.abs(np.asarray(out, dtype=int)[15, 20] - (200, 40, 10)).max() <= 4


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    out = load_image(encoded(img, "JPEG", exif=exif))
    assert out.size == (20, 40)


def test_alpha_is_flattened_over_white() -> None:
    img = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert load_image(encoded(img, "PNG")).getpixel((4, 4)) == (255, 255, 255)


def test_palette_with_transparency_over_white() -> None:
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 0, 0] * 256)
    out = load_image(encoded(img, "PNG", transparency=0))
    assert out.getpixel((0, 0)) == (255, 255, 255)


def test_cmyk_greyscale_and_16_bit_become_8_bit_rgb() -> None:
    cmyk = load_image(encoded(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"))
    red, green, _blue = rgb(cmyk, (4, 4))
    assert cmyk.mode == "RGB" and red > 200 and green < 60
    assert load_image(encoded(Image.new("L", (8, 8), 128), "PNG")).getpixel((1, 1)) == (128, 128, 128)
    sixteen = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    assert load_image(encoded(sixteen, "PNG")).getpixel((1, 1)) == (255, 255, 255)


def test_animated_image_uses_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    r, _g, b = rgb(load_image(buf.getvalue()), (4, 4))
    assert r > 200 and b < 50


def test_pixel_limit_refuses_before_decoding() -> None:
    data = encoded(Image.new("RGB", (300, 300)), "PNG")
    with pytest.raises(ImageError, match="megapixels, over the limit"):
        load_image(data, limit=10_000)


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPASTO_MAX_PIXELS", "1000")
    with pytest.raises(ImageError, match="over the limit"):
        load_image(encoded(Image.new("L", (100, 100)), "PNG"))


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"hello, not an image", "not an image"), (None, "damaged or truncated")],
)
def test_unreadable_inputs_name_the_file_and_reason(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "photo.jpg"
    full = encoded(Image.new("RGB", (64, 64), "green"), "PNG")
    path.write_bytes(full[: len(full) // 2] if content is None else content)
    with pytest.raises(ImageError, match=reason) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.int64]),
        shape=st.one_of(
            st.tuples(st.integers(1, 12), st.integers(1, 12)),
            st.tuples(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 3, 4])),
        ),
    )
)
def test_any_array_becomes_rgb_or_a_clear_error(arr: np.ndarray) -> None:
    try:
        out = load_image(arr)
    except ImageError as exc:
        assert "array" in str(exc)
    else:
        assert out.mode == "RGB"
        assert out.size == (arr.shape[1], arr.shape[0])


def test_fit_long_side_keeps_aspect() -> None:
    assert fit_long_side(Image.new("RGB", (400, 300)), 200).size == (200, 150)
    assert fit_long_side(Image.new("RGB", (300, 400)), 200).size == (150, 200)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg", ".webp"])
def test_save_formats_round_trip(tmp_path: Path, suffix: str) -> None:
    path = save_image(Image.new("RGB", (16, 12), "blue"), tmp_path / f"out{suffix}")
    assert load_image(path).size == (16, 12)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


def test_save_refuses_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"\.png, \.jpg"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "out.gif")


def test_too_thin_says_the_size_once_when_painted_as_it_is() -> None:
    with pytest.raises(ImageError) as own:
        check_paintable((2000, 10), None, "strip.png")
    assert str(own.value).startswith("strip.png: a 2000x10 picture is 10 px high; Impasto paints 16 px")
    with pytest.raises(ImageError) as scaled:
        check_paintable((100, 10), 64, "strip.png")
    assert "a 100x10 picture painted at 64 px is 64x6;" in str(scaled.value)
