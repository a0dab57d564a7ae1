"""The main window: header with the current assistant, the ladder on the left, pages, status."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.errors import show_error
from desktop.history import HistoryDialog
from desktop.pages.base import RungPage
from desktop.pages.evaluate import EvaluatePage
from desktop.pages.examples import ExamplesPage
from desktop.pages.finetune.page import FinetunePage
from desktop.pages.knowledge import KnowledgePage
from desktop.pages.models import ModelsPage
from desktop.pages.prompt import PromptPage
from desktop.pages.raft.page import RaftPage
from desktop.pages.settings import SettingsPage
from desktop.state import AssistantState
from desktop.widgets.awake import AwakeStatus
from desktop.widgets.chat import ChatPanel
from desktop.worker import Job
from engine.api import Engine
from engine.errors import TailorError
from engine.types import LEVEL_NAMES, AssistantConfig

# (key, label, rung number or None). Section separators are None entries.
NAV = [
    ("prompt", "Prompt", 1),
    ("examples", "Examples", 2),
    ("knowledge", "Knowledge", 3),
    ("finetune", "Fine-tune", 4),
    ("raft", "RAFT", 5),
    None,
    ("evaluate", "Evaluate", None),
    None,
    ("models", "Models", None),
    ("settings", "Settings", None),
]


class MainWindow(QMainWindow):
    model_loaded = Signal(object)  # the model name, once preloaded

    def __init__(self, engine: Engine):
        super().__init__()
        self.engine = engine
        self.setWindowTitle("Tailor")
        self.setMinimumSize(QSize(1100, 700))
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.state = AssistantState(engine, self)

        # Pages
        self.chat = ChatPanel(self.state)
        self.pages: dict[str, QWidget] = {
            "prompt": PromptPage(self.state),
            "examples": ExamplesPage(self.state),
            "knowledge": KnowledgePage(self.state),
            "finetune": FinetunePage(self.state),
            "raft": RaftPage(self.state),
            "evaluate": EvaluatePage(engine),
            "models": ModelsPage(engine),
            "settings": SettingsPage(engine),
        }
        self.stack = QStackedWidget()
        for page in self.pages.values():
            self.stack.addWidget(page)

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(190)
        self._nav_items: dict[str, QListWidgetItem] = {}
        header_item = QListWidgetItem("LADDER")
        header_item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.nav.addItem(header_item)
        for entry in NAV:
            if entry is None:
                sep = QListWidgetItem("")
                sep.setFlags(Qt.ItemFlag.NoItemFlags)
                sep.setSizeHint(QSize(10, 12))
                self.nav.addItem(sep)
                continue
            key, label, _rung = entry
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.nav.addItem(item)
            self._nav_items[key] = item
        self.nav.currentItemChanged.connect(self._nav_changed)

        # Header
        header = QWidget()
        header.setObjectName("header")
        h = QHBoxLayout(header)
        h.setContentsMargins(16, 10, 16, 10)
        brand = QLabel("Tailor")
        brand.setObjectName("brand")
        self.assistant_picker = QComboBox()
        self.assistant_picker.setObjectName("assistantPicker")
        self.assistant_picker.setMinimumWidth(220)
        self.assistant_picker.setToolTip("The assistant you are working on")
        self.version_picker = QComboBox()
        self.version_picker.setObjectName("versionPicker")
        self.version_picker.setToolTip("Open an earlier version (Save makes it current)")
        self.level_badge = QLabel()
        self.level_badge.setObjectName("levelBadge")
        self.header_model = QLabel()
        self.header_model.setObjectName("headerModel")
        self.header_model.setTextFormat(Qt.TextFormat.PlainText)  # a model's name is text
        new_assistant = QPushButton("New assistant…")
        h.addWidget(brand)
        h.addWidget(QLabel("Assistant"))
        h.addWidget(self.assistant_picker)
        h.addWidget(self.version_picker)
        h.addWidget(self.level_badge)
        h.addSpacing(12)
        h.addWidget(self.header_model)
        h.addStretch(1)
        h.addWidget(new_assistant)

        body = QWidget()
        b = QHBoxLayout(body)
        b.setContentsMargins(0, 0, 0, 0)
        b.setSpacing(0)
        b.addWidget(self.nav)
        b.addWidget(self.stack, 1)
        central = QWidget()
        c = QVBoxLayout(central)
        c.setContentsMargins(0, 0, 0, 0)
        c.setSpacing(0)
        c.addWidget(header)
        c.addWidget(body, 1)
        self.setCentralWidget(central)

        self.status_text = QLabel("Ready")
        self.model_status = QLabel()
        self.model_status.setTextFormat(Qt.TextFormat.PlainText)
        # "offline ✓" only while nothing remote is in use (see _show_network).
        self.network_status = QLabel("offline ✓")
        self.network_status.setObjectName("networkStatus")
        self.network_status.setTextFormat(Qt.TextFormat.PlainText)
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.model_status)
        # Shown while the local server (Settings) runs.
        self.server_status = QLabel()
        self.server_status.setObjectName("serverStatus")
        self.server_status.hide()
        self.statusBar().addPermanentWidget(self.server_status)
        self.awake_status = AwakeStatus(self.engine, self)  # while a training job runs
        self.statusBar().addPermanentWidget(self.awake_status)
        self.statusBar().addPermanentWidget(self.network_status)

        self._build_menus()

        # Wiring
        self.assistant_picker.activated.connect(
            lambda _i: self.state.select(self.assistant_picker.currentText())
        )
        self.version_picker.activated.connect(self._version_picked)
        new_assistant.clicked.connect(self.new_assistant)
        self.state.changed.connect(self._assistant_changed)
        self.chat.status.connect(self.status_text.setText)
        self.pages["knowledge"].status_message.connect(self.status_text.setText)
        self.pages["evaluate"].status_message.connect(self.status_text.setText)
        raft = self.pages["raft"]
        raft.status_message.connect(self.status_text.setText)
        raft.train_requested.connect(self._train_raft)
        raft.run_started.connect(self._run_comparison)
        self.pages["models"].models_changed.connect(self.pages["prompt"].refresh_models)
        self.pages["models"].remote_listed.connect(self.pages["prompt"].set_remote_models)
        self.pages["models"].models_changed.connect(self._show_network)
        self.pages["settings"].server_changed.connect(self._server_changed)
        self.pages["prompt"].history_button.clicked.connect(self.open_history)
        self.pages["prompt"].save_button.clicked.connect(self.save_version)

        self._fill_assistants(select=self._initial_assistant())
        self.pages["prompt"].refresh_models()
        self.nav.setCurrentItem(self._nav_items["prompt"])
        self._preload: Job | None = None

    # -- start-up ----------------------------------------------------------------------------

    def _initial_assistant(self) -> str:
        names = self.engine.list_assistants()
        last = self.engine.preference("last_assistant")
        return last if last in names else names[0]

    def preload_model(self) -> None:
        """Load the assistant's model in the background so the first reply is quick."""
        if self.state.draft is None:
            return
        name = self.state.draft.model
        adapter = self.state.draft.adapter
        engine = self.engine
        self.model_status.setText(f"Loading {name}…")

        dynamic = bool(self.state.draft.example_set and self.state.draft.few_shot_k)

        def loaded(_result) -> None:
            self.model_status.setText(f"{name} · ready")
            self.model_loaded.emit(name)
            if dynamic:  # dynamic few-shot needs the embedder too (torch: seconds to import)
                self._preload = Job(lambda _cancel: engine.preload_embedder(), self)
                self._preload.failed.connect(self._preload_failed)
                self._preload.start()

        self._preload = Job(lambda _cancel: engine.preload_model(name, adapter), self)
        self._preload.succeeded.connect(loaded)
        self._preload.failed.connect(self._preload_failed)
        self._preload.start()
        self.pages["knowledge"].start_watching()

    def _preload_failed(self, error: Exception) -> None:
        self.model_status.setText("Model failed to load")
        show_error(self, error)

    # -- menus -------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Import model…", "Ctrl+I", self.pages["models"].choose_file)
        self._action(file_menu, "New assistant…", "Ctrl+Shift+N", self.new_assistant)
        file_menu.addSeparator()
        self._action(file_menu, "Quit", QKeySequence.StandardKey.Quit, self.close)
        chat_menu = self.menuBar().addMenu("&Chat")
        self._action(chat_menu, "New chat", "Ctrl+N", self.chat.start_new_chat)
        self._action(chat_menu, "Stop generating\tEsc", None, self.chat.stop_generation)
        self._action(chat_menu, "Save version", "Ctrl+S", self.save_version)
        self._action(chat_menu, "History && diff…", "Ctrl+H", self.open_history)
        go = self.menuBar().addMenu("&Go")
        keys = [k for k in (e[0] for e in NAV if e)]
        for n, key in enumerate(keys, 1):
            label = self._nav_items[key].text()
            self._action(go, label, f"Ctrl+{n}", lambda k=key: self.show_page(k))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "About Tailor", None, self._about)

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Tailor",
            "<b>Tailor</b><br>Customise an open LLM with your own data, on your own machine. "
            "Nothing leaves the device.<br><br>Workspace: " + str(self.engine.home),
        )

    # -- navigation --------------------------------------------------------------------------

    def show_page(self, key: str) -> None:
        self.nav.setCurrentItem(self._nav_items[key])

    def _train_raft(self, dataset: str) -> None:
        self.show_page("finetune")
        self.pages["finetune"].select_dataset(dataset)

    def _run_comparison(self, run_id: int) -> None:
        self.show_page("evaluate")
        self.pages["evaluate"].start_existing(run_id)

    def current_page_key(self) -> str:
        item = self.nav.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else "prompt"

    def _nav_changed(self, item: QListWidgetItem | None, _previous) -> None:
        if item is None:
            return
        key = item.data(Qt.ItemDataRole.UserRole)
        page = self.pages[key]
        if isinstance(page, RungPage):
            page.adopt_chat(self.chat)
        if hasattr(page, "refresh"):
            page.refresh()
        self.stack.setCurrentWidget(page)

    # -- assistants --------------------------------------------------------------------------

    def _fill_assistants(self, select: str) -> None:
        self.assistant_picker.blockSignals(True)
        self.assistant_picker.clear()
        self.assistant_picker.addItems(self.engine.list_assistants())
        self.assistant_picker.setCurrentText(select)
        self.assistant_picker.blockSignals(False)
        self.state.select(select)

    def _assistant_changed(self) -> None:
        s = self.state
        if s.draft is None:
            return
        self.engine.set_preference("last_assistant", s.name)
        history = self.engine.assistant_history(s.name)
        self.version_picker.blockSignals(True)
        self.version_picker.clear()
        for v in history:
            self.version_picker.addItem(f"v{v.version}", v.version)
        self.version_picker.setCurrentIndex(0)
        self.version_picker.blockSignals(False)
        edited = " · edited" if s.dirty else ""
        self.level_badge.setText(f"{s.level_label} · {LEVEL_NAMES[s.level]}{edited}")
        self.header_model.setText(f"Model: {s.draft.model}")
        self._show_network()
        for key, label, rung in (e for e in NAV if e):
            if rung is not None:
                used = rung <= s.level
                self._nav_items[key].setText(f"{'●' if used else '○'}  {rung}  {label}")

    def _version_picked(self, index: int) -> None:
        version = self.version_picker.itemData(index)
        saved = self.state.saved
        if saved and version != saved.version:
            old = self.engine.get_assistant(self.state.name, version)
            # Load it as the draft: trying it costs nothing, Save makes it current.
            self.state.update(**old.config.model_dump())
            self.status_text.setText(
                f"Showing v{version}'s settings as unsaved edits; Save to make them current."
            )

    def save_version(self) -> None:
        if not self.state.dirty:
            self.status_text.setText("Nothing to save: no changes since the last version.")
            return
        note, ok = QInputDialog.getText(self, "Save version", "What does this version change?")
        if not ok:
            return
        try:
            v = self.state.save(note.strip())
        except TailorError as exc:
            show_error(self, exc)
            return
        self.status_text.setText(f"Saved {self.state.name} {v.label}.")

    def open_history(self) -> None:
        HistoryDialog(self.state, self).exec()

    def new_assistant(self) -> None:
        name, ok = QInputDialog.getText(self, "New assistant", "Name:")
        if not ok or not name.strip():
            return
        model = self.state.draft.model if self.state.draft else self.engine.list_models()[0].name
        try:
            self.engine.create_assistant(name.strip(), AssistantConfig(model=model))
        except TailorError as exc:
            show_error(self, exc)
            return
        self._fill_assistants(select=name.strip())

    # -- drag and drop -----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(self._droppable(Path(u.toLocalFile())) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            self.handle_drop(Path(url.toLocalFile()))
        event.acceptProposedAction()

    def _droppable(self, path: Path) -> bool:
        suffix = path.suffix.lower()
        page = self.current_page_key()
        return (
            suffix == ".gguf"
            or (suffix in (".jsonl", ".json", ".csv") and page in ("examples", "evaluate"))
            or (suffix in (".jsonl", ".json", ".csv", ".parquet") and page == "finetune")
            or (page == "knowledge" and path.exists())
            or path.is_dir()
        )

    def open_paths(self, paths: list[Path]) -> None:
        """Files opened with Tailor (from a file manager, or a second start of the app): the
        window comes to the front and takes each as if it were dropped on it."""
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()
        for path in paths:
            if path.exists():
                self.handle_drop(path)
            else:
                show_error(self, f"{path} no longer exists.")

    def handle_drop(self, path: Path) -> None:
        """A .gguf anywhere imports a model; a .jsonl/.csv on Examples imports examples, on
        Evaluate an evaluation set, on Fine-tune (or a .parquet) a dataset; a folder anywhere
        (or any file on Knowledge) goes into a knowledge base."""
        suffix = path.suffix.lower()
        if path.is_dir() or (self.current_page_key() == "knowledge" and suffix != ".gguf"):
            self.show_page("knowledge")
            page = self.pages["knowledge"]
            page.add_paths([path], page.editing.currentText() or None)
        elif suffix == ".gguf":
            self.show_page("models")
            self.pages["models"].import_path(path)
        elif suffix in (".jsonl", ".json", ".csv") and self.current_page_key() == "examples":
            self.pages["examples"].import_path(path)
        elif suffix in (".jsonl", ".json", ".csv") and self.current_page_key() == "evaluate":
            self.pages["evaluate"].import_path(path)
        elif suffix in (".jsonl", ".json", ".csv", ".parquet") and (
            self.current_page_key() == "finetune"
        ):
            self.pages["finetune"].import_path(path)
        else:
            show_error(self, f"Tailor does not know what to do with {path.name} here.")

    def _show_network(self) -> None:
        """Say whether the current assistant's prompts leave this machine, and to where."""
        host = self.engine.model_host(self.state.draft.model) if self.state.draft else None
        if host is None:
            self.network_status.setText("offline ✓")
            self.network_status.setToolTip("Nothing leaves this machine; everything runs here.")
        else:
            self.network_status.setText(f"online: {host}")
            self.network_status.setToolTip(
                f"This assistant's model runs on {host}: every prompt, with the passages and "
                "examples put into it, is sent there."
            )

    def _server_changed(self, url: str) -> None:
        self.server_status.setText(f"serving at {url}")
        self.server_status.setVisible(bool(url))

    def closeEvent(self, event) -> None:
        self.pages["settings"].stop_server()
        knowledge = self.pages["knowledge"]
        knowledge.stop_watching()
        jobs = (
            self.chat.job,
            knowledge.job,
            self.pages["evaluate"].job,
            self.pages["raft"].job,
            self.pages["finetune"].starting,  # not cancellable: let it hand over to the trainer
        )
        for job in jobs:
            if job is not None:
                # Indexing, evaluation runs and RAFT drafting resume where they stopped.
                job.cancel()
                job.wait(10)
        super().closeEvent(event)
