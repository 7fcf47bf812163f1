"""Draws the add-in's icons (a white envelope on a blue tile) as PNG files, without Pillow.

    python tools/icons.py      # writes src/mailfiler/web/addin/icons/icon-*.png
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / "src" / "mailfiler" / "web" / "addin" / "icons"
BLUE = (15, 108, 189, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def pixel(x: float, y: float) -> tuple[int, int, int, int]:
    """The colour at (x, y) in a unit square."""
    radius = 0.18
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    if (x - cx) ** 2 + (y - cy) ** 2 > radius**2:
        return CLEAR
    left, right, top, bottom = 0.2, 0.8, 0.3, 0.72
    if left <= x <= right and top <= y <= bottom:
        edge = 0.045
        on_border = x < left + edge or x > right - edge or y < top + edge or y > bottom - edge
        # The flap: two lines from the top corners to the centre.
        middle = (left + right) / 2
        flap_y = top + (bottom - top) * 0.55 * (1 - abs(x - middle) / (middle - left))
        on_flap = abs(y - flap_y) < edge * 0.9
        return WHITE if on_border or on_flap else BLUE
    return BLUE


def png(size: int) -> bytes:
    rows = b""
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            row += bytes(pixel((i + 0.5) / size, (j + 0.5) / size))
        rows += bytes(row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    FOLDER.mkdir(parents=True, exist_ok=True)
    for size in (16, 32, 64, 80, 128):
        (FOLDER / f"icon-{size}.png").write_bytes(png(size))
