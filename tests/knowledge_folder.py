"""A small folder of real documents plus every kind of bad input, made on the fly."""

from __future__ import annotations

import os
from pathlib import Path

GOOD = {
    "guide.md": "# Setup\n\nInstall the widget.\n\n## Zebra protocol\n\nThe Zebra protocol "
    "uses port 7431 and was designed by Marguerite Okafor.\n",
    "notes.txt": "The cafeteria serves lentil soup every Thursday.\n",
    "page.html": "<html><head><title>Fleet</title><script>var x=1;</script></head><body>"
    "<h1>Fleet</h1><p>The delivery fleet has 14 electric vans.</p></body></html>",
    "table.csv": "city,population\nOslo,709000\nBergen,291000\n",
    "data.json": '{"product": "Quasar lamp", "price": "39 euros"}',
    "rows.jsonl": '{"q": "mascot"}\n{"a": "The mascot is a purple heron named Ludo."}\n',
    "script.py": "def greet():\n    return 'The greeting function says hello to Ada.'\n",
    "cp1252.txt": None,  # Windows-1252 text: not valid UTF-8, still indexed
    "long-line.txt": None,  # one very long line
}


def make_pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        if text:
            pdf.multi_cell(0, 10, text)
        else:
            pdf.rect(20, 20, 100, 100, style="F")  # a "scan": marks, no text layer
    if password:
        pdf.set_encryption(owner_password=password, user_password=password)
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly review", level=1)
    document.add_paragraph("Revenue from the Nimbus product line grew by 12 percent.")
    document.save(str(path))
    return path


def build(root: Path, with_bad: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in GOOD.items():
        if text is not None:
            (root / name).write_text(text, encoding="utf-8")
    (root / "cp1252.txt").write_bytes("Caf\xe9 cr\xe8me costs 4 euros.".encode("cp1252"))
    (root / "long-line.txt").write_text(" ".join(f"token{i}" for i in range(1500)))
    make_pdf(root / "manual.pdf", ["Page one is about apples.", "The turbine speed is 900 rpm."])
    make_docx(root / "review.docx")
    deep = root
    for level in range(25):
        deep = deep / f"level{level}"
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("The deepest file mentions the word obsidian.")
    if with_bad:
        bad = root / "bad"
        bad.mkdir()
        (bad / "empty.txt").write_bytes(b"")
        (bad / "binary.txt").write_bytes(b"\x00\x01\x02\x03" * 100)
        (bad / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
        make_pdf(bad / "scanned.pdf", [""])
        make_pdf(bad / "locked.pdf", ["secret"], password="hunter2")
        (bad / "image.xyz").write_bytes(b"whatever")
        (bad / "big.txt").write_text("x" * 3_000_000)
        os.symlink(root, bad / "loop")  # a directory symlink back up the tree
        os.symlink(bad / "missing-target", bad / "dangling.txt")
    return root
