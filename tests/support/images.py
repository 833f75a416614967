"""Small encoded pictures made on the spot, for upload and decoding tests."""

from __future__ import annotations

import base64
import io

from PIL import Image


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 30)) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 8):  # a little structure, not a flat colour
        for y in range(height):
            image.putpixel((x, y), (color[2], color[0], color[1]))
    image.save(buf, "PNG")
    return buf.getvalue()


def jpeg(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
