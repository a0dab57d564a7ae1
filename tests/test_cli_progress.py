"""The command line's one progress printer, where tests, pipes and CI see it: no terminal."""

from __future__ import annotations

import re

from engine.cli.progress import Printer


def test_without_a_terminal_progress_is_plain_lines_thinned_to_a_hundred_per_phase(capsys):
    with Printer() as printer:
        printer.note("docs is being indexed by another Tailor process; waiting…")
        printer.update("scanning: 0/0 files", "scanning")
        for done in range(1001):
            eta = (1000 - done) / 100 or None
            printer.update(f"indexing: {done}/1000 files", "indexing", done, 1000, eta)
        printer.update("done: 1000/1000 files", "done", 1000, 1000)
    err = capsys.readouterr().err
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", err), "control characters in a pipe"
    lines = err.splitlines()
    assert lines[:3] == [
        "docs is being indexed by another Tailor process; waiting…",
        "scanning: 0/0 files",
        "indexing: 0/1000 files · ETA 10 s",
    ]
    indexing = [line for line in lines if line.startswith("indexing")]
    assert len(indexing) == 101  # every tenth file of a thousand, the first and the last
    assert indexing[-1] == "indexing: 1000/1000 files"
    assert lines[-1] == "done: 1000/1000 files"


def test_without_a_terminal_every_step_of_a_short_run_is_shown(capsys):
    with Printer() as printer:
        for done in range(1, 9):
            printer.update(f"answering {done}/8 · case {done}", "answering", done, 8)
    assert capsys.readouterr().err.splitlines() == [
        f"answering {done}/8 · case {done}" for done in range(1, 9)
    ]
