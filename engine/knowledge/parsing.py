"""Turning a file into text sections, each with its page or heading and character offset.

One parser per format, each a well-kept library where the format needs one (pypdfium2 for PDF,
python-docx for Word, selectolax for HTML; the others are in :mod:`engine.knowledge.formats`).
A file of no known format is read as text when its content is text, whatever its name
(``Makefile``, ``LICENSE``, ``requirements.in``); pages without a text layer and images go
through OCR (:mod:`engine.knowledge.formats.ocr`). Anything that cannot be read raises
:class:`Skip` with a reason the user can act on; the rest of the folder still indexes.

Files are untrusted input: the indexer runs these parsers in a worker process with memory and
time limits (:mod:`engine.knowledge.parse_worker`), and the code here avoids what those limits
would only contain: every regular expression runs in linear time on any input, and an archive
is refused by its members' declared sizes before anything is unpacked.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

from engine.knowledge.formats.common import MAX_UNPACKED_BYTES, OnPage, Section, Skip
from engine.knowledge.formats.common import check_archive as _check_archive
from engine.knowledge.formats.common import html as _html

__all__ = ["MAX_UNPACKED_BYTES", "SUPPORTED", "OnPage", "Section", "Skip", "file_type", "parse"]

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst", ".text"}
CODE_SUFFIXES = {
    ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".c", ".h", ".cpp", ".hpp", ".cc", ".cs",
    ".go", ".rs", ".rb", ".php", ".swift", ".kt", ".scala", ".sh", ".sql", ".r", ".m",
    ".lua", ".pl", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml", ".css", ".scss",
}  # fmt: skip
OFFICE_SUFFIXES = {".odt", ".ods", ".odp", ".pptx", ".xlsx"}
DOCUMENT_SUFFIXES = {".rtf", ".epub", ".eml", ".mbox", ".tex", ".latex"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
# The formats read by a parser of their own. Any other file is read as text when its content is
# text (see :func:`parse`).
SUPPORTED = TEXT_SUFFIXES | CODE_SUFFIXES | OFFICE_SUFFIXES | DOCUMENT_SUFFIXES | IMAGE_SUFFIXES | {
    ".html", ".htm", ".pdf", ".docx", ".csv", ".json", ".jsonl",
}  # fmt: skip
# Binary formats people keep that no parser here reads, with what to do instead.
LEGACY = {
    ".doc": "the old binary Word format; save it as .docx",
    ".xls": "the old binary Excel format; save it as .xlsx",
    ".ppt": "the old binary PowerPoint format; save it as .pptx",
}

# How many pages (or image frames) of one file are read by OCR unless the knowledge base says
# otherwise: OCR takes seconds a page, text layers milliseconds.
OCR_MAX_PAGES = 50

# ATX headings ("## Title ##"). Only spaces and tabs around the title: a pattern that lets
# whitespace runs be matched several ways (``\s+(.+?)\s*#*\s*$``) backtracks cubically on a
# line of spaces. The optional closing hashes are removed by :func:`_atx_title`.
ATX_HEADING = re.compile(r"^#{1,6}[ \t]+(\S[^\n]*)$", re.M)
# reStructuredText: a line underlined with punctuation.
RST_HEADING = re.compile(r"^(.+)\n([=\-~^\"'`#*+]{3,})[ \t\r]*$", re.M)


def file_type(path: Path) -> str:
    return path.suffix.lower().lstrip(".") or "none"


def parse(
    path: Path, ocr_max_pages: int = OCR_MAX_PAGES, on_page: OnPage | None = None
) -> list[Section]:
    """Sections of ``path`` in reading order; raises :class:`Skip`.

    Pages without a text layer and images are read by OCR, at most ``ocr_max_pages`` of them
    (0: none); ``on_page`` is told before each.
    """
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _pdf(path, ocr_max_pages, on_page)
    if suffix == ".docx":
        return _docx(path)
    if suffix in OFFICE_SUFFIXES:
        from engine.knowledge.formats import office

        return office.parse(path, suffix)
    if suffix in IMAGE_SUFFIXES:
        from engine.knowledge.formats import ocr

        return ocr.image(path, ocr_max_pages, on_page)
    if suffix in (".epub", ".eml", ".mbox"):
        from engine.knowledge.formats import documents

        return documents.parse(path, suffix)
    text = _read_text(path) if suffix in SUPPORTED else _sniff(path, suffix)
    if suffix in (".html", ".htm"):
        return _html(text)
    if suffix == ".csv":
        return _csv(text)
    if suffix in (".json", ".jsonl"):
        return _json(text, suffix)
    if suffix in (".md", ".markdown"):
        return _headed(text, ATX_HEADING, lambda m: _atx_title(m[1]))
    if suffix == ".rst":
        return _headed(text, RST_HEADING, lambda m: m[1].strip())
    if suffix in (".rtf", ".tex", ".latex"):
        from engine.knowledge.formats import documents

        return documents.parse_text(text, suffix)
    return [Section(text)]


def _sniff(path: Path, suffix: str) -> str:
    """The text of a file whose name says nothing Tailor reads (``Makefile``, ``LICENSE``,
    ``notes.log``): indexed when its content is text, refused with a reason when it is not."""
    named = f"not a supported format ({suffix or 'no extension'})"
    if suffix in LEGACY:
        raise Skip(f"{named}: {LEGACY[suffix]}")
    with path.open("rb") as f:
        head = f.read(8192)
    if b"\x00" in head:
        raise Skip(f"{named}: its content is binary, not text")
    try:
        return _read_text(path)
    except Skip as exc:
        if "empty" in str(exc):
            raise
        raise Skip(f"{named}: its content is not text in any encoding Tailor knows") from None


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise Skip("empty file")
    if b"\x00" in data[:8192]:
        raise Skip("binary content (not text, despite its extension)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older Windows files: decode losslessly enough to index, never crash.
        text = data.decode("cp1252", errors="replace")
        if text.count("\ufffd") > len(text) * 0.01:
            raise Skip("not valid text (unknown encoding)") from None
        return text


def _atx_title(line: str) -> str:
    """A Markdown heading's title without its optional closing hashes (``## Title ##``)."""
    title = line.strip()
    bare = title.rstrip("#")
    if not bare or bare[-1] in " \t":  # closing hashes must follow a space ("C#" keeps its #)
        title = bare.strip()
    return title


