"""Small real image files made in code, for attachment tests (no Pillow needed).

The PNG is complete and decodable; the GIF is a valid 1-colour image; the JPEG
and WebP carry real headers (magic bytes and the frame size) in front of a
placeholder body, which is all the chatbot reads from them.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["gif_bytes", "jpeg_bytes", "png_bytes", "webp_bytes"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bytes(
    width: int = 2, height: int = 2, *, colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A complete RGB PNG of one colour."""
    row = b"\x00" + bytes(colour) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(row * height))
        + _png_chunk(b"IEND", b"")
    )


def gif_bytes(width: int = 1, height: int = 1) -> bytes:
    """A valid GIF89a of one black pixel block."""
    return (
        b"GIF89a"
        + struct.pack("<HH", width, height)
        + b"\x80\x00\x00"  # global colour table of 2 entries
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x2c\x00\x00\x00\x00"
        + struct.pack("<HH", width, height)
        + b"\x00\x02\x02\x44\x01\x00\x3b"
    )


def jpeg_bytes(width: int = 640, height: int = 480) -> bytes:
    """SOI, a JFIF APP0 segment and a baseline SOF0 frame header with the size."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\x08" + struct.pack(">HH", height, width) + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", len(app0) + 2)
        + app0
        + b"\xff\xc0"
        + struct.pack(">H", len(sof0) + 2)
        + sof0
        + b"\x00" * 32
        + b"\xff\xd9"
    )


def webp_bytes(width: int = 300, height: int = 200) -> bytes:
    """A RIFF/WEBP container with a VP8X header carrying the canvas size."""
    vp8x = (
        b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    chunk = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk
