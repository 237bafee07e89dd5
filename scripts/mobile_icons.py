"""Draw the mobile app's icons and splash into apps/mobile/assets/ (the podcast artwork's design).

The stores want a 1024x1024 RGB app icon without transparency (iOS) and an adaptive-icon
foreground (Android); Expo takes the splash image, favicon and Android notification icon
from the same folder. Re-run only to change the design:

    .venv/bin/python scripts/mobile_icons.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "apps" / "mobile" / "assets"
SIZES = {
    "icon.png": 1024,
    "adaptive-icon.png": 1024,
    "splash.png": 1024,
    "favicon.png": 48,
    "notification-icon.png": 96,
}


def _artwork() -> ModuleType:
    spec = importlib.util.spec_from_file_location("podcast_artwork", ROOT / "scripts" / "podcast_artwork.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    art = _artwork()
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name, size in SIZES.items():
        data = art.png(art.draw(size), art.PALETTE)
        (ASSETS / name).write_bytes(data)
        print(f"{ASSETS / name}: {size}x{size}, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
