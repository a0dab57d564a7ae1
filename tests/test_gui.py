"""pytest-qt on the real main window, the real engine and the bundled model."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from desktop.history import HistoryDialog
from engine.api import DEFAULT_ASSISTANT, TokenEvent
from tests.gguf_factory import write_gguf

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture
def window(window, monkeypatch):
    """tests/conftest.py's main window, with the version-note dialog answered "a note"."""
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("a note", True))
    return window


def send(window, qtbot, text):
    chat = window.chat
    chat.input.setPlainText(text)
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert chat.job is not None, "Enter did not send"
    tokens = []
    chat.job.event.connect(lambda e: isinstance(e, TokenEvent) and tokens.append(e.text))
    return tokens


def last_bubble(window):
    lines = window.chat.lines
    return lines.itemAt(lines.count() - 2).widget()


def test_window_opens_on_the_default_assistant_and_bundled_model(window):
    assert window.assistant_picker.currentText() == DEFAULT_ASSISTANT
    assert window.header_model.text() == "Model: smollm2-135m-instruct"
    assert window.level_badge.text().startswith("Level 1")
    assert window.stack.currentWidget() is window.pages["prompt"]
    assert window.chat.parent() is window.pages["prompt"].splitter
    assert window.minimumWidth() == 1100 and window.minimumHeight() == 700


def test_send_streams_tokens_and_shows_stats(window, qtbot):
    window.state.update(max_tokens=24, temperature=0.0)
    tokens = send(window, qtbot, "Name three fruits.")
    assert window.chat.stop.isVisible() and not window.chat.send.isVisible()
    qtbot.waitUntil(lambda: window.chat.job is None, timeout=120_000)
    bubble = last_bubble(window)
    assert len(tokens) >= 5 and bubble.body.text() == "".join(tokens)
    stats = bubble.stats.text()
    assert "prompt tokens" in stats and "completion tokens" in stats
    assert "first token" in stats and "tokens/s" in stats
    assert bubble.inspect.isVisible()
    # The conversation is saved and listed.
    assert window.chat.conversations.currentText() == "Name three fruits."


def test_escape_stops_generation(window, qtbot):
    window.state.update(max_tokens=500, temperature=0.0)
    tokens = send(window, qtbot, "Write a very long story about the sea.")
    qtbot.waitUntil(lambda: len(tokens) >= 2, timeout=60_000)
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.chat.job is None, timeout=30_000)
    assert "stopped" in last_bubble(window).stats.text()
    assert len(tokens) < 60
    assert window.chat.send.isVisible()


def test_save_twice_then_diff_and_revert(window, qtbot, engine):
    page = window.pages["prompt"]
    page.system.setPlainText("You answer like a pirate.")
    assert window.state.dirty and page.save_button.isEnabled()
    assert "edited" in window.level_badge.text()
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    page.temperature.setValue(0.2)
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert [window.version_picker.itemText(i) for i in range(3)] == ["v3", "v2", "v1"]
    assert not window.state.dirty and "edited" not in window.level_badge.text()

    dialog = HistoryDialog(window.state, window)
    qtbot.addWidget(dialog)
    assert dialog.versions.count() == 3
    html = dialog.diff.toPlainText()
    assert "0.7" in html and "0.2" in html  # v2 → v3 changed the temperature
    dialog.left.setCurrentIndex(2)  # v1 against v3
    assert "pirate" in dialog.diff.toPlainText() and "helpful" in dialog.diff.toPlainText()
    dialog.versions.setCurrentRow(2)
    qtbot.mouseClick(dialog.revert_button, Qt.MouseButton.LeftButton)
    assert dialog.versions.count() == 4
    current = engine.get_assistant(DEFAULT_ASSISTANT)
    assert (
        current.version == 4 and current.config == engine.get_assistant(DEFAULT_ASSISTANT, 1).config
    )
    assert page.system.toPlainText() == "You are a helpful assistant."


def test_example_set_on_the_examples_page_changes_the_prompt(window, qtbot, engine):
    window.show_page("examples")
    page = window.pages["examples"]
    assert window.chat.parent() is page.splitter
    page.import_path(ASSETS / "examples_good.jsonl", "qa")
    assert page.table.rowCount() == 3
    page.attach.setChecked(True)
    assert window.state.draft.example_set == "qa"
    assert window.level_badge.text().startswith("Level 2")
    assert window._nav_items["examples"].text().startswith("●")
    window.state.update(max_tokens=8, temperature=0.0)
    send(window, qtbot, "What is the capital of Spain?")
    qtbot.waitUntil(lambda: window.chat.job is None, timeout=120_000)
    prompt = last_bubble(window)._prompt
    assert [m["content"] for m in prompt["messages"]][2] == "ANSWER: blue"
    assert "ANSWER: Paris" in prompt["rendered"]


def test_dropping_a_gguf_imports_it_and_a_bad_one_is_refused(window, qtbot, tmp_path):
    good = write_gguf(tmp_path / "dropped.gguf")
    window.handle_drop(good)
    assert window.stack.currentWidget() is window.pages["models"]
    qtbot.waitUntil(lambda: window.pages["models"].table.rowCount() == 2, timeout=30_000)

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    window.handle_drop(bad)
    qtbot.waitUntil(lambda: window.pages["models"]._job is None, timeout=30_000)
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert any("damaged" in d.text() or "incomplete" in d.text() for d in dialogs)
    for d in dialogs:
        d.close()
    assert window.isVisible() and window.pages["models"].table.rowCount() == 2


def test_every_page_opens_and_the_fine_tune_timer_follows_visibility(window):
    for key in ("prompt", "examples", "knowledge", "finetune", "evaluate", "models", "settings"):
        window.show_page(key)
        assert window.stack.currentWidget() is window.pages[key]
    finetune = window.pages["finetune"]
    window.show_page("finetune")
    assert finetune.timer.isActive()  # jobs are followed while the page is on screen
    window.show_page("evaluate")
    assert not finetune.timer.isActive()


def test_every_rung_fits_its_pane_at_1280_by_800(window, qtbot):
    """Nothing on a rung's settings is cut off at the right edge: the settings are never wider
    than their pane (its sideways scroll bar is off, so anything wider would be clipped)."""
    window.resize(1280, 800)
    for key in ("prompt", "examples", "knowledge", "finetune", "raft"):
        window.show_page(key)
        page = window.pages[key]
        qtbot.waitUntil(lambda p=page: p.config.parentWidget().width() > 0, timeout=5_000)
        pane = page.config.parentWidget().width()
        assert page.config.minimumSizeHint().width() <= pane, key


def test_models_page_shows_gguf_metadata(window):
    window.show_page("models")
    table = window.pages["models"].table
    row = [table.item(0, c).text() for c in range(table.columnCount())]
    assert row[:5] == ["smollm2-135m-instruct  (bundled)", "llama", "135M", "Q4_1", "8,192"]


def test_second_window_on_the_same_workspace_is_told_it_is_in_use(engine, qtbot, monkeypatch, home):
    import desktop.app

    engine.lock_workspace()
    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: shown.append(a[2]))
    assert desktop.app.main([]) == 1
    assert "already open" in shown[0]


def test_model_preloads_in_the_background_after_the_window_shows(window, qtbot):
    with qtbot.waitSignal(window.model_loaded, timeout=60_000) as loaded:
        window.preload_model()
    assert loaded.args == ["smollm2-135m-instruct"]
    assert window.model_status.text() == "smollm2-135m-instruct · ready"
    assert window.engine.is_model_loaded("smollm2-135m-instruct")


