"""Draw the default podcast artwork: src/newstalk/delivery/data/podcast-artwork.png.

Apple Podcasts and Spotify want square artwork of 1400x1400 to 3000x3000 pixels (PNG or
JPEG, RGB). This draws five sound bars (the five character voices) on a dark disc with
numpy and writes an 8-bit RGB PNG (Apple asks for the RGB colour space) with the standard
library; four flat colours compress to a few kilobytes, and no imaging library is needed. Re-run it only to change the design:

    .venv/bin/python scripts/podcast_artwork.py
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np

SIZE = 1400
PALETTE = [(15, 23, 42), (30, 41, 59), (56, 189, 248), (250, 204, 21)]  # navy, slate, sky, amber
OUT = Path(__file__).resolve().parents[1] / "src" / "newstalk" / "delivery" / "data" / "podcast-artwork.png"


def draw(size: int = SIZE) -> np.ndarray:
    """Palette indices, one byte per pixel."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    c = size / 2
    img = np.zeros((size, size), dtype=np.uint8)
    img[(x - c) ** 2 + (y - c) ** 2 <= (0.42 * size) ** 2] = 1
    heights = [0.22, 0.40, 0.56, 0.40, 0.22]
    width, gap = 0.07 * size, 0.045 * size
    left = c - (5 * width + 4 * gap) / 2
    for i, h in enumerate(heights):
        x0 = left + i * (width + gap)
        half = h * size / 2
        r = width / 2
        body = (x >= x0) & (x < x0 + width) & (np.abs(y - c) <= half - r)
        cap = (x - (x0 + r)) ** 2 + (np.abs(y - c) - (half - r)) ** 2 <= r**2
        img[body | (cap & (np.abs(y - c) > half - r))] = 3 if i == 2 else 2
    return img


def png(indices: np.ndarray, palette: list[tuple[int, int, int]]) -> bytes:
    """An 8-bit truecolour PNG (colour type 2) of ``indices`` looked up in ``palette``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w = indices.shape
    rgb = np.asarray(palette, dtype=np.uint8)[indices]
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> int:
    data = png(draw(), PALETTE)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(data)
    print(f"{OUT}: {SIZE}x{SIZE}, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
