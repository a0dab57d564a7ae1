"""The window with remote models: the privacy question before documents or examples leave the
machine, the status bar saying where prompts go, and adding/removing providers on the Models
page. pytest-qt on the real window, with tests/test_providers.py's real loopback
OpenAI-compatible server and in-memory keyring."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from desktop.pages.models import ModelsPage
from desktop.pages.provider_dialog import ProviderDialog
from engine.types import Example
from tests import test_providers as providers

# The loopback server and helper of tests/test_providers.py, shared.
server = providers.server
loopback = providers.loopback
remote_assistant = providers.remote_assistant


class Answers:
    """Stands in for the privacy question's modal exec: records each question, answers in turn."""

    def __init__(self, monkeypatch, *answers):
        self.answers = list(answers)
        self.asked: list[str] = []
        answers_ = self

        def exec_(box):
            answers_.asked.append(box.text())
            return answers_.answers.pop(0)

        monkeypatch.setattr(QMessageBox, "exec", exec_)


def type_and_send(window, qtbot, text):
    window.chat.input.setPlainText(text)
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)


def test_documents_or_examples_for_a_remote_model_are_sent_only_after_asking_once(
    engine, loopback, window, qtbot, monkeypatch
):
    host = f"127.0.0.1:{loopback.port}"
    engine.add_provider("loopback", loopback.url)
    engine.create_knowledge_base("Handbook")
    remote_assistant(engine, "Docs", "loopback/smollm2", knowledge_base="Handbook", max_tokens=8)
    engine.create_example_set("Tone", [Example("Hi", "Hello!"), Example("Bye", "Goodbye!")])
    remote_assistant(engine, "Styled", "loopback/smollm2", example_set="Tone", max_tokens=8)
    answers = Answers(monkeypatch, QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)

    # No: nothing is sent and the typed text stays.
    window.state.select("Docs")
    before = loopback.requests
    type_and_send(window, qtbot, "When is the boiler serviced?")
    assert answers.asked == [
        f"This assistant sends your question with passages from knowledge base Handbook to "
        f"{host}. Send?"
    ]
    assert window.chat.job is None and loopback.requests == before
    assert window.chat.input.toPlainText() == "When is the boiler serviced?"
    assert engine.list_conversations("Docs") == []

    window.state.select("Styled")
    type_and_send(window, qtbot, "Hi there")
    assert (
        answers.asked[1]
        == f"This assistant sends your question with examples from set Tone to {host}. Send?"
    )
    assert window.chat.job is None and window.chat.input.toPlainText() == "Hi there"

    # Yes: sent, remembered for this assistant; the next message is not asked about.
    answers.answers = [QMessageBox.StandardButton.Yes]
    type_and_send(window, qtbot, "Hi there")
    assert len(answers.asked) == 3 and window.chat.job is not None
    qtbot.waitUntil(lambda: window.chat.job is None, timeout=60_000)
    assert "Hello!" in str(loopback.last_messages)  # the examples went out in the prompt
    type_and_send(window, qtbot, "Bye now")
    assert len(answers.asked) == 3 and window.chat.job is not None  # not asked again
    qtbot.waitUntil(lambda: window.chat.job is None, timeout=60_000)
    assert [m.role for m in engine.conversation_messages(window.chat.conversation_id)] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]


def test_a_plain_remote_chat_and_a_local_assistant_ask_nothing(
    engine, loopback, window, qtbot, monkeypatch
):
    answers = Answers(monkeypatch)
    engine.create_example_set("Tone", [Example("Hi", "Hello!")])
    window.state.update(example_set="Tone", max_tokens=8)  # local model: nothing to ask
    type_and_send(window, qtbot, "Hi")
    assert window.chat.job is not None
    qtbot.waitUntil(lambda: window.chat.job is None, timeout=60_000)
    engine.add_provider("loopback", loopback.url)
    remote_assistant(engine, "Plain", "loopback/smollm2", max_tokens=8)
    window.state.select("Plain")
    type_and_send(window, qtbot, "Hi")
    assert window.chat.job is not None
    qtbot.waitUntil(lambda: window.chat.job is None, timeout=60_000)
    assert answers.asked == []


def test_the_status_bar_says_offline_only_when_nothing_remote_is_in_use(engine, window):
    assert window.network_status.text() == "offline ✓"
    engine.add_provider("corp", "https://llm.example.com/v1")
    remote_assistant(engine, "Remote", "corp/llama-3-8b")
    window.state.select("Remote")
    assert window.network_status.text() == "online: llm.example.com"
    window.state.select(engine.list_assistants()[0])
    assert window.network_status.text() == "offline ✓"
    window.state.select("Remote")
    window.pages["models"].models_changed.emit()
    assert window.network_status.text() == "online: llm.example.com"