def test_drop_a_folder_on_knowledge_then_ask_and_see_the_cited_source(window, qtbot, tmp_path):
    page = window.pages["knowledge"]
    # Before any knowledge base: a new one's settings, not the boxes' minimums.
    assert (page.chunk_tokens.value(), page.overlap.value()) == (256, 32)
    folder = tmp_path / "Handbook"
    folder.mkdir()
    (folder / "holidays.md").write_text(
        "# Holidays\n\nEmployees of Quillon Labs get 31 days of paid holiday per year.\n"
    )
    (folder / "parking.txt").write_text("Visitor parking is behind building C.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    window.show_page("knowledge")
    page = window.pages["knowledge"]
    assert window.chat.parent() is page.splitter
    seen = []
    page.status_message.connect(seen.append)
    window.handle_drop(folder)
    assert page.job is not None and page.cancel.isVisible()
    qtbot.waitUntil(lambda: page.job is None, timeout=120_000)
    assert any("Indexing “Handbook”" in s for s in seen)
    assert "up to date" in page.progress_label.text()
    qtbot.waitUntil(lambda: "2 files" in page.summary.text(), timeout=60_000)
    assert page.failures.topLevelItemCount() == 1
    assert page.failures.topLevelItem(0).text(0) == "broken.pdf"

    page.attach.setChecked(True)
    assert window.state.draft.knowledge_base == "Handbook"
    assert window.level_badge.text().startswith("Level 3")
    window.state.update(max_tokens=40, temperature=0.0)
    send(window, qtbot, "How many days of paid holiday do employees get?")
    qtbot.waitUntil(lambda: window.chat.job is None, timeout=120_000)
    bubble = last_bubble(window)
    assert (
        bubble.body.text().strip()
    )  # the 135M model words it variously; the source is what counts
    assert bubble.sources_button.text().startswith("Sources (")
    assert "holidays.md" in bubble.sources.text()
    assert bubble._prompt["sources"][0]["source"].endswith("holidays.md")


def test_cancel_indexing_keeps_what_was_done(window, qtbot, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        (folder / f"n{i}.txt").write_text(f"Note number {i} about topic {i}.")
    window.show_page("knowledge")
    page = window.pages["knowledge"]
    window.engine.create_knowledge_base("many", embed_batch=4)
    page.refresh()
    page.add_paths([folder], "many")
    qtbot.waitUntil(lambda: "Indexing" in page.progress_label.text(), timeout=60_000)
    qtbot.mouseClick(page.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is None, timeout=60_000)
    assert "Cancelled" in page.progress_label.text()
    done = window.engine.knowledge_base_status("many").files
    # Nothing is lost: a second run finishes the rest.
    assert list(window.engine.index("many"))[-1].status == "done"
    assert window.engine.knowledge_base_status("many").files == 60 >= done


def test_evaluate_page_runs_a_set_and_shows_the_scoreboard(window, engine, qtbot):
    from engine.types import Case, Target

    engine.save_eval_set(
        "Smoke", [Case("a", "Say hello.", ("hello",)), Case("b", "Name a fruit.", ("apple",))]
    )
    engine.edit_assistant(DEFAULT_ASSISTANT, system_prompt="Answer in one word.")
    window.show_page("evaluate")
    page = window.pages["evaluate"]
    run_tab, advisor_tab = page.run_tab, page.advisor_tab
    sets = run_tab.sets.list
    assert sets.count() == 1 and "2 cases" in sets.item(0).text()
    assert "Start at Level 1" in advisor_tab.start_advice.text()
    run_tab.add_target(Target(DEFAULT_ASSISTANT, 1), True)
    run_tab.max_tokens.setValue(16)
    qtbot.mouseClick(run_tab.run_button, Qt.MouseButton.LeftButton)
    assert page.running and run_tab.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not page.running and page.tabs.currentIndex() == 1, timeout=120_000)
    board = page.board_tab.table
    assert board.rowCount() == 2
    assert [board.item(i, 0).text() for i in range(2)] == [
        f"{DEFAULT_ASSISTANT} v2",
        f"{DEFAULT_ASSISTANT} v1",
    ]
    headers = [board.horizontalHeaderItem(i).text() for i in range(board.columnCount())]
    assert {"F1", "Exact match", "Latency (s)"} <= set(headers)
    assert len(page.board_tab.chart.series()) == 2
    cases = page.cases_tab.table
    assert cases.rowCount() == 2 and cases.columnCount() == 5
    title = page.board_tab.title.text()
    assert "Run 1" in title and "done" in title
    runs = run_tab.runs
    assert runs.topLevelItemCount() == 1 and runs.topLevelItem(0).text(5) == "done"
    # Two rungs at the same level give no climbing advice; the questionnaire still answers.
    advisor_tab.answers["private_documents"].setChecked(True)
    assert "Start at Level 3" in advisor_tab.start_advice.text()


def test_evaluate_page_explains_what_is_missing(window, engine, qtbot):
    window.show_page("evaluate")
    page = window.pages["evaluate"]
    assert "No evaluation set yet" in page.run_tab.sets.info.text()
    qtbot.mouseClick(page.run_tab.run_button, Qt.MouseButton.LeftButton)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "Choose an evaluation set" in box.text()
    assert not page.running


def test_finetune_page_trains_and_the_loss_chart_follows(window, engine, qtbot):
    rows = [
        [
            {"role": "user", "content": f"Say the code word {i}."},
            {"role": "assistant", "content": f"The code word is heron-{i}."},
        ]
        for i in range(12)
    ]
    engine.save_dataset("codes", rows)
    window.show_page("finetune")
    page = window.pages["finetune"]
    assert page.dataset.currentText() == "codes"
    qtbot.waitUntil(lambda: "12 conversations" in page.data_stats.text(), timeout=30_000)
    assert "thousands" in page.data_stats.text()
    qtbot.waitUntil(lambda: page.hardware.text().startswith("✓"), timeout=30_000)
    assert "GiB" in page.hardware.text()
    assert not page.attach.isEnabled()  # no adapter trained on this model yet
    page.adapter_name.setText("codes-lora")
    page.steps.setValue(200)
    page.save_every.setValue(2)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.train_button.isEnabled(), timeout=60_000)  # started
    assert page.jobs.topLevelItemCount() == 1
    qtbot.waitUntil(lambda: page.train_series.count() >= 3, timeout=900_000)
    assert page.job_status.text().startswith("codes-lora: running · step")
    assert page.ay.max() > 0 and page.ax.max() == 200
    qtbot.mouseClick(page.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.list_training_jobs()[0].status == "cancelled", timeout=300_000)
    qtbot.waitUntil(lambda: page.resume.isEnabled(), timeout=5_000)
    job = engine.list_training_jobs()[0]
    assert "Resume continues" in job.message and job.resumable


