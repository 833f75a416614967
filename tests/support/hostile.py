"""Over-sized pictures made in a few kilobytes: headers that declare huge dimensions (with little or
no pixel data behind them) and one real decompression bomb, in every format Impasto reads.

Issue 22: each of these reached the web routes' decoder as a Pillow ``DecompressionBombError`` (HTTP
500). Shared by the tests and ``bench/hostile.py``, which sends them to a running server.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

from PIL import Image


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, *, bit_depth: int = 8, color_type: int = 2) -> bytes:
    """A PNG whose header says ``width`` x ``height``, followed by one short row of pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def png_bomb(side: int = 30_000, *, bit_depth: int = 1) -> bytes:
    """A complete, valid PNG of ``side`` x ``side`` black pixels: ~110 KB (1-bit) that decodes to
    ``side``² pixels."""
    row = b"\0" + b"\0" * ((side * bit_depth + 7) // 8)  # filter byte, then the packed pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _small(fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 30)).save(buf, fmt, **params)
    return buf.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small baseline JPEG with its frame header (SOF0) rewritten to ``width`` x ``height``."""
    data = bytearray(_small("JPEG"))
    at = data.index(b"\xff\xc0")  # SOF0: length(2) precision(1) height(2) width(2)
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    """A small GIF whose logical screen is ``width`` x ``height``."""
    data = bytearray(_small("GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    """A small 24-bit BMP whose info header says ``width`` x ``height``."""
    data = bytearray(_small("BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def tiff_declaring(width: int, height: int) -> bytes:
    """An uncompressed 8-bit greyscale TIFF whose tags say ``width`` x ``height``, with 64 bytes of
    pixel data."""
    entries = [  # tag, type (3 SHORT, 4 LONG), value
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8 + 2 + 9 * 12 + 4),  # the strip follows the IFD
        (277, 3, 1),
        (278, 4, height),
        (279, 4, 64),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHI", tag, kind, 1) + (
            struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        )
    return b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\0" * 64


def webp_declaring(width: int, height: int) -> bytes:
    """An extended WebP (VP8X) whose canvas is ``width`` x ``height``, holding a 16 x 16 picture."""
    simple = _small("WEBP", lossless=True)
    vp8l = simple[12:]  # the one chunk after "RIFF....WEBP"
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (width - 1).to_bytes(3, "little")
    vp8x += (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


#: Every class of over-sized picture of issue 22, by name: (make it, its width, its height).
OVERSIZED: dict[str, tuple[Callable[[], bytes], int, int]] = {
    "png 30000x30000 1-bit bomb": (lambda: png_bomb(30_000), 30_000, 30_000),
    "png 30000x30000 8-bit header": (lambda: png_declaring(30_000, 30_000, color_type=0), 30_000, 30_000),
    "png 65535x65535 header": (lambda: png_declaring(65_535, 65_535), 65_535, 65_535),
    "png 2^31x1 header": (lambda: png_declaring(2**31 - 1, 1), 2**31 - 1, 1),
    "png 12000x9000 header": (lambda: png_declaring(12_000, 9_000), 12_000, 9_000),
    "jpeg 65500x65500 header": (lambda: jpeg_declaring(65_500, 65_500), 65_500, 65_500),
    "gif 65535x65535 screen": (lambda: gif_declaring(65_535, 65_535), 65_535, 65_535),
    "bmp 50000x50000 header": (lambda: bmp_declaring(50_000, 50_000), 50_000, 50_000),
    "tiff 100000x100000 tags": (lambda: tiff_declaring(100_000, 100_000), 100_000, 100_000),
    "webp 16383x16383 canvas": (lambda: webp_declaring(16_383, 16_383), 16_383, 16_383),
}
