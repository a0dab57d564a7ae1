"""Indexing keeps what it holds: the folder filter takes exactly the files under a folder, the
watcher ignores the workspace and skipped folders, an unavailable root keeps its index, a deep
tree indexes, one run at a time per knowledge base across processes (and no deletion under a
run), and ``kill -9`` at random points resumes to the index a clean build makes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import engine as engine_package
from engine.api import Engine, Progress
from engine.errors import TailorError
from engine.knowledge.watch import FolderWatcher

REPO = Path(engine_package.__file__).resolve().parents[1]


def index(engine, name):
    events = list(engine.index(name))
    assert events[-1].status == "done", events[-1]
    return events[-1].result


def sources(engine, name, **filters) -> set[str]:
    return {h.source for h in engine.knowledge_base_chunks(name, **filters)}


def kb_files(engine, name) -> list:
    kb = engine.services.workspace.db.execute(
        "SELECT active_index FROM knowledge_bases WHERE name = ?", (name,)
    ).fetchone()
    return engine.services.workspace.db.execute(
        "SELECT path, status, reason FROM kb_files WHERE index_id = ?", (kb["active_index"],)
    ).fetchall()


# -- defect 5: the folder filter ---------------------------------------------------------------


def until_indexing(events) -> None:
    """Advance an indexing operation to its first file: then it holds the index lock."""
    for event in events:
        if getattr(event, "phase", None) == "indexing":
            return
    raise AssertionError("the run ended before indexing a file")


def test_folder_filter_takes_exactly_the_files_under_the_folder(engine, tmp_path):
    root = tmp_path / "docs"
    names = ["a", "a/sub", "ab", "a%", "a_", "a_b", "it's", "100%_done", "日本"]
    files = {}
    for n, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file{n}.txt"
        path.write_text(f"Passage {n} tells about the lighthouse keeper number {n}.")
        files[name] = str(path.resolve())
    engine.create_knowledge_base("docs")
    engine.add_folders("docs", [root])
    index(engine, "docs")

    def expected(folder):
        return {files[n] for n in names if n == folder or n.startswith(folder + "/")}

    for folder in names:
        where = str(root / folder)
        assert sources(engine, "docs", folder=where) == expected(folder), folder
        hits = engine.search("docs", "lighthouse keeper", k=50, folder=where)
        assert {h.source for h in hits} == expected(folder), folder
    # A file given as the folder: that file alone.
    assert sources(engine, "docs", folder=files["ab"]) == {files["ab"]}
    assert sources(engine, "docs", folder=str(root)) == set(files.values())


# -- defect 6: the watcher ---------------------------------------------------------------------


def test_watcher_ignores_the_workspace_and_skipped_folders(engine, home, tmp_path, monkeypatch):
    # The knowledge base's folder holds the workspace itself (TAILOR_HOME inside it).
    assert home.parent == tmp_path
    (tmp_path / "notes.txt").write_text("The orchard has forty pear trees.")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "node_modules" / "pkg").mkdir(parents=True)
    (tmp_path / "node_modules" / "pkg" / "index.js").write_text("module.exports = 1;\n")
    engine.create_knowledge_base("all")
    engine.add_folders("all", [tmp_path])
    index(engine, "all")
    # The walk leaves the workspace out too: its database is not a document.
    indexed = [row["path"] for row in kb_files(engine, "all")]
    assert indexed == [str((tmp_path / "notes.txt").resolve())]

    # Each path that counted as a change, in the order the events came.
    paths: list[str] = []
    counted = FolderWatcher._changed
    monkeypatch.setattr(
        FolderWatcher, "_changed", lambda self, path: paths.append(path) or counted(self, path)
    )
    fired = []
    watcher = engine.watch("all", fired.append, delay=0.2)  # it knows the workspace itself
    assert watcher.problems == []
    try:
        # An index run writes the database (its WAL) and the LanceDB tables in the workspace.
        index(engine, "all")
        (home / "scratch.txt").write_text("written inside the workspace")
        (tmp_path / ".git" / "index.lock").write_text("x")
        (tmp_path / ".git" / "index.lock").rename(tmp_path / ".git" / "index")
        (tmp_path / "node_modules" / "pkg" / "index.js").write_text("module.exports = 2;\n")
        (tmp_path / "node_modules" / "new").mkdir()
        (tmp_path / ".DS_Store").write_bytes(b"\0")
        # Then a real change. One folder's events arrive in order, so once this one is seen,
        # every earlier one has been seen (and ignored) too.
        real = tmp_path.resolve() / "more.txt"
        real.write_text("The orchard also has six apple trees.")
        deadline = time.monotonic() + 30
        while str(real) not in paths:
            assert time.monotonic() < deadline, "the watcher did not notice a real change"
            time.sleep(0.05)
        assert set(paths) == {str(real)}
        while not fired:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert fired == ["all"]
    finally:
        watcher.stop()


# -- defect 7: unavailable roots and deep trees --------------------------------------------------


def make_notes(folder: Path, n: int, word: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{word}{i:02}.txt").write_text(f"{word} note {i}: the {word} code is {i * 7}.")


def test_an_unavailable_root_keeps_its_index_until_it_is_back(engine, tmp_path):
    drive, local = tmp_path / "drive", tmp_path / "local"
    make_notes(drive, 6, "drive")
    make_notes(local, 3, "local")
    engine.create_knowledge_base("kb")
    engine.add_folders("kb", [drive, local])
    index(engine, "kb")
    ids = engine.services.knowledge.chunk_ids("kb")
    assert len(ids) == 9

    drive.rename(tmp_path / "unplugged")  # the drive is not connected
    last = index(engine, "kb")
    assert engine.services.knowledge.chunk_ids("kb") == ids and last.removed == 0
    assert [root for root, _why in last.unavailable] == [str(drive)]
    assert "not found" in last.unavailable[0][1]
    status = engine.knowledge_base_status("kb")
    assert status.files == 9 and [r for r, _ in status.unavailable] == [str(drive)]
    # The empty mount point left behind by an unmounted drive is not an emptied folder either.
    drive.mkdir()
    last = index(engine, "kb")
    assert [root for root, _why in last.unavailable] == [str(drive)]
    assert engine.services.knowledge.chunk_ids("kb") == ids
    drive.rmdir()
    (tmp_path / "unplugged").rename(drive)  # back: indexed normally, nothing embedded again
    last = index(engine, "kb")
    assert last.unavailable == [] and last.files_total == 0 and last.unchanged == 9
    assert engine.services.knowledge.chunk_ids("kb") == ids

    # New settings while it is away: the new index cannot hold the drive's files, so the old
    # one keeps answering until the drive is back.
    drive.rename(tmp_path / "unplugged")
    engine.configure_knowledge_base("kb", chunk_tokens=128, chunk_overlap=16)
    index(engine, "kb")
    assert (
        engine.services.knowledge.chunk_ids("kb") == ids
        and engine.knowledge_base_status("kb").building
    )
    (tmp_path / "unplugged").rename(drive)
    last = index(engine, "kb")
    assert last.unavailable == [] and not engine.knowledge_base_status("kb").building
    assert engine.knowledge_base_status("kb").files == 9

    # Removed by the user: its files leave the index.
    engine.services.workspace.db.execute("DELETE FROM kb_roots WHERE path = ?", (str(drive),))
    last = index(engine, "kb")
    assert last.removed == 6 and len(engine.services.knowledge.chunk_ids("kb")) == 3


def test_a_root_unmounted_mid_run_keeps_the_files_not_yet_read(engine, tmp_path):
    drive = tmp_path / "drive"
    make_notes(drive, 12, "old")
    engine.create_knowledge_base("kb", embed_batch=4)
    engine.add_folders("kb", [drive])
    index(engine, "kb")
    for path in drive.iterdir():  # every file changed: all of them are read again
        path.write_text(path.read_text().replace("code", "new code"))
    events = engine.index("kb")
    until_indexing(events)
    drive.rename(tmp_path / "unplugged")  # gone after the first file was read
    outcome = list(events)[-1]
    assert outcome.status == "done"
    last = outcome.result
    rows = kb_files(engine, "kb")
    assert len(rows) == 12 and {r["status"] for r in rows} == {"done"}
    assert len(engine.services.knowledge.chunk_ids("kb")) == 12
    assert [root for root, _why in last.unavailable] == [str(drive)]

    (tmp_path / "unplugged").rename(drive)
    index(engine, "kb")
    engine.create_knowledge_base("clean")
    engine.add_folders("clean", [drive])
    index(engine, "clean")
    assert engine.services.knowledge.chunk_ids("kb") == engine.services.knowledge.chunk_ids("clean")
    assert all("new code" in h.text for h in engine.knowledge_base_chunks("kb"))


@pytest.fixture
def deep(tmp_path):
    """A folder for a deep tree, removed afterwards with rm (shutil.rmtree, which pytest's
    clean-up uses, recurses and fails on it)."""
    root = tmp_path / "deep"
    root.mkdir()
    yield root
    subprocess.run(["rm", "-rf", str(root)], check=True)


def test_a_1200_level_tree_indexes(engine, deep):
    root = deep
    (root / "top.txt").write_text("The top of the tree talks about clouds.")
    folder = root
    for _ in range(1200):
        folder = folder / "d"
        folder.mkdir()
    (folder / "bottom.txt").write_text("The bottom of the tree talks about roots.")
    (folder / "up").symlink_to(root, target_is_directory=True)  # a loop: not followed
    engine.create_knowledge_base("deep")
    engine.add_folders("deep", [root])
    last = index(engine, "deep")
    assert last.failed == []
    assert {Path(s).name for s in sources(engine, "deep")} == {"top.txt", "bottom.txt"}
    # The window follows the folder too: a tree too deep for the watcher is reported, not fatal.
    watcher = engine.watch("deep", lambda kb: None)
    try:
        assert [folder for folder, _why in watcher.problems] in ([], [str(root)])
    finally:
        watcher.stop()


# -- defect 9: one indexing run per knowledge base ----------------------------------------------


def test_a_second_run_waits_for_the_first(engine, home, tmp_path):
    make_notes(tmp_path / "docs", 8, "doc")
    engine.create_knowledge_base("kb", embed_batch=2)
    engine.add_folders("kb", [tmp_path / "docs"])
    first = engine.index("kb")
    until_indexing(first)
    # Another front end (a `tailor kb add` in a terminal) on the same workspace.
    other = Engine(home)
    phases: list[str] = []  # each event's phase, and how the run ended
    second = threading.Thread(
        target=lambda: phases.extend(
            e.phase if isinstance(e, Progress) else e.status for e in other.index("kb")
        )
    )
    second.start()
    deadline = time.monotonic() + 60
    while not phases:
        assert time.monotonic() < deadline, "the second run neither waited nor ran"
        time.sleep(0.05)
    assert phases[0] == "waiting"
    assert engine.knowledge_base_status("kb").indexing
    assert list(first)[-1].status == "done"
    second.join(120)
    assert phases[-1] == "done" and "indexing" not in phases  # nothing was left to do
    ids = engine.services.knowledge.chunk_ids("kb")
    assert len(ids) == len(set(ids)) == 8
    assert not engine.knowledge_base_status("kb").indexing
    other.close()


def test_a_knowledge_base_is_not_deleted_under_a_running_index(engine, tmp_path):
    make_notes(tmp_path / "docs", 8, "doc")
    engine.create_knowledge_base("kb", embed_batch=2)
    engine.add_folders("kb", [tmp_path / "docs"])
    running = engine.index("kb")  # this process's run, or another's: the lock is the same
    until_indexing(running)
    with pytest.raises(TailorError, match="being indexed"):
        engine.delete_knowledge_base("kb")
    assert list(running)[-1].status == "done"
    assert engine.knowledge_base_status("kb").files == 8
    engine.delete_knowledge_base("kb")
    assert engine.list_knowledge_bases() == []


# -- proofs: kill -9 at random points, and two processes at once --------------------------------

# A process indexing the knowledge base "kb" of the workspace argv[1], printing every event
# (and, last, how the run ended).
CHILD = """
import sys
from engine.api import Engine, Progress
from engine.errors import TailorError

