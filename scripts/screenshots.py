"""Regenerate docs/screenshots/: start the real app on a fresh workspace with a little sample
content (a real reply from the bundled model included) and save a PNG of every page.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TAILOR_HOME"] = tempfile.mkdtemp(prefix="tailor-shots-")


def main() -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.history import HistoryDialog
    from desktop.main_window import MainWindow
    from desktop.style import STYLESHEET
    from desktop.widgets.chat import PromptInspector
    from engine.api import DEFAULT_ASSISTANT, Engine, run
    from engine.types import Example

    app = QApplication(sys.argv)
    app.setStyleSheet(STYLESHEET)
    engine = Engine()
    engine.first_run()
    engine.edit_assistant(
        DEFAULT_ASSISTANT,
        system_prompt="You are a concise support assistant for Acme's routers. "
        "Answer in two sentences at most.",
        temperature=0.3,
        max_tokens=96,
        note="Support persona",
    )
    engine.create_example_set(
        "Router FAQ",
        [
            Example("How do I reset my router?", "Hold the reset button for 10 seconds."),
            Example("The Wi-Fi light is red.", "Restart the router; if it stays red, call us."),
            Example("How do I change the Wi-Fi password?", "Open 192.168.1.1 → Wireless."),
            Example("Can I use my own modem?", "Yes, set the router to bridge mode."),
        ],
    )
    docs = Path(os.environ["TAILOR_HOME"]) / "Router manual"
    docs.mkdir()
    (docs / "troubleshooting.md").write_text(
        "# Troubleshooting\n\n## Connection drops\n\nIf the connection drops every few "
        "minutes, move the router away from microwaves and cordless phones, then switch the "
        "Wi-Fi channel to 1, 6 or 11 in Settings → Wireless.\n\n## Red light\n\nA red "
        "status light means the router has no internet signal from the modem. Check the cable "
        "in the WAN port.\n"
    )
    (docs / "warranty.txt").write_text(
        "Acme routers carry a three-year warranty. Keep the receipt; the serial number is on "
        "the label under the router.\n"
    )
    (docs / "notes.bin.txt").write_bytes(b"\x00\x01\x02binary")
    engine.create_knowledge_base("Router manual")
    engine.add_folders("Router manual", [docs])
    run(engine.index("Router manual"))
    OUT.mkdir(parents=True, exist_ok=True)

    def settle(ms=150):
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def shot(widget, name):
        settle()
        widget.grab().save(str(OUT / f"{name}.png"))
        print("wrote", OUT / f"{name}.png")

    def ask(text):
        window.chat.start_new_chat()
        window.chat.input.setPlainText(text)
        window.chat.send_message()
        while window.chat.job is not None:
            settle(100)

    window = MainWindow(engine)
    window.resize(1280, 800)
    window.show()
    settle(300)

    # A real conversation through the window.
    ask("My router keeps dropping the connection. What should I try?")
    shot(window, "1-prompt")

    window.show_page("examples")
    page = window.pages["examples"]
    page.attach.setChecked(True)
    page.similar.setChecked(True)
    window.state.save("Few-shot from the router FAQ")
    ask("How do I reset the router?")
    shot(window, "2-examples")

    window.show_page("knowledge")
    kpage = window.pages["knowledge"]
    kpage.attach.setChecked(True)
    window.state.save("Answers from the router manual")
    ask("How long is the warranty?")
    shot(window, "3-knowledge")

    # A second folder on a drive that is then unplugged: reported, its files kept.
    usb = Path(tempfile.mkdtemp(prefix="tailor-shots-usb-"))
    unplugged = usb.with_name(usb.name + "-unplugged")
    (usb / "returns.md").write_text(
        "# Returns\n\nA router can be returned within 30 days with its receipt.\n"
    )
    engine.add_folders("Router manual", [usb])
    run(engine.index("Router manual"))
    usb.rename(unplugged)
    run(engine.index("Router manual"))
    kpage.show_status()
    shot(window, "3b-knowledge-unavailable")
    unplugged.rename(usb)
    kpage.show_status()
    # The knowledge base's settings, the answer context among them, at the page's foot.
    area = kpage.reply_start.parentWidget()
    while area is not None and not hasattr(area, "verticalScrollBar"):
        area = area.parentWidget()
    area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
    shot(window, "3c-knowledge-settings")
    area.verticalScrollBar().setValue(0)

    # The same questions against the assistant's Level 1, 2 and 3 versions.
    from engine.types import Case, RunOptions, Target

    engine.save_eval_set(
        "Router questions",
        [
            Case(
                "warranty",
                "How long is the warranty?",
                ("three years", "three-year"),
                ("warranty.txt",),
            ),
            Case(
                "serial",
                "Where is the serial number?",
                ("on the label under the router",),
                ("warranty.txt",),
            ),
            Case(
                "red",
                "What does a red status light mean?",
                ("no internet signal",),
                ("troubleshooting.md",),
            ),
            Case(
                "drops",
                "Which Wi-Fi channels should I try if the connection drops?",
                ("1, 6 or 11",),
                ("troubleshooting.md",),
            ),
            Case(
                "wan",
                "Which port does the modem cable go in?",
                ("WAN port", "WAN"),
                ("troubleshooting.md",),
            ),
            Case(
                "microwave",
                "What should the router be kept away from?",
                ("microwaves and cordless phones",),
                ("troubleshooting.md",),
            ),
        ],
    )
    targets = [Target(DEFAULT_ASSISTANT, v) for v in (2, 3, 4)]
    run_id = engine.create_eval_run(
        "Router questions", targets, RunOptions(max_tokens=48, temperature=0.0)
    )
    run(engine.evaluate(run_id))
    window.show_page("evaluate")
    epage = window.pages["evaluate"]
    epage.refresh()
    shot(window, "5-evaluate")
    epage.show_run(run_id)
    epage.reading.wait()
    settle(300)  # the run is read in the background; its tabs fill on the Qt thread
    epage.tabs.setCurrentIndex(1)
    shot(window, "5b-scoreboard")
    epage.tabs.setCurrentIndex(2)
    shot(window, "5c-cases")
    epage.advisor_tab.answers["private_documents"].setChecked(True)
    epage.tabs.setCurrentIndex(3)
    shot(window, "5d-advisor")
    epage.tabs.setCurrentIndex(0)

    # A short real training job (a few steps on the router FAQ), followed on the Fine-tune page.
    from engine.types import TrainOptions

    engine.dataset_from_examples("Router FAQ", "Router FAQ")
    job = engine.start_training(
        "router-style",
        "smollm2-135m-instruct",
        "Router FAQ",
        TrainOptions(max_steps=16, save_every=4, learning_rate=5e-4, validation_fraction=0.25),
    )
    run(engine.follow_training(job.id))
    window.show_page("finetune")
    fpage = window.pages["finetune"]
    fpage.adapter_name.setText("router-style-v2")
    settle(1500)
    scroll = fpage.config.parentWidget().parentWidget()  # the page's scroll area
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    shot(window, "4-finetune")
    from desktop.pages.finetune.compare import CompareDialog

    compare = CompareDialog(
        engine, window.state.draft.model_copy(update={"adapter": "router-style"}), window
    )
    compare.show()
    compare.prompt.setText("How do I reset my router?")
    compare.start()
    while compare.job.running:
        settle(200)
    shot(compare, "4b-compare-base")
    compare.close()

    # Level 5: RAFT on a folder of made-up facts — drafted by the bundled model, reviewed,
    # trained, served with its knowledge base, compared with Levels 3 and 4.
    from desktop.pages.raft.review_dialog import ReviewDialog
    from engine.types import AssistantConfig, RaftOptions
    from tests import raft_facts

    facts = raft_facts.build(Path(os.environ["TAILOR_HOME"]) / "Team facts")
    engine.create_knowledge_base("Team facts")
    engine.add_folders("Team facts", [facts])
    run(engine.index("Team facts"))
    options = RaftOptions(
        knowledge_base="Team facts",
        writer="smollm2-135m-instruct",
        questions_per_chunk=2,
        distractors=2,
        holdout=0.15,
    )
    engine.create_raft_build("facts-raft", options)
    run(engine.draft_raft("facts-raft"))
    window.show_page("raft")
    settle(300)
    shot(window, "4c-raft")
    review = ReviewDialog(engine, "facts-raft", window)
    review.show()
    while not review.loaded:  # the drafts are read in the background
        settle(100)
    shot(review, "4d-raft-review")
    review.close()
    engine.save_raft_build(
        "facts-raft", raft_facts.reviewed_drafts(engine.knowledge_base_chunks("Team facts"))
    )
    for name, data, steps in (
        ("facts-l5", "facts-raft", 40),
        ("facts-l4", "facts-raft (no documents)", 30),
    ):
        job = engine.start_training(
            name,
            "smollm2-135m-instruct",
            data,
            TrainOptions(max_steps=steps, learning_rate=5e-4, validation_fraction=0.0),
        )
        run(engine.follow_training(job.id))
    engine.create_assistant(
        "Team facts expert",
        AssistantConfig(
            model="smollm2-135m-instruct",
            adapter="facts-l5",
            knowledge_base="Team facts",
            retrieval_k=3,
            temperature=0.0,
            max_tokens=96,
        ),
    )
    window._fill_assistants(select="Team facts expert")
    window.show_page("raft")
    settle(300)
    ask("Who designed the Zebra protocol?")
    last = window.chat.lines.itemAt(window.chat.lines.count() - 2).widget()
    last.reasoning_button.click()
    shot(window, "4e-raft-chat")
    run_id = engine.compare_raft_build("facts-raft", "facts-l5", "facts-l4", (2, 5))
    run(engine.evaluate(run_id))
    window.show_page("evaluate")
    epage.show_run(run_id)
    epage.reading.wait()
    settle(300)  # the run is read in the background; its tabs fill on the Qt thread
    epage.tabs.setCurrentIndex(1)
    shot(window, "4f-raft-scoreboard")
    epage.tabs.setCurrentIndex(0)
    window._fill_assistants(select=DEFAULT_ASSISTANT)

    for key, name in [
        ("models", "6-models"),
        ("settings", "7-settings"),
    ]:
        window.show_page(key)
        shot(window, name)

    window.show_page("prompt")
    history = HistoryDialog(window.state, window)
    history.show()
    shot(history, "8-history-diff")
    history.close()

    bubbles = [
        window.chat.lines.itemAt(i).widget() for i in range(1, window.chat.lines.count() - 1)
    ]
    inspector = PromptInspector(bubbles[-1]._prompt, window)
    inspector.show()
    shot(inspector, "9-inspect-prompt")
    inspector.close()

    window.resize(1920, 1080)
    settle(300)
    shot(window, "1-prompt-1920")
    window.close()
    engine.close()


if __name__ == "__main__":
    main()
