"""OCR of scanned PDF pages and images with the real RapidOCR models (from the installed
package, never downloaded), on pages rendered from text at test time."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Progress
from engine.knowledge.parsing import Skip, parse

INVOICE = [
    "Invoice 2291 from Fjordline Supplies",
    "Forty two copper kettles were delivered",
    "to the Lisbon warehouse on 3 March.",
]


def page_image(lines: list[str], pixels: int = 36):
    """A white A4 page at 150 dpi with ``lines`` in Pillow's own font (no system font needed),
    ``pixels`` high (36: 17 points; 24: 11.5 points)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=pixels)
    for number, line in enumerate(lines):
        draw.text((120, 160 + round(pixels * 1.6) * number), line, fill=0, font=font)
    return image


def scanned_pdf(path: Path, pages: list[list[str] | str], tmp: Path) -> Path:
    """A PDF whose pages are images of text (a list of lines) or have a text layer (a string)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    for number, page in enumerate(pages):
        pdf.add_page()
        if isinstance(page, str):
            pdf.set_font("helvetica", size=12)
            pdf.multi_cell(0, 10, page)
        else:
            picture = tmp / f"{path.stem}-{number}.png"
            page_image(page).save(picture)
            pdf.image(str(picture), x=0, y=0, w=210, h=297)
    pdf.output(str(path))
    return path


def test_ocr_reads_an_image_offline_with_the_models_in_the_package(tmp_path, no_network):
    page_image(INVOICE).save(tmp_path / "invoice.png")
    [section] = parse(tmp_path / "invoice.png")
    assert section.text.splitlines() == INVOICE
    assert section.page is None
    # 11.5-point text of a 150-dpi scan: read at a resolution that keeps the spaces.
    page_image(INVOICE, pixels=24).save(tmp_path / "small.png")
    [section] = parse(tmp_path / "small.png")
    assert section.text.splitlines() == INVOICE
    assert no_network == []
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    assert len(list(models.glob("*.onnx"))) == 3


def test_pages_without_a_text_layer_are_ocrd_up_to_the_limit(tmp_path):
    pdf = scanned_pdf(
        tmp_path / "mixed.pdf",
        ["A typed cover page about apples.", INVOICE, ["Page three lists the oak barrels."]],
        tmp_path,
    )
    told = []
    sections = parse(pdf, 5, lambda page, pages: told.append((page, pages)))
    assert [s.page for s in sections] == [1, 2, 3]
    assert "apples" in sections[0].text
    assert "Forty two copper kettles were delivered" in sections[1].text
    assert "oak barrels" in sections[2].text
    assert told == [(1, 2), (2, 2)]

    limited = parse(pdf, 1)
    assert [s.page for s in limited] == [1, 2]
    with pytest.raises(Skip, match="OCR is turned off"):
        parse(scanned_pdf(tmp_path / "scan.pdf", [INVOICE], tmp_path), 0)


def test_an_image_or_scan_without_text_says_no_text_found(tmp_path):
    page_image([]).save(tmp_path / "blank.jpg")
    with pytest.raises(Skip, match="no text found"):
        parse(tmp_path / "blank.jpg")
    with pytest.raises(Skip, match="no text found"):
        parse(scanned_pdf(tmp_path / "blank.pdf", [[]], tmp_path))


def test_a_scanned_pdf_and_an_image_are_indexed_and_found_with_their_page(engine, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    scanned_pdf(
        folder / "invoice.pdf",
        ["A typed cover page about the harbour office.", INVOICE],
        tmp_path,
    )
    page_image(["The ferry to Værøy leaves at seven fifteen."]).save(folder / "notice.png")
    page_image([]).save(folder / "empty.tiff")
    engine.create_knowledge_base("scans", ocr_max_pages=5)
    engine.add_folders("scans", [folder])
    events = list(engine.index("scans"))
    assert events[-1].status == "done"
    labels = [e.label for e in events if isinstance(e, Progress) and e.phase == "indexing"]
    assert "OCR page 1/1 of invoice.pdf" in labels
    assert "OCR page 1/1 of notice.png" in labels

    hit = engine.search("scans", "How many copper kettles were delivered to Lisbon?", k=1)[0]
    assert Path(hit.source).name == "invoice.pdf"
    assert hit.page == 2
    hit = engine.search("scans", "When does the ferry leave?", k=1)[0]
    assert Path(hit.source).name == "notice.png"
    status = engine.knowledge_base_status("scans")
    reasons = {Path(p).name: r for p, r in status.skipped + status.failed}
    assert list(reasons) == ["empty.tiff"]
    assert "no text found" in reasons["empty.tiff"]


def test_the_parse_worker_reports_each_page_and_allows_time_for_it(tmp_path, monkeypatch):
    # A limit sized for text (3 s here) would stop a scan; each page OCR reads adds its own.
    from engine.knowledge import parse_worker

    monkeypatch.setattr(parse_worker, "BASE_SECONDS", 3.0)
    pdf = scanned_pdf(
        tmp_path / "two.pdf", [INVOICE, ["The second page is about herring."]], tmp_path
    )
    with parse_worker.ParserProcess(ocr_max_pages=5) as parser:
        steps = parser.steps(pdf, pdf.stat().st_size)
        told = []
        while True:
            try:
                told.append(next(steps))
            except StopIteration as end:
                sections = end.value
                break
        assert told == [(1, 2), (2, 2)]
        assert [s.page for s in sections] == [1, 2]
        assert "herring" in sections[1].text
        # The next file gets the parsers' own limits back: text is still read.
        (tmp_path / "notes.txt").write_text("Plain text after a scan.")
        assert parser.parse(tmp_path / "notes.txt", 30)[0].text == "Plain text after a scan."
