"""The Knowledge page's "Answer context" group on the real main window: a change made there
is saved to the knowledge base through the engine and shapes the next Level 3 prompt."""

from engine.api import DEFAULT_ASSISTANT, Outcome
from engine.events import run
from engine.knowledge.answering import INSTRUCTIONS


def test_answer_context_controls_reach_the_engine(window, engine, qtbot, tmp_path):
    page = window.pages["knowledge"]
    window.show_page("knowledge")
    assert not page.answer_box.isEnabled()  # no knowledge base yet: nothing to set
    folder = tmp_path / "Handbook"
    folder.mkdir()
    (folder / "holidays.md").write_text(
        "# Holidays\n\nEmployees of Quillon Labs get 31 days of paid holiday per year. "
        "Holidays are booked in the staff portal.\n"
    )
    for name in ("Handbook", "Other"):
        engine.create_knowledge_base(name)
    engine.configure_knowledge_base("Other", context_tokens=300, prompt_style="sources")
    engine.add_folders("Handbook", [folder])
    run(engine.index("Handbook"))
    page.refresh()
    page.editing.setCurrentText("Handbook")
    qtbot.waitUntil(lambda: "Handbook" in page.summary.text(), timeout=30_000)
    assert page.answer_box.isEnabled()
    assert page.context_kind.currentData() == "sentences"
    assert page.context_tokens.value() == 120
    assert page.prompt_style.currentData() == "plain"

    page.context_tokens.setValue(200)
    page.prompt_style.setCurrentIndex(page.prompt_style.findData("sources"))
    saved = engine.knowledge_base_config("Handbook")
    assert (saved.context_tokens, saved.prompt_style) == (200, "sources")
    assert engine.knowledge_base_config("Other").context_tokens == 300  # only the shown one
    page.context_paragraph.setChecked(True)
    assert engine.knowledge_base_config("Handbook").context_paragraph
    assert page.reply_start.text() == "According to the documents,"  # the default
    page.reply_start.setText("According to the handbook,")
    page.reply_start.editingFinished.emit()
    assert engine.knowledge_base_config("Handbook").reply_start == "According to the handbook,"

    # Whole passages: the sentence settings do not apply and say so.
    page.context_kind.setCurrentIndex(page.context_kind.findData("chunks"))
    assert engine.knowledge_base_config("Handbook").context == "chunks"
    assert not page.context_tokens.isEnabled()

    # Showing another knowledge base shows its settings and saves nothing.
    page.editing.setCurrentText("Other")
    qtbot.waitUntil(lambda: page.context_tokens.value() == 300, timeout=30_000)
    assert engine.knowledge_base_config("Handbook").context == "chunks"
    assert engine.knowledge_base_config("Other").context == "sentences"

    # The next answer is built with the saved settings.
    config = engine.get_assistant(DEFAULT_ASSISTANT).config.model_copy(
        update={"knowledge_base": "Handbook", "max_tokens": 4, "temperature": 0.0}
    )
    events = list(engine.chat("How many days of paid holiday do employees get?", config=config))
    reply = next(e for e in events if isinstance(e, Outcome)).result
    assert reply.messages[-1] == {"role": "assistant", "content": "According to the handbook,"}
    assert reply.messages[-2]["content"].startswith(INSTRUCTIONS)
    assert "staff portal" in reply.messages[-2]["content"]  # the whole chunk, not a sentence
