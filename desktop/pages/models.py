"""The model library: what each GGUF says about itself; import by dialog or drag and drop. Added
providers' models are listed too, marked remote, when asked for (that asks their servers)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.errors import show_error
from desktop.pages.base import button_row, page_header
from desktop.pages.provider_dialog import ProviderDialog
from desktop.worker import Job
from engine.api import Engine
from engine.errors import TailorError

COLUMNS = ["Name", "Architecture", "Parameters", "Quantisation", "Context", "Chat template", "Size"]


class ModelsPage(QWidget):
    models_changed = Signal()
    remote_listed = Signal(list)  # the providers' models, each time they are listed

    def __init__(self, engine: Engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self._job: Job | None = None
        self._remote_job: Job | None = None
        self._remote: list = []  # the providers' models, as last listed
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addWidget(
            page_header(
                "Models",
                "Quantised GGUF models run on this machine by llama.cpp. Import one with the "
                "button, or drop a .gguf file anywhere on the window.",
            )
        )
        self.import_button = QPushButton("Import GGUF…")
        self.import_button.setObjectName("importModel")
        self.import_button.setToolTip("Import a model file (Ctrl+I)")
        self.remove_button = QPushButton("Remove")
        self.remote_button = QPushButton("List remote models")
        self.remote_button.setObjectName("listRemoteModels")
        self.remote_button.setToolTip(
            "Ask each added provider's server which models it offers (this contacts them)"
        )
        self.add_provider_button = QPushButton("Add provider…")
        self.add_provider_button.setObjectName("addProvider")
        self.add_provider_button.setToolTip("Add an OpenAI-compatible server whose models to use")
        self.remove_provider_button = QPushButton("Remove provider")
        self.remove_provider_button.setObjectName("removeProvider")
        self.remove_provider_button.setToolTip(
            "Forget the selected remote model's provider and delete its key from the keyring"
        )
        self.remove_provider_button.setEnabled(False)
        self._provider_job: Job | None = None
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it shows file and model names
        layout.addLayout(
            button_row(
                self.import_button,
                self.remove_button,
                self.remote_button,
                self.add_provider_button,
                self.remove_provider_button,
                (self.status, 1),
            )
        )
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("modelsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        layout.addWidget(self.table, 1)
        self.details = QLabel()
        self.details.setObjectName("modelDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.details)

        self.import_button.clicked.connect(self.choose_file)
        self.remove_button.clicked.connect(self._remove)
        self.remote_button.clicked.connect(self.list_remote)
        self.add_provider_button.clicked.connect(self.choose_provider)
        self.remove_provider_button.clicked.connect(self.remove_provider)
        self.table.itemSelectionChanged.connect(self._show_details)
        self.refresh()

    def refresh(self) -> None:
        models = self.engine.list_models()
        self.remote_button.setEnabled(
            bool(self.engine.list_providers()) and self._remote_job is None
        )
        self.table.setRowCount(len(models) + len(self._remote))
        for row, m in enumerate(models):
            i = m.info
            cells = [
                m.name + ("  (bundled)" if m.bundled else ""),
                i.architecture,
                i.parameters_label,
                i.quantization,
                f"{i.context_length:,}",
                "yes" if i.has_chat_template else "no (ChatML)",
                f"{i.file_size / 1e6:,.0f} MB",
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, m.name)
                self.table.setItem(row, col, item)
        for row, r in enumerate(self._remote, len(models)):
            cells = [f"{r.name}  (remote)", "remote", "", "", "", "", f"on {r.host}"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, r.name)
                item.setData(Qt.ItemDataRole.UserRole + 1, r.host)
                item.setData(Qt.ItemDataRole.UserRole + 2, r.provider)
                self.table.setItem(row, col, item)
        if models and not self.table.selectedItems():
            self.table.selectRow(0)
        self._show_details()

    def _selected(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _show_details(self) -> None:
        name = self._selected()
        self.remove_provider_button.setEnabled(
            self._selected_provider() is not None and self._provider_job is None
        )
        if not name:
            self.details.setText("")
            self.remove_button.setEnabled(False)
            return
        host = self.table.selectedItems()[0].data(Qt.ItemDataRole.UserRole + 1)
        if host:
            self.remove_button.setEnabled(False)
            self.details.setText(
                f"<b>{html.escape(name)}</b> — a remote model: it runs on "
                f"{html.escape(host)}, and every prompt it answers (with the passages and "
                "examples put into it) is sent there."
            )
            return
        m = self.engine.get_model(name)
        self.remove_button.setEnabled(not m.bundled)
        # The name comes from the file's own metadata: text, never markup (a GGUF's
        # general.name could otherwise pull an image or a link into the window).
        self.details.setText(
            f"<b>{html.escape(m.info.name)}</b> — {m.info.parameters:,} parameters, "
            f"{m.info.n_layers} layers<br>File: {html.escape(str(m.path))}"
        )

    def list_remote(self) -> None:
        """List every provider's models in the background (this contacts their servers)."""
        if self._remote_job is not None:
            return
        providers = self.engine.list_providers()
        hosts = ", ".join(sorted({p.host for p in providers}))
        self.status.setText(f"Asking {hosts}…")
        self.remote_button.setEnabled(False)
        engine = self.engine

        def ask(_cancel):
            found, problems = [], []
            for p in providers:
                try:
                    found += engine.provider_models(p.name)
                except TailorError as exc:
                    problems.append(str(exc))
            return found, problems

        self._remote_job = Job(ask, self)
        self._remote_job.succeeded.connect(self._remote_listed)
        self._remote_job.failed.connect(lambda e: show_error(self, e, "Remote models"))
        self._remote_job.finished.connect(self._remote_done)
        self._remote_job.start()

    def _remote_listed(self, result) -> None:
        self._remote, problems = result
        self.status.setText(
            " ".join(problems)
            or f"{len(self._remote)} remote model(s) listed; choose one for an assistant on the "
            "Prompt page."
        )
        self.remote_listed.emit(self._remote)

    def _remote_done(self) -> None:
        self._remote_job = None
        self.refresh()

    # -- providers ---------------------------------------------------------------------------

    def _selected_provider(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole + 2) if items else None

    def choose_provider(self) -> None:
        dialog = ProviderDialog(self)
        if dialog.exec() == ProviderDialog.DialogCode.Accepted:
            self.add_provider(*dialog.values())

    def add_provider(
        self, name: str, base_url: str, api_key: str | None = None, settings: dict | None = None
    ) -> None:
        """Add a provider in the background; its key goes only to the engine (the OS
        keyring). A refusal — no keyring on this system, say — shows the default dialog."""
        engine = self.engine
        self._run_provider_job(
            lambda _cancel: engine.add_provider(name, base_url, api_key, **(settings or {})),
            "Add provider",
            lambda p: self.status.setText(
                f"Added {p.name} ({p.host}). List remote models to see what it offers."
            ),
        )

    def remove_provider(self) -> None:
        name = self._selected_provider()
        if name is None:
            return
        engine = self.engine

        def removed(_result) -> None:
            self._remote = [r for r in self._remote if r.provider != name]
            self.remote_listed.emit(self._remote)
            self.status.setText(f"Removed {name} and its key.")

        self._run_provider_job(
            lambda _cancel: engine.remove_provider(name), "Remove provider", removed
        )

    def _run_provider_job(self, work, title: str, succeeded) -> None:
        if self._provider_job is not None:
            return
        self.add_provider_button.setEnabled(False)
        self.remove_provider_button.setEnabled(False)
        self._provider_job = Job(work, self, error_title=title)
        self._provider_job.succeeded.connect(succeeded)
        self._provider_job.finished.connect(self._provider_done)
        self._provider_job.start()

    def _provider_done(self) -> None:
        self._provider_job = None
        self.add_provider_button.setEnabled(True)
        self.refresh()
        self.models_changed.emit()

    # -- import --------------------------------------------------------------------------------

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import model", "", "GGUF models (*.gguf)")
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path) -> None:
        """Validate and copy a GGUF in the background (large files take a while)."""
        if self._job is not None:
            show_error(self, "An import is already running; wait for it to finish.")
            return
        self.status.setText(f"Importing {path.name}…")
        self.import_button.setEnabled(False)
        engine = self.engine
        self._job = Job(lambda _cancel: engine.import_model(path), self)
        self._job.succeeded.connect(lambda m: self.status.setText(f"Imported {m.name}."))
        self._job.failed.connect(self._import_failed)
        self._job.finished.connect(self._import_done)
        self._job.start()

    def _import_failed(self, error: Exception) -> None:
        self.status.setText("Import failed.")
        show_error(self, error, "Import model")

    def _import_done(self) -> None:
        self._job = None
        self.import_button.setEnabled(True)
        self.refresh()
        self.models_changed.emit()

    def _remove(self) -> None:
        name = self._selected()
        if name:
            try:
                self.engine.remove_model(name)
            except Exception as exc:
                show_error(self, exc)
            self.refresh()
            self.models_changed.emit()
