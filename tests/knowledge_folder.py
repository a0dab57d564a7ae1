"""A small folder of real documents plus every kind of bad input, made on the fly."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.api import Progress, run

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
        (bad / "image.xyz").write_bytes(b"\x89XYZ\x00\x01\x02" * 64)  # binary, unknown format
        (bad / "big.txt").write_text("x" * 3_000_000)
        os.symlink(root, bad / "loop")  # a directory symlink back up the tree
        os.symlink(bad / "missing-target", bad / "dangling.txt")
    return root


# -- the hostile corpus -----------------------------------------------------------------------
# Every kind of file that has broken (or could break) an indexer, built at test time: nothing
# large is committed, the 500 MB file is sparse and the bombs are a few megabytes compressed.
# tests/test_hostile_files.py checks it; a bench script prints :func:`hostile_report`'s table.

REDOS_SPACES = 30_000  # the old heading pattern needed hours for this line
DEEP_LEVELS = 1_200


@dataclass
class Hostile:
    """One hostile input and what indexing must make of it."""

    kind: str  # what it is, for the report
    path: str  # where it lies, relative to the corpus folder
    expect: str  # "indexed", "not followed", "unavailable", or words the reason must contain
    marker: str = ""  # for an indexed file: a word only it contains, searched for

    @property
    def expected(self) -> str:
        if self.expect in ("indexed", "not followed", "unavailable"):
            return self.expect
        return f"reported: {self.expect}"


def pdf_bomb(path: Path, gigabytes: float = 1.5) -> Path:
    """A one-page PDF whose page content inflates from about a megabyte to ``gigabytes`` of
    spaces: pdfium holds it all in memory, so under the parser's limit it aborts."""
    import zlib

    block = b" " * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    # After a full flush the compressor forgets what came before, so one compressed block
    # repeated is the compressed stream of the repeated block: no need to compress gigabytes.
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = int(gigabytes * 1024)
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(block, checksum)
    stream = (
        b"\x78\xda"
        + segment * count
        + compressor.flush(zlib.Z_FINISH)
        + checksum.to_bytes(4, "big")
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(out)
    return path


def docx_bomb(path: Path, megabytes: int = 300) -> Path:
    """A Word document whose document.xml unpacks from under a megabyte to ``megabytes``."""
    import zipfile

    plain = make_docx(path.with_name(path.name + ".plain.docx"))
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as bomb:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                bomb.writestr(item, source.read(item))
        xml = source.read("word/document.xml")
        body = xml.index(b"<w:body>") + len(b"<w:body>")
        member = zipfile.ZipInfo("word/document.xml")
        member.compress_type = zipfile.ZIP_DEFLATED
        with bomb.open(member, "w", force_zip64=True) as out:
            out.write(xml[:body])
            block = b" " * 1_000_000
            for _ in range(megabytes):
                out.write(block)
            out.write(xml[body:])
    plain.unlink()
    return path


def _write(root: Path, relative: str, text: str) -> None:
    # One level at a time: Path.mkdir(parents=True) recurses once per level, too deep here.
    folder = root
    folder.mkdir(parents=True, exist_ok=True)
    for part in Path(relative).parent.parts:
        folder = folder / part
        if not folder.is_dir():
            folder.mkdir()
    (root / relative).write_text(text, encoding="utf-8")


def build_hostile(root: Path) -> list[Hostile]:
    """Make the corpus under ``root`` (a new folder); return what each input must give."""
    root.mkdir(parents=True)
    cases: list[Hostile] = []

    def good(kind: str, relative: str, marker: str, text: str = "") -> None:
        _write(root, relative, f"{text}\n\nThis file mentions the word {marker}.\n")
        cases.append(Hostile(kind, relative, "indexed", marker))

    def bad(kind: str, relative: str, expect: str) -> None:
        cases.append(Hostile(kind, relative, expect))

    good("ordinary Markdown", "guide.md", "zeppelin", "# Setup\n\nInstall the widget.")
    (root / "empty.txt").write_bytes(b"")
    bad("zero-byte file", "empty.txt", "empty file")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 64)
    bad("binary file with a text extension", "binary.txt", "binary content")
    (root / "cp1252.txt").write_bytes("Caf\xe9 cr\xe8me, marker tamarind.".encode("cp1252"))
    cases.append(Hostile("invalid UTF-8 (Windows-1252 text)", "cp1252.txt", "indexed", "tamarind"))
    (root / "garbage.txt").write_bytes(b"\x81\x8d\x8f\x90\x9d" * 400)
    bad("invalid UTF-8 (no text encoding fits)", "garbage.txt", "not valid text")
    make_pdf(root / "locked.pdf", ["secret"], password="hunter2")
    bad("encrypted PDF", "locked.pdf", "encrypted PDF")
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    bad("corrupt PDF", "corrupt.pdf", "damaged PDF")
    make_pdf(root / "scanned.pdf", [""])
    bad("scanned PDF without a text layer", "scanned.pdf", "no text layer")
    with (root / "huge.txt").open("wb") as f:
        f.truncate(500_000_000)  # sparse: no disk space used
    bad("500 MB text file", "huge.txt", "too large")
    os.symlink(root, root / "loop")
    bad("symbolic link loop (a folder linking to its parent)", "loop", "not followed")
    os.symlink("self-loop.txt", root / "self-loop.txt")
    bad("symbolic link loop (a link to itself)", "self-loop.txt", "symbolic link loop")
    (root / "unreadable.txt").write_text("You may not read this.")
    (root / "unreadable.txt").chmod(0)
    bad("unreadable file (chmod 000)", "unreadable.txt", "permission denied")
    _write(root, "zz-late/vanishing.txt", "This file is deleted while the folder is indexed.")
    bad("file deleted while being indexed", "zz-late/vanishing.txt", "deleted while being indexed")
    good(
        "very long line (30 KB)",
        "long-line.txt",
        "marzipan",
        " ".join(f"word{i}" for i in range(4_000)),
    )
    deep = "/".join(["d"] * DEEP_LEVELS)
    good(f"{DEEP_LEVELS:,}-level deep folder tree", f"{deep}/bottom.txt", "obsidian")
    good(
        f"Markdown heading of {REDOS_SPACES:,} spaces (ReDoS)",
        "redos.md",
        "halibut",
        "# x" + " " * REDOS_SPACES + "y\n\nThe body after the heading.",
    )
    docx_bomb(root / "bomb.docx")
    bad("Word zip bomb (300 MB document.xml)", "bomb.docx", "zip bomb")
    pdf_bomb(root / "bomb.pdf")
    bad("PDF that crashes the parser (1.5 GB page content)", "bomb.pdf", "crashed the parser")
    good("name with '", "it's/o'brien.txt", "quokka")
    good("name with %", "100%/50%off.txt", "narwhal")
    good("name with _", "snake_case/a_b.txt", "pangolin")
    good("name with a newline", "line\nbreak/new\nline.txt", "axolotl")
    good("name with ..", "up..down/a..b.txt", "capybara")
    good("Japanese name", "日本語/日本語.md", "wombat", "# 見出し\n\n日本語の文章です。")
    good("Greek name", "Ελληνικά.txt", "platypus", "Καλημέρα κόσμε.")
    good("Arabic name", "العربية.txt", "okapi", "مرحبا بالعالم.")
    return cases


