"""Knowledge bases with real parsers, the real embedder and a real LanceDB."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.api import DEFAULT_ASSISTANT, Progress, run
from tests import knowledge_folder

TAILOR = str(Path(sys.executable).parent / "tailor")


def index(engine, name):
    events = list(engine.index(name))
    assert events[-1].status == "done"
    return events


@pytest.fixture
def kb(engine, tmp_path):
    folder = knowledge_folder.build(tmp_path / "docs")
    engine.create_knowledge_base("docs", max_file_mb=1)
    engine.add_folders("docs", [folder])
    return folder


def test_every_format_indexes_and_every_bad_file_has_a_reason(engine, kb):
    events = index(engine, "docs")
    progress = [e for e in events if isinstance(e, Progress) and e.phase == "indexing"]
    assert progress[-1].done == progress[-1].total
    assert all(e.detail.chunks_per_s >= 0 for e in progress)
    status = engine.knowledge_base_status("docs")
    reasons = {Path(p).name: r for p, r in status.skipped + status.failed}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "damaged PDF" in reasons["corrupt.pdf"]
    assert "no text layer" in reasons["scanned.pdf"]
    assert "encrypted" in reasons["locked.pdf"]
    assert "not a supported format" in reasons["image.xyz"]
    assert "too large" in reasons["big.txt"]
    assert "dangling.txt" in reasons
    assert len(reasons) == 8
    # The good files, and nothing through the symlink loop.
    assert status.files == 12
    sources = {h.source for h in engine.search("docs", "x", k=200, mode="vector")}
    assert not any("/loop/" in s for s in sources)


@pytest.mark.parametrize(
    "query, file, where",
    [
        ("Which port does the Zebra protocol use?", "guide.md", ("heading", "Zebra protocol")),
        ("What is the turbine speed?", "manual.pdf", ("page", 2)),
        ("How many electric vans are in the fleet?", "page.html", ("heading", "Fleet")),
        ("Population of Bergen", "table.csv", ("heading", "row 3")),
        ("Nimbus revenue growth", "review.docx", ("heading", "Quarterly review")),
        ("What is the mascot?", "rows.jsonl", None),
        ("Which word does the deepest file mention?", "deep.txt", None),
        ("How much is a café crème?", "cp1252.txt", None),
    ],
)
def test_search_finds_the_right_passage_with_its_location(engine, kb, query, file, where):
    index(engine, "docs")
    hit = engine.search("docs", query, k=3)[0]
    assert Path(hit.source).name == file
    if where:
        assert getattr(hit, where[0]) == where[1]
    # Offsets point into the file's extracted text.
    assert 0 <= hit.start < hit.end


def test_filters_by_file_type_and_folder(engine, kb):
    index(engine, "docs")
    hits = engine.search("docs", "turbine apples", k=10, file_types=["pdf"])
    assert hits and {Path(h.source).suffix for h in hits} == {".pdf"}
    deep = engine.search("docs", "word", k=10, folder=str(kb / "level0"))
    assert deep and all("/level0/" in h.source for h in deep)


def test_reindex_only_what_changed(engine, kb):
    index(engine, "docs")
    ids = engine.services.knowledge.chunk_ids("docs")
    again = index(engine, "docs")[-1].result
    assert again.files_total == 0 and again.unchanged > 0
    (kb / "notes.txt").write_text("The cafeteria now serves tomato soup on Fridays.\n")
    os.utime(kb / "guide.md")  # touched, not changed
    (kb / "script.py").unlink()
    changed = index(engine, "docs")[-1].result
    assert changed.files_total == 2 and changed.removed == 1 and changed.chunks == 1
    after = engine.services.knowledge.chunk_ids("docs")
    assert len(after) == len(ids) - 1 - 1 + 1  # script.py gone, notes.txt replaced
    assert Path(engine.search("docs", "tomato soup", k=1)[0].source).name == "notes.txt"


def test_new_settings_build_a_new_index_while_the_old_one_answers(engine, kb):
    index(engine, "docs")
    before = len(engine.services.knowledge.chunk_ids("docs"))
    engine.configure_knowledge_base("docs", chunk_tokens=64, chunk_overlap=8)
    # Not rebuilt yet: the active index still answers with its own chunks.
    assert len(engine.services.knowledge.chunk_ids("docs")) == before
    events = engine.index("docs")
    next(events)
    next(events)
    assert engine.knowledge_base_status("docs").building
    assert engine.search("docs", "Zebra port", k=1)  # old index still serves
    assert list(events)[-1].status == "done"
    assert not engine.knowledge_base_status("docs").building
    assert len(engine.services.knowledge.chunk_ids("docs")) > before


def test_killed_indexing_resumes_to_the_same_index(home, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(160):
        (folder / f"note{i:03}.txt").write_text(f"Note {i}: the code word for item {i} is w{i}x.")
    subprocess.run([TAILOR, "kb", "create", "many", "--embed-batch", "8"], check=True)
    proc = subprocess.Popen(
        [TAILOR, "kb", "add", "many", str(folder)], stderr=subprocess.PIPE, stdout=subprocess.PIPE
    )
    seen = b""
    deadline = time.monotonic() + 240
    # Kill it once at least 40 files (five saved batches) are done.
    while max(map(int, re.findall(rb"indexing: (\d+)/160", seen)), default=0) < 40:
        chunk = proc.stderr.read1(4096)
        assert chunk and time.monotonic() < deadline, seen[-400:]
        seen += chunk
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(
        [TAILOR, "kb", "add", "many"], capture_output=True, text=True, check=True
    )
    done_first = int(resumed.stdout.split("Indexed ")[1].split()[0])
    assert 0 < done_first < 160  # it resumed, rather than starting again
    subprocess.run([TAILOR, "kb", "create", "clean"], check=True)
    subprocess.run([TAILOR, "kb", "add", "clean", str(folder)], check=True, capture_output=True)

    from engine.api import Engine

    engine = Engine(home)
    resumed_ids = engine.services.knowledge.chunk_ids("many")
    assert resumed_ids == engine.services.knowledge.chunk_ids("clean")
    assert len(resumed_ids) == len(set(resumed_ids)) == 160
    engine.close()


def test_folder_watch_follows_add_change_delete_and_rename(engine, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha file talks about glaciers.")
    engine.create_knowledge_base("w")
    engine.add_folders("w", [folder])
    index(engine, "w")
    fired = []
    watcher = engine.watch("w", fired.append, delay=0.3)

    def step(action):
        fired.clear()
        action()
        deadline = time.monotonic() + 10
        while not fired:
            assert time.monotonic() < deadline, "the watcher did not notice"
            time.sleep(0.05)
        index(engine, "w")
        return {Path(h.source).name for h in engine.search("w", "x", 20, mode="vector")}

    try:
        assert step(lambda: (folder / "b.txt").write_text("Bravo is about volcanoes.")) == {
            "a.txt",
            "b.txt",
        }
        step(lambda: (folder / "b.txt").write_text("Bravo is now about deserts."))
        assert "deserts" in engine.search("w", "deserts", 1)[0].text
        assert step(lambda: (folder / "a.txt").unlink()) == {"b.txt"}
        assert step(lambda: (folder / "b.txt").rename(folder / "c.txt")) == {"c.txt"}
    finally:
        watcher.stop()


def test_rag_answer_cites_the_right_file_and_admits_ignorance(engine, kb):
    index(engine, "docs")
    engine.services.assistants.edit(
        DEFAULT_ASSISTANT, knowledge_base="docs", temperature=0.0, max_tokens=40
    )
    assert engine.services.assistants.current(DEFAULT_ASSISTANT).level == 3
    reply = run(engine.chat("Which port does the Zebra protocol use?", assistant=DEFAULT_ASSISTANT))
    assert "7431" in reply.text
    assert Path(reply.sources[0]["source"]).name == "guide.md" and reply.sources[0]["n"] == 1
    user_turn = reply.messages[-2]["content"]  # the last is the reply's start
    # The default layout: the question, the passage as plain text, the question again.
    assert user_turn.startswith("Question: Which port does the Zebra protocol use?\n\nContext:")
    assert "The Zebra protocol uses port 7431" in user_turn
    nothing = run(
        engine.chat("Who painted the Mona Lisa in Florence?", assistant=DEFAULT_ASSISTANT)
    )
    assert "couldn't find anything" in nothing.text and nothing.sources == []


def test_kb_command_line(home, tmp_path):
    folder = knowledge_folder.build(tmp_path / "docs", with_bad=False)
    run = lambda *a: subprocess.run([TAILOR, *a], capture_output=True, text=True, check=True)  # noqa: E731
    run("kb", "create", "docs")
    out = run("kb", "add", "docs", str(folder)).stdout
    assert "Indexed 12 changed file(s)" in out
    assert "12 files" in run("kb", "status", "docs").stdout
    import json

    one = json.loads(run("kb", "search", "docs", "turbine speed", "--k", "2", "--json").stdout)
    assert one["results"][0]["source"].endswith("manual.pdf") and one["results"][0]["page"] == 2
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"_id": "a", "text": "electric vans"}\n{"_id": "b", "text": "mascot"}\n')
    lines = run("kb", "search", "docs", "--queries", str(queries), "--k", "3", "--json").stdout
    rows = [json.loads(line) for line in lines.splitlines()]
    assert [r["query_id"] for r in rows] == ["a", "b"]
    assert rows[0]["results"][0]["source"].endswith("page.html") and len(rows[0]["results"]) == 3
    assert "Level 3" in run("assistants", "edit", DEFAULT_ASSISTANT, "--kb", "docs").stdout
    answer = run("chat", "--assistant", DEFAULT_ASSISTANT, "How many electric vans are there?")
    assert "Sources:" in answer.stdout and "page.html" in answer.stdout


def test_unreadable_and_vanishing_files_are_reported_and_the_rest_indexes(
    engine, tmp_path, monkeypatch
):
    from engine.knowledge import indexing

    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("keep.txt", "locked.txt", "vanishing.txt"):
        (folder / name).write_text(f"This is {name} about otters.")
    real_sha = indexing._sha256

    def flaky(path):
        if path.name == "locked.txt":  # tests run as root, so chmod cannot lock a file
            raise PermissionError(13, "Permission denied", str(path))
        if path.name == "vanishing.txt":
            path.unlink()  # deleted between the scan and the read
        return real_sha(path)

    monkeypatch.setattr(indexing, "_sha256", flaky)
    engine.create_knowledge_base("f")
    engine.add_folders("f", [folder])
    index(engine, "f")
    status = engine.knowledge_base_status("f")
    reasons = {Path(p).name: r for p, r in status.failed}
    assert reasons == {
        "locked.txt": "permission denied (unreadable)",
        "vanishing.txt": "deleted while being indexed",
    }
    assert status.files == 1
