"""OCR for PDF pages without a text layer and for images, with RapidOCR.

RapidOCR (``rapidocr-onnxruntime``) runs PaddleOCR's detection, orientation and recognition
models with ONNX Runtime on the processor; the three models ship inside the package, so
nothing is downloaded, ever. A page is rendered (pypdfium2) or an image scaled so that its
longer side is :data:`MAX_SIDE` pixels; the bound also keeps a page of absurd size (or a
decompression bomb of an image) from taking the memory a bitmap of it would need. Text is found
on a copy at most 2,000 pixels long (RapidOCR's ``det_limit_type="max"``) and each line read
from the full image: the recognition model drops the spaces between words of small text at
lower resolutions (11-point sans-serif at 171 dpi: 320 of 400 words; at 256 dpi: 400 of 400),
and finding lines at 2,000 pixels costs what it did.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.knowledge.formats.common import OnPage, Section, Skip

# Longest side of what OCR reads, in pixels: an A4 page at 256 dpi, a Letter page at 270 dpi.
MAX_SIDE = 3000
# No page is rendered finer than this: small pages (a receipt) are not blown up past it.
MAX_DPI = 300
# A small image is enlarged at most this much towards MAX_SIDE (a screenshot's text gains
# little past it).
MAX_ENLARGE = 2.0
# Images larger than this are refused before they are decoded (Pillow's own guard is 179 MP).
MAX_IMAGE_PIXELS = 100_000_000
# ONNX Runtime's threads: more than a few gain little on one page and cost memory each.
MAX_THREADS = 4


class Reader:
    """One RapidOCR engine, loaded on first use (about 0.3 s: three small ONNX models)."""

    def __init__(self):
        self._engine = None

    def lines(self, image) -> list[str]:
        """The text lines of a PIL image, top to bottom (left to right on one line)."""
        if self._engine is None:
            # OpenCV's wheel (RapidOCR's dependency) points Qt at its own plugins on import: a
            # process that shows Qt windows after that would load the wrong ones.
            qt = {k: v for k, v in os.environ.items() if k.startswith("QT_QPA_")}
            import cv2
            from rapidocr_onnxruntime import RapidOCR

            for key in [k for k in os.environ if k.startswith("QT_QPA_")]:
                del os.environ[key]
            os.environ.update(qt)
            cv2.setNumThreads(1)  # its image steps are small; a thread per core is memory
            threads = max(1, min(MAX_THREADS, os.cpu_count() or 1))
            self._engine = RapidOCR(
                intra_op_num_threads=threads,
                inter_op_num_threads=1,
                max_side_len=MAX_SIDE,
                det_limit_type="max",
            )
        # Without the angle classifier: it turns whole upright lines of a clean page upside
        # down (2 of 20 on a test page, read as "r ni"), and scanned lines are seldom inverted.
        result, _elapsed = self._engine(_rgb(image), use_cls=False)
        return _lines(result or [])


def _rgb(image):
    """``image`` as RGB on white: a transparent background must not turn black."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, image).convert("RGB")
    return image.convert("RGB")


def _lines(result: list) -> list[str]:
    """Join RapidOCR's boxes (``[corners, text, score]`` in reading order) into lines: a box
    whose vertical centre lies within the previous box's height continues its line."""
    lines: list[str] = []
    last_centre, last_height = None, 0.0
    for corners, text, _score in result:
        ys = [y for _x, y in corners]
        centre, height = (min(ys) + max(ys)) / 2, max(ys) - min(ys)
        if last_centre is not None and abs(centre - last_centre) < max(height, last_height) / 2:
            lines[-1] += " " + text
        else:
            lines.append(text)
        last_centre, last_height = centre, height
    return [line.strip() for line in lines if line.strip()]


def _scaled(frame):
    """``frame`` with its longer side :data:`MAX_SIDE` (enlarged at most
    :data:`MAX_ENLARGE` times)."""
    from PIL import Image

    if max(frame.size) > MAX_SIDE:
        frame.draft("RGB", (MAX_SIDE, MAX_SIDE))  # a JPEG is decoded smaller, cheaply
    frame = _rgb(frame)
    scale = min(MAX_ENLARGE, MAX_SIDE / max(frame.size))
    if abs(scale - 1) > 0.05:
        size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
        frame = frame.resize(size, Image.Resampling.LANCZOS)
    return frame


def read_pages(
    pages: Iterable[tuple[int | None, object]], count: int, on_page: OnPage | None
) -> list[Section]:
    """OCR ``count`` pages given as (page number, PIL image); a section for each page with
    text."""
    reader = Reader()
    sections = []
    for done, (number, image) in enumerate(pages, 1):
        if on_page is not None:
            on_page(done, count)
        lines = reader.lines(image)
        if lines:
            sections.append(Section("\n".join(lines), 0, page=number))
    return sections


def pdf_pages(pdf, numbers: list[int], on_page: OnPage | None) -> list[Section]:
    """OCR the pages ``numbers`` (from 0) of an open pypdfium2 document."""

    def rendered() -> Iterator[tuple[int, object]]:
        for number in numbers:
            page = pdf[number]
            width, height = page.get_size()  # in points, 72 a inch
            scale = min(MAX_DPI / 72, MAX_SIDE / max(width, height, 1))
            image = page.render(scale=scale, grayscale=True).to_pil()
            yield number + 1, image

    return read_pages(rendered(), len(numbers), on_page)


def image(path: Path, max_pages: int, on_page: OnPage | None) -> list[Section]:
    """OCR an image file; each frame of a multi-page TIFF is a page."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    if max_pages <= 0:
        raise Skip("an image, and OCR is turned off for this knowledge base")
    try:
        picture = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise Skip(f"image too large to read ({exc})") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise Skip(f"damaged or unknown image ({exc})") from None
    with picture:
        width, height = picture.size
        if width * height > MAX_IMAGE_PIXELS:
            raise Skip(
                f"image too large to read ({width:,} × {height:,} pixels; OCR reads up to "
                f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels)"
            )
        frames = getattr(picture, "n_frames", 1)
        count = min(frames, max_pages)

        def scaled() -> Iterator[tuple[int | None, object]]:
            for index, frame in enumerate(ImageSequence.Iterator(picture)):
                if index >= count:
                    return
                yield (index + 1 if frames > 1 else None), _scaled(frame)

        try:
            sections = read_pages(scaled(), count, on_page)
        except (OSError, SyntaxError, ValueError) as exc:  # Pillow's ways of saying "damaged"
            raise Skip(f"damaged image ({exc})") from None
    if not sections:
        raise Skip("no text found (OCR read the image and found no text)")
    return sections
