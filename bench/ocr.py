"""OCR speed and accuracy on scanned pages made here. Run with:

    nice -n 5 .venv/bin/python bench/ocr.py [PAGES]

Makes a PDF of PAGES (default 5) A4 pages that are images of text (scanned at 150 dpi: 36 lines
of 10 words in Pillow's own sans-serif font at 11.5 points, no text layer), reads it the way
indexing does (through the parse worker, rendered at 256 dpi: 2121 × 3000 pixels) and again in
this process after a warm-up page, and prints pages per second, processor seconds per page and
how many of the words were read (with the spaces between them).
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LINES = 36
WORDS = [
    "harbour",
    "kettle",
    "copper",
    "invoice",
    "ferry",
    "turbine",
    "delivery",
    "warehouse",
    "signed",
    "chief",
    "boat",
    "lighthouse",
    "keeper",
    "north",
    "island",
    "winter",
    "supply",
]


def scanned_pdf(folder: Path, pages: int) -> tuple[Path, list[str]]:
    """The PDF, and the words on its pages."""
    from fpdf import FPDF

    from tests.test_ocr import page_image

    rng = random.Random(0)
    pdf = FPDF(format="A4")
    words = []
    for number in range(pages):
        lines = [" ".join(rng.choice(WORDS) for _ in range(10)) for _ in range(LINES)]
        words += " ".join(lines).split()
        picture = folder / f"page{number}.png"
        page_image(lines, pixels=24).save(picture)
        pdf.add_page()
        pdf.image(str(picture), x=0, y=0, w=210, h=297)
    pdf.output(str(folder / "scan.pdf"))
    return folder / "scan.pdf", words


def main(pages: int) -> None:
    from engine.knowledge.formats import ocr
    from engine.knowledge.parse_worker import ParserProcess
    from engine.knowledge.parsing import parse

    with tempfile.TemporaryDirectory(prefix="tailor-ocr-") as tmp:
        pdf, words = scanned_pdf(Path(tmp), pages)
        with ParserProcess() as parser:
            started = time.perf_counter()
            parser.parse(pdf, pdf.stat().st_size)
            worker = time.perf_counter() - started
        parse(pdf, 1)  # loads the models and reads one page: not counted
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        sections = parse(pdf, pages)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    read = Counter(" ".join(s.text for s in sections).split())
    found = sum(min(n, read[word]) for word, n in Counter(words).items())
    threads = max(1, min(ocr.MAX_THREADS, os.cpu_count() or 1))
    print(f"{pages} A4 pages, 2121 x 3000 px (256 dpi), {os.cpu_count()} cores, {threads} threads")
    print(f"through the worker (its start and model load included): {pages / worker:.2f} pages/s")
    print(f"in process, warm: {pages / wall:.2f} pages/s, {cpu / pages:.2f} processor s/page")
    print(f"words read right: {found} of {len(words)}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
