"""The chat panel that sits beside every rung's configuration."""

from __future__ import annotations

import html
import json

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.errors import show_error
from desktop.pages.base import button_row
from desktop.state import AssistantState
from desktop.worker import Job
from engine.api import Loading, Reply, TokenEvent
from engine.types import GenerationStats, RaftAnswer, source_label


class PromptInspector(QDialog):
    """The exact messages and the rendered prompt text that produced a reply."""

    def __init__(self, prompt: dict, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Inspect prompt")
        self.resize(760, 560)
        tabs = QTabWidget()
        messages = QTextBrowser()
        parts = []
        for m in prompt.get("messages", []):
            parts.append(
                f"<p style='margin:10px 0 2px 0'><b>{html.escape(m['role'])}</b></p>"
                f"<pre style='white-space:pre-wrap;margin:0'>{html.escape(m['content'])}</pre>"
            )
        messages.setHtml("".join(parts))
        rendered = QPlainTextEdit(prompt.get("rendered", ""))
        rendered.setReadOnly(True)
        raw = QPlainTextEdit(json.dumps(prompt.get("messages", []), indent=2, ensure_ascii=False))
        raw.setReadOnly(True)
        tabs.addTab(messages, "Messages")
        tabs.addTab(rendered, "Prompt text sent to llama.cpp")
        tabs.addTab(raw, "JSON")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)


class MessageBubble(QFrame):
    def __init__(self, role: str, text: str = "", parent=None):
        super().__init__(parent)
        self.role = role
        self.setObjectName("userBubble" if role == "user" else "assistantBubble")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(4)
        who = QLabel("You" if role == "user" else "Assistant")
        who.setObjectName("bubbleRole")
        self.body = QLabel(text)
        self.body.setObjectName("bubbleText")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addWidget(who)
        layout.addWidget(self.body)
        self.footer = QHBoxLayout()
        self.stats = QLabel()
        self.stats.setObjectName("bubbleStats")
        self.stats.setWordWrap(True)
        self.inspect = QPushButton("Inspect prompt")
        self.inspect.setFlat(True)
        self.inspect.setObjectName("inspectButton")
        self.inspect.hide()
        self.sources_button = QPushButton()
        self.sources_button.setFlat(True)
        self.sources_button.setObjectName("inspectButton")
        self.sources_button.hide()
        self.footer.addWidget(self.stats, 1)
        self.footer.addWidget(self.sources_button)
        self.footer.addWidget(self.inspect)
        layout.addLayout(self.footer)
        # Level 3: the passages behind the answer, folded; a click opens the file.
        self.sources = QLabel()
        self.sources.setObjectName("sourcesLabel")
        self.sources.setWordWrap(True)
        self.sources.setOpenExternalLinks(False)
        self.sources.linkActivated.connect(_open_file)
        self.sources.hide()
        layout.addWidget(self.sources)
        self.sources_button.clicked.connect(
            lambda: self.sources.setVisible(not self.sources.isVisible())
        )
        # RAFT replies: the answer stays in the body; the reasoning with its quotes folds here.
        self.reasoning_button = QPushButton()
        self.reasoning_button.setFlat(True)
        self.reasoning_button.setObjectName("inspectButton")
        self.reasoning_button.hide()
        self.footer.insertWidget(1, self.reasoning_button)
        self.reasoning = QLabel()
        self.reasoning.setObjectName("sourcesLabel")
        self.reasoning.setWordWrap(True)
        self.reasoning.setOpenExternalLinks(False)
        self.reasoning.linkActivated.connect(_open_file)
        self.reasoning.hide()
        layout.insertWidget(layout.indexOf(self.sources), self.reasoning)
        self.reasoning_button.clicked.connect(
            lambda: self.reasoning.setVisible(not self.reasoning.isVisible())
        )
        self._prompt: dict = {}
        self.inspect.clicked.connect(self._open_inspector)

    def append(self, text: str) -> None:
        self.body.setText(self.body.text() + text)

    def finish(
        self, stats: dict, prompt: dict, version: int | None = None, raft: RaftAnswer | None = None
    ) -> None:
        s = GenerationStats(**stats)
        label = s.summary() if s.prompt_tokens else "Answered without the model"
        if s.stop_reason == "cancelled":
            label += " · stopped"
        if version:
            label += f" · v{version}"
        self.stats.setText(label)
        self._prompt = prompt
        self.inspect.setVisible(bool(prompt.get("messages")))
        sources = prompt.get("sources") or []
        if raft is not None:
            self._fold_reasoning(raft, sources)
        if sources:
            rows = []
            for src in sources:
                passage = html.escape(" ".join(src["text"].split())[:280])
                href = html.escape(src["source"], quote=True)
                rows.append(
                    f"<p style='margin:6px 0'><b>[{src['n']}]</b> "
                    f'<a href="{href}">{html.escape(source_label(src))}</a><br>'
                    f"<span>{passage}…</span></p>"
                )
            self.sources.setText("".join(rows))
            self.sources_button.setText(f"Sources ({len(sources)})")
            self.sources_button.show()
            self.sources.show()

    def _fold_reasoning(self, raft: RaftAnswer, sources: list[dict]) -> None:
        """A RAFT reply shows its answer prominently; the reasoning folds beneath, each quote
        marked and linked to the retrieved passage it came from."""
        self.body.setText(raft.answer or "(no answer after <ANSWER>:)")
        self.body.setObjectName("bubbleAnswer")
        self.body.setStyleSheet("font-weight: 600;")
        self.reasoning.setText(reasoning_html(raft, sources))
        n = sum(1 for q in raft.quotes if q.text)
        self.reasoning_button.setText(f"Reasoning ({n} quote{'s' if n != 1 else ''})")
        self.reasoning_button.show()

    def _open_inspector(self) -> None:
        PromptInspector(self._prompt, self).exec()


