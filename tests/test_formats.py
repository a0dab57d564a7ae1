"""The formats people keep, each made at test time with the library (or the standard library)
that writes it, read by the real parsers; and files of no known format read as text when their
content is text."""

from __future__ import annotations

import mailbox
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from engine.api import run
from engine.knowledge.parsing import Skip, parse


def make_odt(path: Path) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, List, ListItem, P

    doc = OpenDocumentText()
    doc.text.addElement(P(text="Minutes of the spring meeting."))
    doc.text.addElement(H(outlinelevel=1, text="Budget"))
    doc.text.addElement(P(text="The greenhouse budget is 8,400 kroner."))
    items = List()
    item = ListItem()
    item.addElement(P(text="Tomatoes are planted in April."))
    items.addElement(item)
    doc.text.addElement(items)
    doc.save(str(path))
    return path


def make_ods(path: Path) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for name, rows in [
        ("Inventory", [["item", "count"], ["anchors", "17"], ["oars", "4"]]),
        ("Staff", [["name", "role"], ["Henrik Aasen", "harbour master"]]),
    ]:
        table = Table(name=name)
        for values in rows:
            row = TableRow()
            for value in values:
                cell = TableCell()
                cell.addElement(P(text=value))
                row.addElement(cell)
            table.addElement(row)
        # What spreadsheet programs write after the data: a million empty rows, "repeated".
        table.addElement(TableRow(numberrowsrepeated=1_048_000))
        doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