def remove_hostile(root: Path) -> None:
    """Delete the corpus; the 1,200-level tree is deeper than shutil.rmtree can recurse."""
    chain = [root / "d"]
    while (chain[-1] / "d").is_dir():
        chain.append(chain[-1] / "d")
    for folder in reversed(chain):
        for entry in folder.iterdir():
            if not entry.is_dir():
                entry.unlink()
        folder.rmdir()
    (root / "unreadable.txt").chmod(0o600)
    shutil.rmtree(root, ignore_errors=True)


def index_hostile(engine, name: str, root: Path, usb: Path) -> list:
    """Index the corpus at ``root`` plus the folder ``usb``, deleting a file and unplugging
    ``usb`` (moving it away) once indexing has begun; return the progress events."""
    events = []
    for event in engine.index(name):
        events.append(event)
        if (
            isinstance(event, Progress)
            and event.phase == "indexing"
            and (root / "zz-late/vanishing.txt").exists()
        ):
            (root / "zz-late/vanishing.txt").unlink()
            usb.rename(usb.with_name(usb.name + "-unplugged"))
    return events


def hostile_report(engine, tmp: Path) -> list[tuple[str, str, bool, str]]:
    """Build the corpus under ``tmp``, index it with ``engine``, and check every input:
    rows of (hostile input, expected, handled, what happened)."""
    root = tmp / "hostile"
    cases = build_hostile(root)
    usb = tmp / "usb"
    _write(usb, "notes.txt", "The drive holds notes about the kestrel.")
    engine.create_knowledge_base("hostile", max_file_mb=50)
    engine.add_folders("hostile", [usb])
    run(engine.index("hostile"))  # the drive's notes are indexed while it is connected
    (usb / "later.txt").write_text("A file added to the drive later.")
    engine.add_folders("hostile", [root])
    try:
        outcome = index_hostile(engine, "hostile", root, usb)[-1]
        last = outcome.result
        rows = [_check(engine, case, root.resolve(), last) for case in cases]
        unplugged = str(usb.resolve())
        reason = dict(last.unavailable).get(unplugged, "not reported")
        kept = any(
            hit.source.endswith("notes.txt") for hit in engine.knowledge_base_chunks("hostile")
        )
        rows.append(
            (
                "folder unmounted mid-run",
                "unavailable, its index kept",
                outcome.status == "done" and unplugged in dict(last.unavailable) and kept,
                f"{reason}; its chunks {'kept' if kept else 'deleted'}",
            )
        )
        # The next start: no file is read again, the one that crashed the parser included.
        ended = list(engine.index("hostile"))[-1]
        again = ended.result
        rows.append(
            (
                "the next run after all of this",
                "nothing read again",
                ended.status == "done" and again.files_total == 0,
                f"{again.files_total} file(s) read again, {again.unchanged} unchanged",
            )
        )
        return rows
    finally:
        remove_hostile(root)


def _check(engine, case: Hostile, root: Path, last) -> tuple[str, str, bool, str]:
    path = str(root / case.path)
    status = engine.knowledge_base_status("hostile")
    reasons = dict(status.failed + status.skipped)
    if case.expect == "indexed":
        hits = engine.search("hostile", case.marker, k=3)
        found = any(hit.source == path for hit in hits)
        what = "indexed, found by search" if found else reasons.get(path, "not found by search")
        return case.kind, case.expected, found and path not in reasons, what
    if case.expect == "not followed":
        sources = {hit.source for hit in engine.knowledge_base_chunks("hostile")}
        inside = [s for s in sources if s.startswith(path + os.sep)]
        what = f"{len(inside)} chunks through the link" if inside else "not followed"
        return case.kind, case.expected, not inside, what
    reason = reasons.get(path, "no reason reported")
    return case.kind, case.expected, case.expect in reason, reason


def format_table(rows: list[tuple[str, str, bool, str]]) -> str:
    """The rows as a Markdown table, for the README's reliability section."""
    lines = ["| hostile input | expected | handled? | reason |", "|---|---|---|---|"]
    for kind, expected, handled, reason in rows:
        cells = [kind, expected, "yes" if handled else "**NO**", reason]
        lines.append(
            "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
        )
    return "\n".join(lines)
