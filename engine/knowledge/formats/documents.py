"""RTF (striprtf), LaTeX (pylatexenc), EPUB (EbookLib) and e-mail (the standard library's
``email`` and ``mailbox``).

A LaTeX file's ``\\chapter``/``\\section``s are its headings; an EPUB's chapters are read in
spine order, each under its title in the table of contents (or its own heading); a message's
subject is its heading, and its text says who sent it and when.
"""

from __future__ import annotations

import re
import zipfile
from functools import cache
from pathlib import Path

from engine.knowledge.formats.common import Section, Skip, check_archive, html

# \section{Title}, \section*[short]{Title}, …: a title may hold one level of braces
# (``\section{The \emph{real} thing}``). Every part is bounded by braces, so no input makes it
# backtrack.
LATEX_HEADING = re.compile(
    r"\\(?:part|chapter|section|subsection|subsubsection)\*?(?:\[[^\]\n]*\])?"
    r"\{([^{}\n]*(?:\{[^{}\n]*\}[^{}\n]*)*)\}"
)
LATEX_TITLE = re.compile(r"\\title(?:\[[^\]\n]*\])?\{([^{}\n]*(?:\{[^{}\n]*\}[^{}\n]*)*)\}")


def parse_text(text: str, suffix: str) -> list[Section]:
    """A format whose file is text: RTF or LaTeX."""
    if suffix == ".rtf":
        return _rtf(text)
    return _latex(text)


def parse(path: Path, suffix: str) -> list[Section]:
    """A format read from its file: EPUB, a message or a mailbox."""
    if suffix == ".epub":
        return _epub(path)
    if suffix == ".eml":
        with path.open("rb") as f:
            raw = f.read()
        if not raw.strip():
            raise Skip("empty file")
        sections = [_message(raw, 0)]
    else:
        sections = _mbox(path)
    if not any(s.text.strip() for s in sections):
        raise Skip("no text in the message")
    return sections


# -- RTF, LaTeX --------------------------------------------------------------------------------


def _rtf(text: str) -> list[Section]:
    from striprtf.striprtf import rtf_to_text

    if not text.lstrip().startswith("{\\rtf"):
        raise Skip("not an RTF document (it does not start with {\\rtf)")
    # striprtf rewrites hyperlink fields with a pattern that backtracks cubically on a run of
    # unclosed ones (25 KB take 4 s). Renamed, a field's instruction is an unknown ignorable
    # destination and is left out: the link's text stays, its address goes.
    text = text.replace("\\fldinst", "\\tailorfldinst")
    plain = rtf_to_text(text, errors="replace")
    if not plain.strip():
        raise Skip("no text in the RTF document")
    return [Section(plain)]


@cache
def _latex_converter():
    from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

    context = get_default_latex_context_db()
    # Commands that print nothing worth finding (or a placeholder such as "[NO \author GIVEN]").
    context.add_context_category(
        "tailor-quiet",
        prepend=True,
        macros=[MacroTextSpec(name, simplify_repl="") for name in ("maketitle", "label", "cite")],
    )
    return LatexNodes2Text(latex_context=context, math_mode="text", strict_latex_spaces=True)


def _latex(source: str) -> list[Section]:
    """The document's text, a section for each heading; the preamble gives only the title."""
    title = LATEX_TITLE.search(source)
    heading = _latex_text(title[1]).strip() if title else None
    begin = source.find("\\begin{document}")
    if begin >= 0:
        end = source.find("\\end{document}", begin)
        source = source[begin + len("\\begin{document}") : end if end >= 0 else None]
    sections, offset, last = [], 0, 0

    def add(text: str, heading: str | None) -> None:
        nonlocal offset
        plain = _latex_text(text)
        if plain.strip():
            sections.append(Section(plain, offset, heading=heading))
            offset += len(plain) + 2

    for match in LATEX_HEADING.finditer(source):
        add(source[last : match.start()], heading)
        heading = _latex_text(match[1]).strip() or heading
        last = match.end()
    add(source[last:], heading)
    if not sections:
        raise Skip("no text in the LaTeX document")
    return sections


def _latex_text(text: str) -> str:
    plain = _latex_converter().latex_to_text(text)
    return re.sub(r"[ \t]+\n", "\n", plain)


# -- EPUB --------------------------------------------------------------------------------------


def _epub(path: Path) -> list[Section]:
    import ebooklib
    from ebooklib import epub

    try:
        check_archive(path)
        book = epub.read_epub(str(path), {"ignore_ncx": True})
    except (zipfile.BadZipFile, KeyError, ValueError, epub.EpubException) as exc:
        raise Skip(f"damaged EPUB ({type(exc).__name__}: {exc})") from None
    titles = _toc_titles(book.toc)
    sections, offset = [], 0
    for number, (idref, _linear) in enumerate(book.spine, 1):
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        try:
            chapter = html(item.get_content().decode("utf-8", errors="replace"))
        except Skip:  # a cover or an empty page
            continue
        title = titles.get(item.get_name()) or f"chapter {number}"
        for part in chapter:
            sections.append(Section(part.text, offset, heading=part.heading or title))
            offset += len(part.text) + 2
    if not sections:
        raise Skip("no text in the EPUB")
    return sections


def _toc_titles(toc) -> dict[str, str]:
    """Each document's title in the table of contents (the first entry that points into it)."""
    titles: dict[str, str] = {}
    stack = list(reversed(list(toc)))
    while stack:
        entry = stack.pop()
        if isinstance(entry, tuple):  # (section, its entries)
            section, children = entry
            stack.extend(reversed([section, *children]))
            continue
        href = getattr(entry, "href", None)
        title = getattr(entry, "title", None)
        if href and title:
            titles.setdefault(href.split("#")[0], title.strip())
    return titles


# -- e-mail ------------------------------------------------------------------------------------


def _message(raw: bytes, offset: int) -> Section:
    """A message as "Subject/From/To/Date" lines and its text (the HTML part read as a page
    when there is no plain one); attachments are named, not read."""
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(raw)
    lines = [
        f"{name}: {message[name]}"
        for name in ("Subject", "From", "To", "Date")
        if message[name] is not None and str(message[name]).strip()
    ]
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        text = _content(body)
        if body.get_content_subtype() == "html" and text.strip():
            try:
                text = "\n\n".join(s.text for s in html(text))
            except Skip:
                text = ""
    attachments = [
        part.get_filename() for part in message.iter_attachments() if part.get_filename()
    ]
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    subject = str(message["Subject"] or "").strip() or None
    return Section("\n".join(lines) + "\n\n" + text.strip(), offset, heading=subject)


def _content(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError):  # an unknown or wrong charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def _mbox(path: Path) -> list[Section]:
    import mailbox

    box = mailbox.mbox(str(path), create=False)
    try:
        sections, offset = [], 0
        for key in box.iterkeys():
            section = _message(box.get_bytes(key), offset)
            sections.append(section)
            offset += len(section.text) + 2
    finally:
        box.close()
    if not sections:
        raise Skip("no messages in the mailbox")
    return sections