def _headed(text: str, pattern: re.Pattern, title: Callable[[re.Match], str]) -> list[Section]:
    """Split at headings; each section remembers its heading (``title`` of the match)."""
    sections, heading, last = [], None, 0
    for match in pattern.finditer(text):
        if match.start() > last and text[last : match.start()].strip():
            sections.append(Section(text[last : match.start()], last, heading=heading))
        heading = title(match) or None
        last = match.start()
    if text[last:].strip():
        sections.append(Section(text[last:], last, heading=heading))
    return sections


def _pdf(path: Path, ocr_max_pages: int, on_page: OnPage | None) -> list[Section]:
    """Each page's text layer; pages without one are read by OCR (the first
    ``ocr_max_pages`` of them)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise Skip("encrypted PDF (password protected)") from None
        raise Skip(f"damaged PDF ({exc})") from None
    try:
        sections, scanned = [], []
        for number in range(len(pdf)):
            page = pdf[number]
            text = page.get_textpage().get_text_range()
            if text.strip():
                sections.append(Section(text.replace("\r\n", "\n"), 0, page=number + 1))
            else:
                scanned.append(number)
        if scanned and ocr_max_pages > 0:
            from engine.knowledge.formats import ocr

            sections += ocr.pdf_pages(pdf, scanned[:ocr_max_pages], on_page)
            sections.sort(key=lambda s: s.page)
        if not sections:
            if not scanned:
                raise Skip("no text found (the PDF has no pages)")
            if ocr_max_pages <= 0:
                raise Skip(
                    f"no text layer ({len(scanned)} page(s) look scanned), and OCR is turned off "
                    "for this knowledge base"
                )
            read = (
                f"its {len(scanned)} page(s)"
                if len(scanned) <= ocr_max_pages
                else f"the first {ocr_max_pages} of its {len(scanned)} pages (the OCR page limit)"
            )
            raise Skip(f"no text found: no text layer, and OCR found no text on {read}")
        return sections
    finally:
        pdf.close()


def _docx(path: Path) -> list[Section]:
    import zipfile

    import docx

    try:
        _check_archive(path)
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Skip(f"damaged Word document ({exc})") from None
    sections, heading, blocks, offset = [], None, [], 0
    for para in document.paragraphs:
        style = (para.style.name or "").lower() if para.style is not None else ""
        if style.startswith("heading") or style == "title":
            if blocks:
                joined = "\n\n".join(blocks)
                sections.append(Section(joined, offset, heading=heading))
                offset += len(joined) + 2
                blocks = []
            heading = para.text.strip() or heading
        elif para.text.strip():
            blocks.append(para.text.strip())
    if blocks:
        sections.append(Section("\n\n".join(blocks), offset, heading=heading))
    if not sections:
        raise Skip("no text in the document")
    return sections


def _csv(text: str) -> list[Section]:
    """Row-aware: each row becomes 'column: value' lines, so a chunk never splits a row."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise Skip("empty CSV")
    header, body = rows[0], rows[1:]
    if not body:
        return [Section(", ".join(header))]
    offset, sections = 0, []
    for number, row in enumerate(body, 2):
        pairs = [f"{h}: {v}" for h, v in zip(header, row, strict=False) if v.strip()]
        if pairs:
            line = "; ".join(pairs)
            sections.append(Section(line, offset, heading=f"row {number}"))
            offset += len(line) + 1
    return sections


def _json(text: str, suffix: str) -> list[Section]:
    records = []
    if suffix == ".jsonl":
        for line in text.splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise Skip(f"invalid JSON Lines ({exc.msg})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Skip(f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
        records = data if isinstance(data, list) else [data]
    sections, offset = [], 0
    for record in records:
        piece = _flatten(record)
        if piece.strip():
            sections.append(Section(piece, offset))
            offset += len(piece) + 1
    if not sections:
        raise Skip("no text in the JSON")
    return sections


def _flatten(value, prefix: str = "") -> str:
    if isinstance(value, dict):
        return "\n".join(_flatten(v, f"{prefix}{k}: ") for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(_flatten(v, prefix) for v in value)
    return f"{prefix}{value}"