def test_fine_tune_page_counts_tokens_and_checks_memory_off_the_qt_thread(
    window, engine, qtbot, monkeypatch
):
    """Counting a dataset's tokens and the memory check (nvidia-smi, the model file) never run
    on the Qt thread, and a burst of spin-box changes asks once, for the last values."""
    import threading

    check, token_counter = engine.services.jobs.check, engine.services.generation.token_counter
    asked, counted_on = [], []

    def recording(base, options):
        asked.append((threading.current_thread(), options.max_seq_length))
        return check(base, options)

    def counting(base):
        counted_on.append(threading.current_thread())
        return token_counter(base)

    monkeypatch.setattr(engine.services.jobs, "check", recording)
    monkeypatch.setattr(engine.services.generation, "token_counter", counting)
    engine.save_dataset(
        "hi", [[{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hello."}]]
    )
    window.show_page("finetune")
    page = window.pages["finetune"]
    qtbot.waitUntil(lambda: page.hardware.text().startswith("✓"), timeout=30_000)
    qtbot.waitUntil(lambda: "1 conversation" in page.data_stats.text(), timeout=30_000)
    assert counted_on and threading.main_thread() not in counted_on
    asked.clear()
    for seq in (1024, 2048, 4096):
        page.seq.setValue(seq)
    needed = check(page.base.currentText(), page.options()).needed_bytes
    qtbot.waitUntil(lambda: f"needs about {needed / 2**30:.1f} GiB" in page.hardware.text())
    assert [seq for _thread, seq in asked] == [4096]
    assert all(thread is not threading.main_thread() for thread, _seq in asked)


def test_dropping_a_file_on_evaluate_or_fine_tune_imports_it(window, engine, tmp_path, qtbot):
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"input": "Say hi.", "answer": "hi"}\n')
    window.show_page("evaluate")
    window.handle_drop(cases)
    qtbot.waitUntil(lambda: "a note" in engine.list_eval_sets())  # imported in a Job
    assert engine.get_eval_set("a note").cases[0].input == "Say hi."
    window.show_page("finetune")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"instruction": "Say hi.", "output": "hi"}\n{"instruction": "x"}\n')
    window.handle_drop(rows)  # the second row has no answer: refused, nothing saved
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None)  # in a Job
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "line 2: no assistant turn" in box.text()
    assert engine.list_datasets() == []


