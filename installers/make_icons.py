"""Render Tailor's icon (resources/icons/tailor.svg) for the installers of Windows and macOS.

Qt draws the SVG (the same renderer as the app's own window icon), each size on its own so that
small sizes stay sharp, and Pillow (already in the core through python-pptx and RapidOCR) packs
them:

    python installers/make_icons.py --ico installers/windows/tailor.ico
    python installers/make_icons.py --iconset build/tailor.iconset   # then: iconutil -c icns

The .ico holds 16-256 px (Windows Explorer, the Start menu, the taskbar); the .iconset holds the
ten PNGs that macOS's ``iconutil`` turns into an .icns. Runs on Linux, Windows and macOS, with no
display (Qt's offscreen platform).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "tailor.svg"
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)
# iconutil's names: icon_SIZExSIZE.png and icon_SIZExSIZE@2x.png (twice the pixels).
_APP = None
ICONSET = [(s, f"icon_{s}x{s}.png") for s in (16, 32, 128, 256, 512)] + [
    (2 * s, f"icon_{s}x{s}@2x.png") for s in (16, 32, 128, 256, 512)
]


def render(size: int, svg: Path = SVG) -> bytes:
    """The SVG drawn at ``size`` x ``size`` pixels, as PNG bytes with an alpha channel."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    global _APP
    _APP = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # kept for later sizes
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not an SVG Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def write_ico(target: Path) -> None:
    from PIL import Image

    images = [Image.open(io.BytesIO(render(s))).convert("RGBA") for s in ICO_SIZES]
    target.parent.mkdir(parents=True, exist_ok=True)
    # Pillow writes the first image and those appended, each at its own size.
    images[-1].save(
        target, format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=images[:-1]
    )


def write_iconset(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for size, name in ICONSET:
        (folder / name).write_bytes(render(size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ico", type=Path, help="write a Windows .ico here")
    parser.add_argument("--iconset", type=Path, help="write a macOS .iconset folder here")
    args = parser.parse_args(argv)
    if not (args.ico or args.iconset):
        parser.error("nothing to do: give --ico and/or --iconset")
    if args.ico:
        write_ico(args.ico)
    if args.iconset:
        write_iconset(args.iconset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