def reasoning_html(raft: RaftAnswer, sources: list[dict]) -> str:
    """The reasoning as HTML: each quote marked, with a link to the source passage that
    contains it (or a note that none does)."""
    by_number = {s["n"]: s for s in sources}
    reasoning = raft.reasoning
    out, pos = [], 0
    for quote in raft.quotes:
        out.append(html.escape(reasoning[pos : quote.start]))
        where = by_number.get(quote.passage)
        link = (
            f' <a href="{html.escape(where["source"], quote=True)}">[{where["n"]}]</a>'
            if where
            else " <span style='color:#888'>(not in the retrieved passages)</span>"
        )
        out.append(f"<span style='background:#fff3c4'>“{html.escape(quote.text)}”</span>{link}")
        pos = quote.end
    out.append(html.escape(reasoning[pos:]))
    return "<p style='margin:6px 0'>" + "".join(out).replace("\n", "<br>") + "</p>"


def _open_file(path: str) -> None:
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QDesktopServices

    QDesktopServices.openUrl(QUrl.fromLocalFile(path))


class MessageInput(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatPanel(QWidget):
    """Conversation list, transcript with streaming replies, input with Send/Stop."""

    busy_changed = Signal(bool)
    status = Signal(str)

    def __init__(self, state: AssistantState, parent=None):
        super().__init__(parent)
        self.state = state
        self.engine = state.engine
        self.job: Job | None = None
        self.conversation_id: int | None = None
        self._bubble: MessageBubble | None = None
        self.setObjectName("chatPanel")

        self.conversations = QComboBox()
        self.conversations.setObjectName("conversationPicker")
        self.conversations.setMinimumWidth(220)
        self.new_chat = QPushButton("New chat")
        self.new_chat.setToolTip("Start a new conversation (Ctrl+N)")
        title = QLabel("Chat")
        title.setObjectName("sectionTitle")
        top = button_row(title, None, (self.conversations, 2), self.new_chat)

        self.transcript = QWidget()
        self.transcript.setObjectName("transcript")
        self.lines = QVBoxLayout(self.transcript)
        self.lines.setContentsMargins(4, 4, 4, 4)
        self.lines.setSpacing(10)
        self.empty = QLabel(
            "Ask anything to try the assistant as it is configured on the left.\n"
            "Edits apply to the next message at once; Save keeps them as a new version."
        )
        self.empty.setObjectName("emptyHint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.lines.addWidget(self.empty)
        self.lines.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.transcript)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.verticalScrollBar().rangeChanged.connect(
            lambda _min, _max: self.scroll.verticalScrollBar().setValue(_max)
        )

        self.input = MessageInput()
        self.input.setObjectName("messageInput")
        self.input.setPlaceholderText(
            "Message the assistant — Enter to send, Shift+Enter for a new line"
        )
        self.input.setFixedHeight(78)
        self.send = QPushButton("Send")
        self.send.setObjectName("sendButton")
        self.send.setDefault(True)
        self.send.setMinimumWidth(88)
        self.stop = QPushButton("Stop")
        self.stop.setObjectName("stopButton")
        self.stop.setToolTip("Stop generating (Esc)")
        self.stop.setMinimumWidth(88)
        self.stop.hide()
        bottom = QHBoxLayout()
        bottom.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send)
        buttons.addWidget(self.stop)
        buttons.addStretch(1)
        bottom.addLayout(buttons)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(top)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(bottom)

        self.input.submitted.connect(self.send_message)
        self.send.clicked.connect(self.send_message)
        self.stop.clicked.connect(self.stop_generation)
        self.new_chat.clicked.connect(self.start_new_chat)
        self.conversations.activated.connect(self._pick_conversation)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop_generation)
        state.changed.connect(self._assistant_changed)
        self._shown_assistant = ""

    # -- conversations -----------------------------------------------------------------------

    def _assistant_changed(self) -> None:
        if self.state.name != self._shown_assistant:
            self._shown_assistant = self.state.name
            self.refresh_conversations(select_latest=True)

    def refresh_conversations(self, select_latest: bool = False) -> None:
        items = self.engine.list_conversations(self.state.name)
        self.conversations.blockSignals(True)
        self.conversations.clear()
        for c in items:
            self.conversations.addItem(c.title or "New chat", c.id)
        self.conversations.blockSignals(False)
        if select_latest:
            self.show_conversation(items[0].id if items else None)
        elif self.conversation_id is not None:
            index = self.conversations.findData(self.conversation_id)
            self.conversations.setCurrentIndex(index)

    def _pick_conversation(self, index: int) -> None:
        self.show_conversation(self.conversations.itemData(index))

    def start_new_chat(self) -> None:
        if self.busy:
            return
        self.show_conversation(None)
        self.conversations.setCurrentIndex(-1)
        self.input.setFocus()

    def show_conversation(self, cid: int | None) -> None:
        self.conversation_id = cid
        while self.lines.count() > 2:
            item = self.lines.takeAt(1)
            item.widget().deleteLater()
        messages = self.engine.conversation_messages(cid) if cid is not None else []
        for m in messages:
            bubble = self._add_bubble(m.role, m.content)
            if m.role == "assistant" and m.stats:
                bubble.finish(m.stats, m.prompt, m.assistant_version, m.raft)
        self.empty.setVisible(not messages)
        if cid is not None:
            self.conversations.setCurrentIndex(self.conversations.findData(cid))

    def _add_bubble(self, role: str, text: str) -> MessageBubble:
        bubble = MessageBubble(role, text)
        self.lines.insertWidget(self.lines.count() - 1, bubble)
        self.empty.hide()
        return bubble

    # -- sending -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.job is not None

    def send_message(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.busy or self.state.draft is None:
            return
        if not self._remote_allowed():
            return  # the typed text stays, unsent
        if self.conversation_id is None:
            self.conversation_id = self.engine.create_conversation(self.state.name).id
        self.input.clear()
        self._add_bubble("user", text)
        self._bubble = self._add_bubble("assistant", "")
        self._bubble.stats.setText("Thinking…")
        engine, name, config, cid = (
            self.engine,
            self.state.name,
            self.state.draft,
            self.conversation_id,
        )

        def work(cancel):
            return engine.chat(
                text, assistant=name, config=config, conversation_id=cid, cancel=cancel
            )

        self.job = Job(work, self)
        self.job.event.connect(self._on_event)
        self.job.succeeded.connect(self._on_reply)
        # A stopped reply keeps what was written so far: shown as it ends, marked "stopped".
        self.job.cancelled.connect(self._on_reply)
        self.job.failed.connect(self._on_failed)
        self.job.finished.connect(self._on_finished)
        self._set_busy(True)
        self.job.start()

    def _remote_allowed(self) -> bool:
        """Before a remote model first gets this assistant's documents or examples inside a
        prompt, ask once (per assistant and host); plain remote chats need no question."""
        config = self.state.draft
        attached = []
        if config.knowledge_base:
            attached.append(f"passages from knowledge base {config.knowledge_base}")
        if config.example_set:
            attached.append(f"examples from set {config.example_set}")
        if not attached:
            return True
        host = self.engine.model_host(config.model)  # reads this machine's settings only
        key = f"remote-ok:{self.state.name}"
        if host is None or self.engine.preference(key) == host:
            return True
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Send to a remote model?",
            f"This assistant sends your question with {' and '.join(attached)} to {host}. Send?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("remotePrivacy")
        box.setTextFormat(Qt.TextFormat.PlainText)  # names a person typed: text, never markup
        box.setDefaultButton(QMessageBox.StandardButton.No)
        if box.exec() != QMessageBox.StandardButton.Yes:
            return False
        self.engine.set_preference(key, host)
        return True

    def stop_generation(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _on_event(self, event) -> None:
        if self._bubble is None:
            return
        if isinstance(event, Loading):
            self._bubble.stats.setText(f"Loading {event.model}…")
            self.status.emit(f"Loading {event.model}…")
        elif isinstance(event, TokenEvent):
            if not self._bubble.body.text():
                self._bubble.stats.setText("")
            self._bubble.append(event.text)

    def _on_reply(self, reply: Reply | None) -> None:
        """The reply, finished or stopped (None when stopped before it began)."""
        if self._bubble is None or reply is None:
            return
        version = None
        if self.state.saved and self.state.draft == self.state.saved.config:
            version = self.state.saved.version
        self._bubble.finish(
            reply.stats.to_dict(),
            {"messages": reply.messages, "rendered": reply.prompt, "sources": reply.sources},
            version,
            reply.raft,
        )
        self.status.emit(f"{reply.stats.tokens_per_s:.1f} tokens/s")

    def _on_failed(self, error: Exception) -> None:
        if self._bubble is not None:
            self._bubble.stats.setText("Failed — nothing was saved for this message.")
        show_error(self, error)

    def _on_finished(self) -> None:
        self.job = None
        self._bubble = None
        self._set_busy(False)
        self.refresh_conversations()
        QTimer.singleShot(0, self.input.setFocus)

    def _set_busy(self, busy: bool) -> None:
        self.send.setVisible(not busy)
        self.stop.setVisible(busy)
        self.new_chat.setEnabled(not busy)
        self.conversations.setEnabled(not busy)
        self.busy_changed.emit(busy)