def test_raft_page_in_a_process_of_its_own():
    """The RAFT page test below, run in a fresh interpreter. After the rest of the suite it has
    twice waited in vain for the background save's result (it passes on its own, with the whole
    GUI file, and after the fine-tuning tests); until that is understood it runs isolated so
    it keeps testing the page, and this note keeps the open question visible."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_raft_page_builds_reviews_and_saves",
        ],
        env={**os.environ, "TAILOR_ISOLATED_TEST": "1"},
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1].startswith("1 passed"), (
        proc.stdout[-4000:]
    )


@pytest.mark.skipif(
    os.environ.get("TAILOR_ISOLATED_TEST") != "1",
    reason="run in a process of its own by test_raft_page_in_a_process_of_its_own",
)
def test_raft_page_builds_reviews_and_saves(window, qtbot, engine, tmp_path, monkeypatch):
    """The RAFT page: a new build drafts in the background with progress, the review table
    re-checks quotes as cells are edited, and saving makes the datasets and the eval set."""
    from desktop.pages.raft.build_dialog import BuildDialog
    from desktop.pages.raft.review_dialog import ReviewDialog
    from engine.events import run
    from tests import raft_facts

    raft_facts.build(tmp_path / "docs")
    engine.services.knowledge.create("facts")
    engine.services.knowledge.add_roots("facts", [tmp_path / "docs"])
    run(engine.services.knowledge.index("facts"))
    window.show_page("raft")
    page = window.pages["raft"]
    assert "No RAFT data yet" in page.build_info.text()
    assert not page.use.isEnabled()  # no RAFT adapter yet: Level 5 is not available
    dialog = BuildDialog(engine, page)
    qtbot.addWidget(dialog)
    dialog.name.setText("facts-raft")
    dialog.reasoning.setCurrentIndex(dialog.reasoning.findData("extract"))
    dialog.distractors.setValue(2)
    dialog._ok()  # chooses the passages in the background
    qtbot.waitUntil(lambda: dialog.result() == dialog.DialogCode.Accepted, timeout=60_000)
    page._fill_builds()
    seen = []
    page.start_drafting("facts-raft")
    page.job.event.connect(lambda p: seen.append(p.done))
    qtbot.waitUntil(lambda: page.job is None, timeout=240_000)
    assert seen[-1] == 8 and page.progress.value() == 8
    assert page.review.isEnabled() and "Review and save" in page.build_info.text()

    review = ReviewDialog(engine, "facts-raft", page)
    qtbot.addWidget(review)
    qtbot.waitUntil(lambda: review.loaded, timeout=60_000)  # read in the background
    table = review.table
    n = table.rowCount()
    assert n == 8  # one draft (or one reason why none) per passage
    # How many drafts the bundled 135M writer gets right varies with the CPU and its thread
    # count (2 to 4 of these 8 here): the review is tested on drafts fixed by hand, as a
    # reviewer would, so it never depends on the writer's luck.
    for row in (0, 1):
        passage = table.item(row, 4).toolTip()
        sentence = passage.split(". ")[0].rstrip(".")
        table.item(row, 1).setText("What does the passage say first?")
        table.item(row, 2).setText(sentence)
        table.item(row, 3).setText(
            f"It says: ##begin_quote##{sentence}.##end_quote##\n<ANSWER>: {sentence}"
        )
        origin = table.item(row, 0).data(Qt.ItemDataRole.UserRole).origin
        assert table.item(row, 0).text() == "✓ " + origin
    row = 1
    table.item(row, 3).setText("##begin_quote##Invented words.##end_quote##\n<ANSWER>: x")
    assert table.item(row, 0).text() == "✗ a quote is not in the passage"
    table.item(row, 1).setText("")
    assert table.item(row, 0).text() == "✗ no question written"
    table.selectRow(row)
    review._remove_rows()
    assert table.rowCount() == n - 1
    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: shown.append(a[2]))
    review._save()
    qtbot.waitUntil(  # saved in the background, or the failure shown (then named below)
        lambda: bool(shown) or review.findChild(QMessageBox, "errorDialog") is not None,
        timeout=120_000,
    )
    failure = review.findChild(QMessageBox, "errorDialog")
    assert failure is None, failure.text()
    assert "training examples" in shown[0]
    page._fill_builds()
    assert page.builds.topLevelItem(0).text(2).startswith("saved")
    assert engine.services.datasets.kind("facts-raft") == "raft"
    assert page.train.isEnabled()
    window.pages["finetune"].seq.setValue(64)  # too short for a question with its passages
    page.train.click()
    assert window.current_page_key() == "finetune"
    fpage = window.pages["finetune"]
    assert fpage.dataset.currentText() == "facts-raft"
    qtbot.waitUntil(lambda: "raised to" in fpage.data_stats.text(), timeout=30_000)
    longest = max(fpage._lengths["facts-raft", fpage.base.currentText()])
    assert fpage.seq.value() >= longest > 64  # raised: every RAFT example fits, none is cut
    assert "raised to" in fpage.data_stats.text()


def test_raft_reply_shows_the_answer_and_folds_linked_quotes(qtbot):
    from desktop.widgets.chat import MessageBubble
    from engine.raft.format import parse_answer

    text = (
        "The document that answers this says: ##begin_quote##The Zebra protocol uses port "
        "7431.##end_quote## and ##begin_quote##made up##end_quote## So the answer is 7431.\n"
        "<ANSWER>: 7431"
    )
    bubble = MessageBubble("assistant", text)
    qtbot.addWidget(bubble)
    source = {
        "n": 2,
        "source": "/docs/zebra.md",
        "text": "The Zebra protocol uses port 7431. It was designed by Marguerite Okafor.",
        "page": None,
        "heading": None,
    }
    raft = parse_answer(text, [source])  # as Engine.chat parses a RAFT adapter's reply
    bubble.finish({"prompt_tokens": 10, "completion_tokens": 5}, {"sources": [source]}, None, raft)
    assert bubble.body.text() == "7431"
    assert bubble.reasoning_button.text() == "Reasoning (2 quotes)"
    folded = bubble.reasoning.text()
    assert '<a href="/docs/zebra.md">[2]</a>' in folded
    assert "not in the retrieved passages" in folded  # the invented quote is flagged
    assert bubble.reasoning.isHidden()
    bubble.reasoning_button.click()
    assert not bubble.reasoning.isHidden()
