"""Draw the mobile app's icons and splash into apps/mobile/assets/ (the podcast artwork's design).

The stores want a 1024x1024 RGB app icon without transparency (iOS) and an adaptive-icon
foreground (Android); Expo takes the splash image and favicon from the same folder. Android
draws a notification icon from its alpha channel only, so that one is white sound bars on
transparency (RGBA); an opaque square would show as a white blob. Re-run only to change the
design; `--check` (in scripts/check-mobile) fails when the committed files differ from what
this draws:

    .venv/bin/python scripts/mobile_icons.py [--check]
"""

from __future__ import annotations

import importlib.util
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "apps" / "mobile" / "assets"
SIZES = {
    "icon.png": 1024,
    "adaptive-icon.png": 1024,
    "splash.png": 1024,
    "favicon.png": 48,
}
NOTIFICATION = ("notification-icon.png", 96)


def _artwork() -> ModuleType:
    spec = importlib.util.spec_from_file_location("podcast_artwork", ROOT / "scripts" / "podcast_artwork.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rgba_png(pixels: np.ndarray) -> bytes:
    """An 8-bit PNG with alpha (colour type 6) of an (h, w, 4) uint8 array."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def notification_icon(art: ModuleType, size: int) -> np.ndarray:
    """The five sound bars in white, everything else fully transparent."""
    bars = art.draw(size) >= 2
    pixels = np.zeros((size, size, 4), dtype=np.uint8)
    pixels[bars] = (255, 255, 255, 255)
    return pixels


def drawn() -> dict[str, bytes]:
    art = _artwork()
    files = {name: art.png(art.draw(size), art.PALETTE) for name, size in SIZES.items()}
    name, size = NOTIFICATION
    pixels = notification_icon(art, size)
    opaque = pixels[..., 3] == 255
    assert 0 < opaque.mean() < 0.5, "notification icon: the bars must cover part of the square"
    assert ((pixels[..., 3] == 0) | opaque).all(), "notification icon: alpha is all or nothing"
    assert (pixels[opaque][:, :3] == 255).all(), "notification icon: the visible pixels are white"
    files[name] = rgba_png(pixels)
    return files


def main(argv: list[str]) -> int:
    files = drawn()
    if argv == ["--check"]:
        stale = [name for name, data in files.items() if (ASSETS / name).read_bytes() != data]
        if stale:
            print(
                f"mobile_icons: {', '.join(stale)} differ from what the script draws; run it", file=sys.stderr
            )
            return 1
        return 0
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (ASSETS / name).write_bytes(data)
        print(f"{ASSETS / name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
