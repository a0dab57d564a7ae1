"""OpenDocument (odfpy) and Office Open XML presentations and workbooks (python-pptx,
openpyxl). A slide's number is its section's page and its title the heading; a sheet's name is
the heading of its rows. Every one of these is a zip archive, checked for a zip bomb by its
members' declared sizes before a parser opens it."""

from __future__ import annotations

import zipfile
from pathlib import Path

from engine.knowledge.formats.common import Section, Skip, check_archive

KINDS = {
    ".odt": "OpenDocument text",
    ".ods": "OpenDocument spreadsheet",
    ".odp": "OpenDocument presentation",
    ".pptx": "PowerPoint presentation",
    ".xlsx": "Excel workbook",
}
# A spreadsheet's repeated rows or cells ("the next 1,048,576 rows are like this one") are
# written out at most this many times: an empty repeat is nothing, a full one a bomb.
MAX_REPEAT = 1000


def parse(path: Path, suffix: str) -> list[Section]:
    kind = KINDS[suffix]
    try:
        check_archive(path)
        if suffix == ".pptx":
            sections = _pptx(path)
        elif suffix == ".xlsx":
            sections = _xlsx(path)
        else:
            sections = _odf(path, suffix)
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
        raise Skip(f"damaged {kind} ({type(exc).__name__}: {exc})") from None
    if not sections:
        raise Skip(f"no text in the {kind}")
    return sections


def _sections(parts: list[tuple[str, int | None, str | None]]) -> list[Section]:
    """Sections of (text, page, heading) with offsets into the file's text, empty ones left
    out."""
    sections, offset = [], 0
    for text, page, heading in parts:
        if text.strip():
            sections.append(Section(text, offset, page=page, heading=heading or None))
            offset += len(text) + 2
    return sections


def _rows(rows: list[list[str]]) -> str:
    """A sheet's rows as paragraphs; the first row with values is the header, so each later row
    reads "column: value; column: value" (as a CSV file's do) and a chunk never splits a row."""
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return ", ".join(cell for cell in header if cell.strip())
    lines = []
    for row in body:
        pairs = [
            f"{name}: {value}" if name.strip() else value
            for name, value in zip(header + [""] * len(row), row, strict=False)
            if value.strip()
        ]
        lines.append("; ".join(pairs))
    return "\n\n".join(lines)


# -- Office Open XML ---------------------------------------------------------------------------


def _pptx(path: Path) -> list[Section]:
    from pptx import Presentation

    parts = []
    for number, slide in enumerate(Presentation(str(path)).slides, 1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        blocks = [b for b in _shape_texts(slide.shapes) if b.strip() and b.strip() != title]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                blocks.append(f"Notes: {notes.text.strip()}")
        text = "\n\n".join(([title] if title else []) + blocks)
        parts.append((text, number, title))
    return _sections(parts)


def _shape_texts(shapes) -> list[str]:
    """The text of each shape in reading order: text boxes, tables row by row, groups' shapes."""
    texts = []
    for shape in shapes:
        if hasattr(shape, "shapes"):  # a group
            texts += _shape_texts(shape.shapes)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            texts.append(shape.text_frame.text.strip())
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text.strip() for cell in row.cells] for row in shape.table.rows]
            texts.append(_rows(rows))
    return texts


def _xlsx(path: Path) -> list[Section]:
    import openpyxl

    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        parts = []
        for sheet in workbook.worksheets:
            # Rows as the file has them, not padded to the extent it declares: a formatted
            # column XFD (16,384 columns) or row 1,048,576 would make millions of empty cells.
            sheet.reset_dimensions()
            rows = [
                ["" if value is None else str(value) for value in row]
                for row in sheet.iter_rows(values_only=True)
            ]
            parts.append((_rows(rows), None, sheet.title))
        return _sections(parts)
    finally:
        workbook.close()


# -- OpenDocument ------------------------------------------------------------------------------


def _odf(path: Path, suffix: str) -> list[Section]:
    from odf.opendocument import load

    document = load(str(path))
    if suffix == ".odt":
        return _odt(document.text)
    if suffix == ".ods":
        return _ods(document.spreadsheet)
    return _odp(document.presentation)


def _odt(body) -> list[Section]:
    """Paragraphs under the heading before them; lists, tables and frames read in order."""
    from odf.namespaces import TEXTNS

    parts, heading, blocks = [], None, []
    for element, name in _walk(body, {(TEXTNS, "h"), (TEXTNS, "p")}):
        text = _text(element)
        if name == (TEXTNS, "h"):
            if blocks:
                parts.append(("\n\n".join(blocks), None, heading))
                blocks = []
            heading = text.strip() or heading
        elif text.strip():
            blocks.append(text.strip())
    if blocks:
        parts.append(("\n\n".join(blocks), None, heading))
    return _sections(parts)


def _ods(body) -> list[Section]:
    from odf.namespaces import TABLENS

    parts = []
    for sheet, _ in _walk(body, {(TABLENS, "table")}):
        rows: list[list[str]] = []
        for row, _ in _walk(sheet, {(TABLENS, "table-row")}):
            cells: list[str] = []
            for cell in row.childNodes:
                if cell.qname not in ((TABLENS, "table-cell"), (TABLENS, "covered-table-cell")):
                    continue
                text = _text(cell).strip()
                cells += [text] * _repeat(cell, "number-columns-repeated", text)
            repeat = _repeat(row, "number-rows-repeated", "".join(cells))
            rows += [cells] * repeat
        parts.append((_rows(rows), None, sheet.getAttrNS(TABLENS, "name")))
    return _sections(parts)


def _repeat(element, attribute: str, text: str) -> int:
    from odf.namespaces import TABLENS

    count = int(element.getAttrNS(TABLENS, attribute) or 1)
    return min(count, MAX_REPEAT) if text else min(count, 1)


def _odp(body) -> list[Section]:
    from odf.namespaces import DRAWNS, PRESENTATIONNS, TEXTNS

    parts = []
    for number, (page, _) in enumerate(_walk(body, {(DRAWNS, "page")}), 1):
        title, blocks = "", []
        for frame, _ in _walk(page, {(DRAWNS, "frame")}):
            kind = frame.getAttrNS(PRESENTATIONNS, "class") or ""
            texts = [_text(p).strip() for p, _ in _walk(frame, {(TEXTNS, "p"), (TEXTNS, "h")})]
            text = "\n".join(t for t in texts if t)
            if kind == "title" and not title:
                title = text
            elif text:
                blocks.append(text)
        text = "\n\n".join(([title] if title else []) + blocks)
        parts.append((text, number, title))
    return _sections(parts)


def _walk(element, wanted: set):
    """The elements named in ``wanted`` under ``element``, in document order, not looking
    inside one that is found. Its own stack: nesting is no limit."""
    stack = list(reversed(element.childNodes))
    while stack:
        node = stack.pop()
        name = getattr(node, "qname", None)
        if name in wanted:
            yield node, name
        elif node.nodeType == node.ELEMENT_NODE:
            stack.extend(reversed(node.childNodes))


def _text(element) -> str:
    from odf import teletype

    return teletype.extractText(element)
