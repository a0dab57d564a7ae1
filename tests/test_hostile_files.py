"""Hostile files: each one is reported with its reason, everything else indexes, and nothing a
file does takes down the window, the indexing run or the next start."""

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from engine.api import CancelToken, run
from engine.knowledge import indexing
from tests import knowledge_folder

TAILOR = str(Path(sys.executable).parent / "tailor")


def test_a_heading_line_of_30000_spaces_parses_at_once(tmp_path):
    # The old heading pattern backtracked cubically over the spaces: hours for this line. In a
    # subprocess, so that a regression fails the test instead of hanging it.
    path = tmp_path / "redos.md"
    path.write_text("# x" + " " * 30_000 + "y\n\nBody text.\n\n## Next ##\n\nMore.\n")
    code = (
        "import json, sys; from pathlib import Path; from engine.knowledge import parsing; "
        "print(json.dumps([s.heading for s in parsing.parse(Path(sys.argv[1]))]))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("parsing one heading line took more than 20 s") from None
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["x" + " " * 30_000 + "y", "Next"]


def test_every_hostile_input_is_reported_and_every_good_file_is_searchable(
    engine, tmp_path, monkeypatch
):
    hashed = []
    real_sha = indexing._sha256
    monkeypatch.setattr(
        indexing, "_sha256", lambda path: hashed.append(path.name) or real_sha(path)
    )
    rows = knowledge_folder.hostile_report(engine, tmp_path)
    missed = [row for row in rows if not row[2]]
    assert not missed, "\n" + knowledge_folder.format_table(missed)
    assert len(rows) == 28
    # The size limit is checked before the content is read: 500 MB are never hashed.
    assert "huge.txt" not in hashed and "guide.md" in hashed


def _wait_for_parsing(db: Path, name: str, tries: str, proc: subprocess.Popen) -> None:
    """Poll the workspace database until ``name`` is marked as being parsed for the ``tries``th
    time."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before parsing the file"
        try:
            with sqlite3.connect(db) as conn:
                row = conn.execute(
                    "SELECT 1 FROM kb_files WHERE status = 'parsing' AND path LIKE ?"
                    " AND size >= 0 AND reason = ?",
                    (f"%/{name}", tries),
                ).fetchone()
        except sqlite3.OperationalError:  # not created yet, or no such status before the fix
            row = None
        if row:
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} was never marked as being parsed")


def test_a_file_that_stops_two_runs_is_then_reported_not_retried(engine, home, tmp_path):
    # kill -9 while the worker parses a file (a PDF that takes it a second or two to crash on):
    # the next run tries the file once more; after a second such run it is failed with a
    # reason, and the files around it are indexed.
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The first file talks about herons.")
    knowledge_folder.pdf_bomb(folder / "bomb.pdf")
    (folder / "c.txt").write_text("The last file talks about owls.")
    engine.create_knowledge_base("docs")
    engine.add_folders("docs", [folder])
    for expected_try in ("1", "2"):
        proc = subprocess.Popen(
            [TAILOR, "kb", "add", "docs"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for_parsing(home / "tailor.db", "bomb.pdf", expected_try, proc)
        finally:
            proc.kill()  # SIGKILL: no clean-up in the run
            proc.wait()
    assert list(engine.index("docs"))[-1].status == "done"
    status = engine.knowledge_base_status("docs")
    (path, reason), *_ = status.failed
    assert Path(path).name == "bomb.pdf" and "stopped the parser last time" in reason
    assert len(status.failed) == 1 and status.files == 2
    assert run(engine.index("docs")).files_total == 0  # not retried until it changes


def _replace_with_pipe_after_hashing(monkeypatch, name: str) -> None:
    """Make ``name`` a named pipe once it is hashed: the parser then waits for a writer that
    never comes, the way a stuck parser would."""
    real_sha = indexing._sha256

    def sha_then_swap(path):
        digest = real_sha(path)
        if path.name == name:
            path.unlink()
            os.mkfifo(path)
        return digest

    monkeypatch.setattr(indexing, "_sha256", sha_then_swap)


def _release_pipe(path: Path) -> None:
    """Let a reader still waiting on the pipe at ``path`` (the old in-process parser) go."""
    with contextlib.suppress(OSError):  # no reader left: the worker was stopped
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def test_cancel_stops_a_parse_that_would_not_end(engine, home, tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("A file about herons.")
    (folder / "stuck.txt").write_text("A file the parser never finishes.")
    _replace_with_pipe_after_hashing(monkeypatch, "stuck.txt")
    engine.create_knowledge_base("docs")
    engine.add_folders("docs", [folder])
    cancel = CancelToken()
    events = []
    indexing_run = threading.Thread(
        target=lambda: events.extend(engine.index("docs", cancel=cancel))
    )
    indexing_run.start()
    try:
        db = home / "tailor.db"
        deadline = time.monotonic() + 60
        while not _marked(db, "stuck.txt"):
            assert indexing_run.is_alive() and time.monotonic() < deadline, (
                "stuck.txt was not parsed"
            )
            time.sleep(0.02)
        cancel.cancel()
        indexing_run.join(timeout=30)  # the parse's own time limit is a minute
        assert not indexing_run.is_alive(), "cancel did not stop the parse"
    finally:
        _release_pipe(folder / "stuck.txt")
        indexing_run.join()
    assert events[-1].status == "cancelled"
    # Nothing is recorded against the file: Cancel is not a failure.
    assert engine.knowledge_base_status("docs").failed == []


def _marked(db: Path, name: str) -> bool:
    with sqlite3.connect(db) as conn:
        try:
            return bool(
                conn.execute(
                    "SELECT 1 FROM kb_files WHERE status = 'parsing' AND path LIKE ?",
                    (f"%/{name}",),
                ).fetchone()
            )
        except sqlite3.OperationalError:
            return False


def test_a_parse_past_its_time_limit_is_stopped_and_reported(engine, tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("A file about herons.")
    (folder / "stuck.txt").write_text("A file the parser never finishes.")
    (folder / "z.txt").write_text("A file about owls.")
    _replace_with_pipe_after_hashing(monkeypatch, "stuck.txt")
    monkeypatch.setattr("engine.knowledge.parse_worker.BASE_SECONDS", 3.0)
    engine.create_knowledge_base("docs")
    engine.add_folders("docs", [folder])
    result = []
    indexing_run = threading.Thread(target=lambda: result.append(list(engine.index("docs"))[-1]))
    indexing_run.start()
    indexing_run.join(timeout=120)
    if indexing_run.is_alive():
        _release_pipe(folder / "stuck.txt")
        indexing_run.join()
        raise AssertionError("the stuck parse was not stopped")
    assert result[0].status == "done"
    status = engine.knowledge_base_status("docs")
    assert [(Path(p).name, r) for p, r in status.failed] == [
        ("stuck.txt", "took longer than 3 s to read; stopped")
    ]
    assert status.files == 2


def test_the_window_survives_a_hostile_folder_dropped_on_knowledge(engine, qtbot, tmp_path):
    from desktop.main_window import MainWindow

    folder = tmp_path / "Hostile"
    folder.mkdir()
    (folder / "notes.txt").write_text("The window survives the hostile folder.")
    knowledge_folder.pdf_bomb(folder / "bomb.pdf")
    knowledge_folder.docx_bomb(folder / "bomb.docx")
    (folder / "redos.md").write_text("# x" + " " * 30_000 + "y\n\nBody.\n")
    window = MainWindow(engine)
    qtbot.addWidget(window)
    window.show()
    window.show_page("knowledge")
    page = window.pages["knowledge"]
    window.handle_drop(folder)
    qtbot.waitUntil(lambda: page.job is None, timeout=240_000)
    assert "up to date" in page.progress_label.text()
    qtbot.waitUntil(lambda: page.failures.topLevelItemCount() == 2, timeout=60_000)
    reasons = {
        page.failures.topLevelItem(i).text(0): page.failures.topLevelItem(i).text(1)
        for i in range(page.failures.topLevelItemCount())
    }
    assert "crashed the parser" in reasons["bomb.pdf"] and "zip bomb" in reasons["bomb.docx"]
    assert engine.knowledge_base_status("Hostile").files == 2
