"""Turning a file into text sections, each with its page or heading and character offset.

One parser per format, each a well-kept library where the format needs one (pypdfium2 for PDF,
python-docx for Word, selectolax for HTML). Anything that cannot be read raises
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
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst", ".text"}
CODE_SUFFIXES = {
    ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".c", ".h", ".cpp", ".hpp", ".cc", ".cs",
    ".go", ".rs", ".rb", ".php", ".swift", ".kt", ".scala", ".sh", ".sql", ".r", ".m",
    ".lua", ".pl", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml", ".css", ".scss",
}  # fmt: skip
SUPPORTED = TEXT_SUFFIXES | CODE_SUFFIXES | {
    ".html", ".htm", ".pdf", ".docx", ".csv", ".json", ".jsonl",
}  # fmt: skip

# What a zip-based document (Word) may unpack to. A real one is a few times its file size; a
# "zip bomb" of a few kilobytes claims gigabytes. The zip reader never returns more than a
# member's declared size, so checking the declared sizes is enough.
MAX_UNPACKED_BYTES = 200_000_000

# ATX headings ("## Title ##"). Only spaces and tabs around the title: a pattern that lets
# whitespace runs be matched several ways (``\s+(.+?)\s*#*\s*$``) backtracks cubically on a
# line of spaces. The optional closing hashes are removed by :func:`_atx_title`.
ATX_HEADING = re.compile(r"^#{1,6}[ \t]+(\S[^\n]*)$", re.M)
# reStructuredText: a line underlined with punctuation.
RST_HEADING = re.compile(r"^(.+)\n([=\-~^\"'`#*+]{3,})[ \t\r]*$", re.M)


class Skip(Exception):
    """This file is not indexed; the message says why."""


@dataclass
class Section:
    text: str
    start: int = 0  # character offset of ``text`` in the file's extracted text (or page)
    page: int | None = None
    heading: str | None = None


def file_type(path: Path) -> str:
    return path.suffix.lower().lstrip(".") or "none"


def parse(path: Path) -> list[Section]:
    """Sections of ``path`` in reading order; raises :class:`Skip`."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise Skip(f"not a supported format ({suffix or 'no extension'})")
    if suffix == ".pdf":
        return _pdf(path)
    if suffix == ".docx":
        return _docx(path)
    text = _read_text(path)
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
    return [Section(text)]


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


def _html(text: str) -> list[Section]:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(text)
    for tag in tree.css("script, style, noscript, nav, footer"):
        tag.decompose()
    title = tree.css_first("title")
    body = tree.body or tree.root
    blocks: list[str] = []
    heading = title.text(strip=True) if title else None
    offset = 0
    sections: list[Section] = []
    for node in body.traverse(include_text=False):
        if node.tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            if blocks:
                joined = "\n\n".join(blocks)
                sections.append(Section(joined, offset, heading=heading))
                offset += len(joined) + 2
                blocks = []
            heading = node.text(strip=True)
        elif node.tag in ("p", "li", "pre", "td", "blockquote", "dd", "dt", "figcaption"):
            piece = node.text(separator=" ", strip=True)
            if piece:
                blocks.append(piece)
    if blocks:
        sections.append(Section("\n\n".join(blocks), offset, heading=heading))
    if not sections:
        plain = body.text(separator="\n", strip=True) if body else ""
        if not plain.strip():
            raise Skip("no text in the HTML")
        sections = [Section(plain, 0, heading=heading)]
    return sections


def _pdf(path: Path) -> list[Section]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise Skip("encrypted PDF (password protected)") from None
        raise Skip(f"damaged PDF ({exc})") from None
    try:
        sections = []
        for number in range(len(pdf)):
            page = pdf[number]
            text = page.get_textpage().get_text_range()
            if text.strip():
                sections.append(Section(text.replace("\r\n", "\n"), 0, page=number + 1))
        if not sections:
            raise Skip(f"no text layer ({len(pdf)} page(s) look scanned); run OCR on it first")
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


def _check_archive(path: Path) -> None:
    """Refuse a zip whose members would unpack to more than :data:`MAX_UNPACKED_BYTES`."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise Skip(
            f"its compressed contents would unpack to {unpacked / 1e6:,.0f} MB (more than "
            f"{MAX_UNPACKED_BYTES / 1e6:,.0f} MB): probably a zip bomb"
        )


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