def fill_dialog(monkeypatch, name, url, key, concurrency=None, price_in=None):
    def exec_(dialog):
        dialog.name.setText(name)
        dialog.url.setText(url)
        dialog.key.setText(key)
        assert dialog.price_in.text() == dialog.price_out.text() == "not charged"
        if concurrency is not None:
            dialog.concurrency.setValue(concurrency)
        if price_in is not None:
            dialog.price_in.setValue(price_in)
        assert dialog.key.echoMode() == dialog.key.EchoMode.Password
        return ProviderDialog.DialogCode.Accepted

    monkeypatch.setattr(ProviderDialog, "exec", exec_)


def test_add_and_remove_a_provider_on_the_models_page(
    engine, loopback, memory_keyring, qtbot, monkeypatch
):
    page = ModelsPage(engine)
    qtbot.addWidget(page)
    assert not page.remote_button.isEnabled()
    fill_dialog(monkeypatch, "loopback", loopback.url, "sk-test-key", concurrency=2, price_in=0.5)
    with qtbot.waitSignal(page.models_changed, timeout=10_000):
        page.add_provider_button.click()
    [provider] = engine.list_providers()
    assert (provider.name, provider.concurrency, provider.price_in, provider.price_out) == (
        "loopback",
        2,
        0.5,
        None,
    )
    assert memory_keyring.passwords == {("Tailor", "provider:loopback"): "sk-test-key"}
    assert "Added loopback" in page.status.text() and page.remote_button.isEnabled()

    page.remote_button.click()
    qtbot.waitUntil(lambda: page._remote_job is None, timeout=30_000)
    names = [page.table.item(r, 0).text() for r in range(page.table.rowCount())]
    page.table.selectRow(0)  # the local model: no provider to remove
    assert not page.remove_provider_button.isEnabled()
    page.table.selectRow(names.index("loopback/smollm2  (remote)"))
    assert page.remove_provider_button.isEnabled()
    with qtbot.waitSignal(page.models_changed, timeout=10_000):
        page.remove_provider_button.click()
    assert engine.list_providers() == [] and memory_keyring.passwords == {}
    assert page.table.rowCount() == 1 and not page.remote_button.isEnabled()


def test_without_a_keyring_adding_a_key_is_refused_naming_the_variable(
    engine, no_keyring, qtbot, monkeypatch
):
    page = ModelsPage(engine)
    qtbot.addWidget(page)
    fill_dialog(monkeypatch, "corp-vllm", "https://llm.example.com/v1", "sk-test-key")
    with qtbot.waitSignal(page.models_changed, timeout=10_000):
        page.add_provider_button.click()
    dialog = page.findChild(QMessageBox, "errorDialog")
    assert dialog is not None and dialog.windowTitle() == "Add provider"
    assert "TAILOR_KEY_CORP_VLLM" in dialog.text()
    assert engine.list_providers() == [] and page.add_provider_button.isEnabled()
    dialog.close()


def test_a_listed_remote_model_is_chosen_for_an_assistant_on_the_prompt_page(
    engine, loopback, window, qtbot, monkeypatch
):
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("remote model", True))
    engine.add_provider("loopback", loopback.url)
    models, prompt = window.pages["models"], window.pages["prompt"]
    window.show_page("models")
    models.refresh()
    models.remote_button.click()
    qtbot.waitUntil(lambda: models._remote_job is None, timeout=30_000)
    assert "choose one for an assistant on the Prompt page" in models.status.text()
    window.show_page("prompt")
    index = prompt.model.findData("loopback/smollm2")
    assert index >= 0
    assert (
        prompt.model.itemText(index) == f"loopback/smollm2  ·  remote (127.0.0.1:{loopback.port})"
    )
    prompt.model.setCurrentIndex(index)
    prompt.model.activated.emit(index)
    assert window.state.draft.model == "loopback/smollm2"
    assert window.network_status.text() == f"online: 127.0.0.1:{loopback.port}"
    window.save_version()
    assert engine.get_assistant(window.state.name).config.model == "loopback/smollm2"
    # Next time the window opens, before anything is listed, the choice is shown as it is.
    prompt.set_remote_models([])
    assert prompt.model.currentData() == "loopback/smollm2"
    assert "remote (127.0.0.1" in prompt.model.currentText()