def make_odp(path: Path) -> Path:
    from odf.draw import Frame, Page, TextBox
    from odf.namespaces import PRESENTATIONNS
    from odf.opendocument import OpenDocumentPresentation
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    doc = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    doc.masterstyles.addElement(master)
    for title, body in [("Roadmap", "We ship the kayak in May."), ("Risks", "Glue from Tromsø.")]:
        page = Page(masterpagename=master)
        doc.presentation.addElement(page)
        for text, kind in [(title, "title"), (body, "outline")]:
            frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
            frame.setAttrNS(PRESENTATIONNS, "class", kind)
            box = TextBox()
            box.addElement(P(text=text))
            frame.addElement(box)
            page.addElement(frame)
    doc.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for title, body in [("Welcome", "Agenda for the day."), ("Sales", "Lingonberry jam sold out.")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
    for r, row in enumerate([["region", "jars"], ["Nordland", "950"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    slide.notes_slide.notes_text_frame.text = "Mention the Bodø stall."
    deck.save(str(path))
    return path


def make_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Boats"
    for row in [["boat", "length (m)"], ["Sjøstjerna", 11.5], ["Måken", 7]]:
        sheet.append(row)
    other = book.create_sheet("Crew")
    other.append(["name", "boat"])
    other.append(["Solveig Lie", "Måken"])
    other["C2"] = "=1+1"  # a formula: its cached value (none, unsaved by Excel) or nothing
    book.save(str(path))
    return path


RTF = (
    r"{\rtf1\ansi\deff0{\fonttbl{\f0\fswiss Helvetica;}}\f0\pard "
    r"The {\b lighthouse} keeper is Ingrid Solberg.\par "
    r"She lives on Lauvøy.\par}"
)

LATEX = r"""\documentclass{article}
\usepackage{amsmath}
\title{Tidal power in \emph{fjords}}
\begin{document}
\maketitle
\begin{abstract}
We measure currents.\cite{smith}
\end{abstract}
\section{Method}\label{sec:method}
Turbines were placed at 40~m depth in the \textbf{Saltstraumen} strait.
\subsection{Data}
Each turbine logged $P = \frac{1}{2}\rho A v^3$ every minute.
\section*{Results}
The mean output was 3.2\,MW.
\end{document}
"""


def make_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("tailor-test")
    book.set_title("Coastal Walks")
    book.set_language("en")
    chapters = []
    for number, (title, text) in enumerate(
        [("Lofoten", "The Reinebringen stairs have 1,978 steps."), ("Senja", "Segla is 639 m.")],
        1,
    ):
        chapter = epub.EpubHtml(title=title, file_name=f"ch{number}.xhtml", lang="en")
        chapter.content = f"<html><body><p>{text}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.spine = ["nav", *chapters]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path


def message(subject: str, text: str, html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "Kari Nordmann <kari@example.org>"
    msg["To"] = "ola@example.org"
    msg["Date"] = "Mon, 4 Mar 2024 09:30:00 +0100"
    if html is None:
        msg.set_content(text)
    else:
        msg.set_content(html, subtype="html")
    return msg


def make_eml(path: Path, html: bool = False) -> Path:
    if html:
        msg = message(
            "Ferry times",
            "",
            "<html><body><h1>Ferry</h1><p>The ferry to Værøy leaves at 07:15.</p></body></html>",
        )
    else:
        msg = message("Boat repair", "The hull of Måken needs new planks before June.")
        msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="quote.pdf")
    path.write_bytes(bytes(msg))
    return path


def make_mbox(path: Path) -> Path:
    box = mailbox.mbox(str(path))
    box.add(message("Dinner", "Fish soup at Anna's on Friday."))
    box.add(message("Keys", "The boathouse key hangs behind the door."))
    box.close()
    return path


def sections_of(path: Path) -> list[tuple[str, int | None, str | None]]:
    return [(s.text, s.page, s.heading) for s in parse(path)]


def find(sections, words: str):
    """The section whose text holds ``words``."""
    hits = [s for s in sections if words in s[0]]
    assert hits, f"{words!r} not in {sections!r}"
    return hits[0]


def test_opendocument_text_spreadsheet_and_presentation(tmp_path):
    odt = sections_of(make_odt(tmp_path / "minutes.odt"))
    assert find(odt, "Minutes of the spring meeting")[2] is None
    assert find(odt, "8,400 kroner")[2] == "Budget"
    assert find(odt, "planted in April")[2] == "Budget"

    ods = sections_of(make_ods(tmp_path / "harbour.ods"))
    assert find(ods, "item: anchors; count: 17")[2] == "Inventory"
    assert find(ods, "name: Henrik Aasen; role: harbour master")[2] == "Staff"
    assert sum(len(s[0]) for s in ods) < 200  # the million repeated empty rows are nothing

    odp = sections_of(make_odp(tmp_path / "plan.odp"))
    assert find(odp, "kayak in May")[1:] == (1, "Roadmap")
    assert find(odp, "Glue from Tromsø")[1:] == (2, "Risks")


def test_powerpoint_slides_are_pages_and_excel_sheets_are_headings(tmp_path):
    pptx = sections_of(make_pptx(tmp_path / "deck.pptx"))
    assert find(pptx, "Agenda for the day")[1:] == (1, "Welcome")
    sales = find(pptx, "Lingonberry jam sold out")
    assert sales[1:] == (2, "Sales")
    assert "region: Nordland; jars: 950" in sales[0]  # a table, row by row
    assert "Bodø stall" in sales[0]  # the speaker's notes

    xlsx = sections_of(make_xlsx(tmp_path / "fleet.xlsx"))
    assert find(xlsx, "boat: Sjøstjerna; length (m): 11.5")[2] == "Boats"
    assert find(xlsx, "name: Solveig Lie; boat: Måken")[2] == "Crew"


def test_rtf_and_latex(tmp_path):
    (tmp_path / "letter.rtf").write_text(RTF)
    [(text, _, _)] = sections_of(tmp_path / "letter.rtf")
    assert "The lighthouse keeper is Ingrid Solberg." in text
    assert "\\b" not in text and "fonttbl" not in text and "Helvetica" not in text

    (tmp_path / "paper.tex").write_text(LATEX)
    tex = sections_of(tmp_path / "paper.tex")
    assert find(tex, "We measure currents")[2] == "Tidal power in fjords"
    method = find(tex, "placed at 40")
    assert method[2] == "Method" and "Saltstraumen strait" in method[0]
    assert find(tex, "every minute")[2] == "Data"
    assert find(tex, "mean output was 3.2")[2] == "Results"
    everything = " ".join(s[0] for s in tex)
    for markup in ("\\section", "\\textbf", "documentclass", "amsmath", "NO \\author"):
        assert markup not in everything


def test_epub_chapters_are_headings(tmp_path):
    book = sections_of(make_epub(tmp_path / "walks.epub"))
    assert find(book, "1,978 steps")[2] == "Lofoten"
    assert find(book, "Segla is 639 m")[2] == "Senja"


def test_email_messages_and_mailboxes(tmp_path):
    [(text, _, heading)] = sections_of(make_eml(tmp_path / "repair.eml"))
    assert heading == "Boat repair"
    assert "From: Kari Nordmann <kari@example.org>" in text
    assert "Date: Mon, 04 Mar 2024 09:30:00 +0100" in text
    assert "The hull of Måken needs new planks" in text
    assert "Attachments: quote.pdf" in text and "%PDF" not in text

    [(text, _, heading)] = sections_of(make_eml(tmp_path / "ferry.eml", html=True))
    assert heading == "Ferry times"
    assert "The ferry to Værøy leaves at 07:15." in text and "<p>" not in text

    box = sections_of(make_mbox(tmp_path / "inbox.mbox"))
    assert find(box, "Fish soup at Anna's")[2] == "Dinner"
    assert find(box, "boathouse key")[2] == "Keys"


def test_text_is_text_whatever_its_name(tmp_path):
    (tmp_path / "Makefile").write_text("build:\n\tcc -o kettle kettle.c\n")
    (tmp_path / "notes.weird-extension").write_text("Plain words in an odd file.")
    assert "cc -o kettle" in parse(tmp_path / "Makefile")[0].text
    assert parse(tmp_path / "notes.weird-extension")[0].text == "Plain words in an odd file."

    (tmp_path / "blob.dat").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    with pytest.raises(Skip, match=r"not a supported format \(\.dat\): its content is binary"):
        parse(tmp_path / "blob.dat")
    (tmp_path / "garbage").write_bytes(b"\x81\x8d\x8f\x90\x9d" * 400)
    with pytest.raises(Skip, match=r"not a supported format \(no extension\): .*not text"):
        parse(tmp_path / "garbage")
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(Skip, match=r"old binary Word format; save it as \.docx"):
        parse(tmp_path / "old.doc")


def test_damaged_and_bomb_archives_are_refused(tmp_path):
    for suffix in (".odt", ".ods", ".odp", ".pptx", ".xlsx", ".epub"):
        (tmp_path / f"broken{suffix}").write_bytes(b"PK\x03\x04 not really a zip")
        with pytest.raises(Skip, match="damaged"):
            parse(tmp_path / f"broken{suffix}")
    bomb = make_odt(tmp_path / "bomb.odt")
    with zipfile.ZipFile(bomb, "a") as archive:
        member = zipfile.ZipInfo("padding.xml")
        member.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(member, "w", force_zip64=True) as out:
            block = b" " * 1_000_000
            for _ in range(210):
                out.write(block)
    with pytest.raises(Skip, match="zip bomb"):
        parse(bomb)


def test_a_folder_of_kept_formats_indexes_and_search_finds_each(engine, tmp_path):
    folder = tmp_path / "kept"
    folder.mkdir()
    (folder / "Makefile").write_text("deploy:\n\trsync site/ the-walrus-server:/srv/www\n")
    (folder / "LICENSE").write_text(
        "Permission is hereby granted, free of charge, to any person obtaining a copy of the "
        "Narwhal Toolkit software.\n"
    )
    (folder / "requirements.in").write_text("# pinned for the albatross tracker\nrequests\n")
    (folder / "paper.tex").write_text(LATEX)
    make_pptx(folder / "deck.pptx")
    make_xlsx(folder / "fleet.xlsx")
    make_odt(folder / "minutes.odt")
    make_eml(folder / "repair.eml")
    (folder / "blob.bin").write_bytes(bytes(range(256)) * 16)
    engine.create_knowledge_base("kept")
    engine.add_folders("kept", [folder])
    run(engine.index("kept"))
    status = engine.knowledge_base_status("kept")
    reasons = {Path(p).name: r for p, r in status.skipped + status.failed}
    assert list(reasons) == ["blob.bin"]
    assert "not a supported format (.bin): its content is binary" in reasons["blob.bin"]
    for query, name, where in [
        ("rsync to the walrus server", "Makefile", None),
        ("Narwhal Toolkit permission granted free of charge", "LICENSE", None),
        ("albatross tracker requirements", "requirements.in", None),
        ("Turbines in the Saltstraumen strait", "paper.tex", ("heading", "Method")),
        ("Lingonberry jam sales", "deck.pptx", ("page", 2)),
        ("Length of the boat Sjøstjerna", "fleet.xlsx", ("heading", "Boats")),
        ("greenhouse budget", "minutes.odt", ("heading", "Budget")),
        ("hull planks repair", "repair.eml", ("heading", "Boat repair")),
    ]:
        hit = engine.search("kept", query, k=1)[0]
        assert Path(hit.source).name == name, query
        if where:
            assert getattr(hit, where[0]) == where[1], query