for p in Engine(sys.argv[1]).index("kb"):
    if isinstance(p, Progress):
        print(p.phase, p.done, p.total, flush=True)
    else:
        print(p.status, p.result.files_done, p.result.files_total, flush=True)
"""


def start_child(home: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TAILOR_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )


def events(proc: subprocess.Popen):
    for line in proc.stdout:
        phase, done, total = line.split()
        yield phase, int(done), int(total)


def clean_ids(tmp_path: Path, folder: Path) -> list[str]:
    clean = Engine(tmp_path / "clean-workspace")
    try:
        clean.create_knowledge_base("kb")
        clean.add_folders("kb", [folder])
        index(clean, "kb")
        return clean.services.knowledge.chunk_ids("kb")
    finally:
        clean.close()


def assert_equals_clean_build(engine, ids: list[str], files: int) -> None:
    assert len(ids) == files
    got = engine.services.knowledge.chunk_ids("kb")
    knowledge = engine.services.knowledge
    table = knowledge._table(knowledge._row("kb")["id"], knowledge._row("kb")["active_index"])
    assert table.count() == len(set(got)), "duplicated chunks"
    assert got == ids, "chunks missing or extra"
    rows = kb_files(engine, "kb")
    assert len(rows) == files and {r["status"] for r in rows} == {"done"}


def test_kill_9_at_ten_random_points_then_resume_equals_a_clean_build(engine, home, tmp_path):
    folder = tmp_path / "notes"
    files = 48
    make_notes(folder, files, "note")
    # Small batches: every few files are saved, so kills land between saves and inside them.
    engine.create_knowledge_base("kb", embed_batch=4)
    engine.add_folders("kb", [folder])
    seed = int(os.environ.get("TAILOR_KILL_SEED", "11"))
    rng = random.Random(seed)
    kills, runs, where = 0, 0, []
    while kills < 10:
        runs += 1
        assert runs < 30, "the runs finished before they could be killed"
        proc = start_child(home)
        try:
            stream = events(proc)
            phase, done, total = next(stream)  # scanning
            if rng.random() > 0.15:
                # After the scan: one event per file still to index, then "finishing". A kill
                # within the next 8 events spreads the ten over the whole run.
                target = None
                for n, event in enumerate(stream, 1):
                    target = target or rng.randint(1, min(event[2] + 1, 8))
                    if n >= target:
                        phase, done, total = event
                        break
                else:
                    continue  # it ended by itself
            time.sleep(rng.uniform(0, 0.05))  # between two events, or inside the next one
            proc.kill()
            kills += 1
            where.append(f"{phase} {done}/{total}")
        finally:
            proc.kill()
            proc.wait()
    proc = start_child(home)  # resume to the end
    last = list(events(proc))[-1]
    assert proc.wait() == 0 and last[0] == "done"
    ids = clean_ids(tmp_path, folder)
    assert_equals_clean_build(engine, ids, files)
    print(
        f"\nkill -9 during indexing (seed {seed}): {kills} kills, at {'; '.join(where)}; "
        f"{runs} runs, each resuming the one before, then one to the end; {len(ids)} chunk ids "
        "equal a clean build's: 0 duplicated, 0 missing"
    )


def test_two_processes_indexing_one_base_equal_a_clean_build(engine, home, tmp_path):
    folder = tmp_path / "notes"
    files = 24
    make_notes(folder, files, "note")
    engine.create_knowledge_base("kb", embed_batch=4)
    engine.add_folders("kb", [folder])
    first = start_child(home)
    second = None
    try:
        first_events = events(first)
        while next(first_events)[0] != "indexing":
            pass
        # The first one is stopped mid-run, holding the knowledge base, while the second starts.
        first.send_signal(signal.SIGSTOP)
        second = start_child(home)
        second_events = events(second)
        assert next(second_events)[0] == "waiting"
        first.send_signal(signal.SIGCONT)
        assert list(first_events)[-1][0] == "done"
        rest = [phase for phase, _done, _total in second_events]
        assert rest[-1] == "done" and "indexing" not in rest  # nothing was left to do
        assert first.wait() == 0 and second.wait() == 0
    finally:
        first.send_signal(signal.SIGCONT)
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait()
    ids = clean_ids(tmp_path, folder)
    assert_equals_clean_build(engine, ids, files)
    print(
        f"\ntwo processes indexing one knowledge base: {len(ids)} chunk ids equal a clean build's"
    )


def test_knowledge_page_shows_an_unavailable_folder_and_waits_for_another_run(
    engine, qtbot, tmp_path, monkeypatch
):
    from desktop.pages import knowledge as page_module
    from desktop.state import AssistantState

    errors = []
    monkeypatch.setattr(page_module, "show_error", lambda *args: errors.append(args))
    drive = tmp_path / "drive"
    make_notes(drive, 6, "drive")
    engine.create_knowledge_base("kb", embed_batch=2)
    engine.add_folders("kb", [drive])
    page = page_module.KnowledgePage(AssistantState(engine))
    qtbot.addWidget(page)
    page.refresh()

    # Another run (a `tailor kb add` in a terminal) holds the knowledge base.
    other = engine.index("kb")
    until_indexing(other)
    page.show_status()
    qtbot.waitUntil(
        lambda: "being indexed by another Tailor process" in page.summary.text(), timeout=60_000
    )
    page.start_indexing("kb")  # as the watcher would
    qtbot.waitUntil(
        lambda: "waiting for it to finish" in page.progress_label.text(), timeout=60_000
    )
    assert list(other)[-1].status == "done"
    qtbot.waitUntil(lambda: page.job is None, timeout=120_000)
    assert "up to date" in page.progress_label.text() and errors == []

    drive.rename(tmp_path / "unplugged")
    page.start_indexing("kb")
    qtbot.waitUntil(lambda: page.job is None, timeout=120_000)
    assert "Unavailable, kept as indexed" in page.progress_label.text()
    qtbot.waitUntil(lambda: "unavailable" in page.summary.text(), timeout=60_000)
    assert "6 files" in page.summary.text()


def test_knowledge_page_deletes_off_the_qt_thread_and_not_under_a_run(
    engine, qtbot, tmp_path, monkeypatch
):
    from desktop.pages import knowledge as page_module
    from desktop.state import AssistantState

    errors = []
    monkeypatch.setattr(page_module, "show_error", lambda *args: errors.append(args))
    yes = page_module.QMessageBox.StandardButton.Yes
    monkeypatch.setattr(page_module.QMessageBox, "question", lambda *args: yes)
    make_notes(tmp_path / "docs", 6, "doc")
    engine.create_knowledge_base("kb", embed_batch=2)
    engine.add_folders("kb", [tmp_path / "docs"])
    page = page_module.KnowledgePage(AssistantState(engine))
    qtbot.addWidget(page)
    page.refresh()

    # Another run (a `tailor kb add` in a terminal) holds the knowledge base: refused, kept.
    other = engine.index("kb")
    until_indexing(other)
    page.delete_kb.click()
    qtbot.waitUntil(lambda: errors != [], timeout=60_000)
    assert "being indexed" in str(errors[0][1]) and engine.list_knowledge_bases() == ["kb"]
    assert list(other)[-1].status == "done"

    page.delete_kb.click()
    qtbot.waitUntil(lambda: page.summary.text() == "No knowledge bases yet.", timeout=60_000)
    assert engine.list_knowledge_bases() == [] and len(errors) == 1
