"""What every parser shares: the :class:`Section` it returns, the :class:`Skip` it raises, the
zip-bomb check for zip-based formats, and the HTML reader (web pages, EPUB chapters, e-mail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# What a zip-based document (Word, OpenDocument, PowerPoint, Excel, EPUB) may unpack to. A
# real one is a few times its file size; a "zip bomb" of a few kilobytes claims gigabytes. The
# zip reader never returns more than a member's declared size, so checking the declared sizes
# is enough.
MAX_UNPACKED_BYTES = 200_000_000

# Told before each page that OCR reads: (page number among those OCR reads, how many it reads).
OnPage = Callable[[int, int], None]


class Skip(Exception):
    """This file is not indexed; the message says why."""


@dataclass
class Section:
    text: str
    start: int = 0  # character offset of ``text`` in the file's extracted text (or page)
    page: int | None = None
    heading: str | None = None


def html(text: str) -> list[Section]:
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


def check_archive(path: Path) -> None:
    """Refuse a zip whose members would unpack to more than :data:`MAX_UNPACKED_BYTES`."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise Skip(
            f"its compressed contents would unpack to {unpacked / 1e6:,.0f} MB (more than "
            f"{MAX_UNPACKED_BYTES / 1e6:,.0f} MB): probably a zip bomb"
        )
