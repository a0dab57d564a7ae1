"""Level 3: knowledge bases built from dropped folders, indexed in the background, followed
while the app runs, and attached to the assistant beside the chat."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.pages.base import RungPage, create_named, fill_combo
from desktop.state import AssistantState
from desktop.worker import Job
from engine.errors import TailorError
from engine.knowledge.indexing import IndexProgress


class KnowledgePage(RungPage):
    status_message = Signal(str)
    changed_on_disk = Signal(str)  # from the watcher's thread; handled on the Qt thread

    def __init__(self, state: AssistantState, parent=None):
        super().__init__(
            "3 · Knowledge",
            "Answer from your own documents: drop a folder, Tailor indexes it on this machine, "
            "and replies cite the passages they used. For private, recent or changing documents; "
            "costs an index and some embedding time.",
            parent,
        )
        self.state = state
        self.engine = state.engine
        self.job: Job | None = None
        self.job_kb = ""
        self.queue: list[str] = []
        self.watcher = None

        use = QGroupBox("This assistant")
        u = QVBoxLayout(use)
        row = QHBoxLayout()
        self.attach = QCheckBox("Answer from")
        self.attach.setObjectName("attachKnowledge")
        self.kb_picker = QComboBox()
        row.addWidget(self.attach)
        row.addWidget(self.kb_picker, 1)
        u.addLayout(row)
        krow = QHBoxLayout()
        krow.addWidget(QLabel("Passages per question"))
        self.k = QSpinBox()
        self.k.setRange(1, 50)
        krow.addWidget(self.k)
        krow.addStretch(1)
        u.addLayout(krow)
        u.addLayout(self.save_row("Knowledge base changed"))
        self.config_layout.addWidget(use)

        bases = QGroupBox("Knowledge bases")
        b = QVBoxLayout(bases)
        top = QHBoxLayout()
        top.addWidget(QLabel("Showing"))
        self.editing = QComboBox()
        self.editing.setObjectName("editingKb")
        top.addWidget(self.editing, 1)
        b.addLayout(top)
        actions = QHBoxLayout()
        self.new_kb = QPushButton("New…")
        self.add_folder = QPushButton("Add folder…")
        self.reindex = QPushButton("Re-index")
        self.delete_kb = QPushButton("Delete")
        for w in (self.new_kb, self.add_folder, self.reindex, self.delete_kb):
            actions.addWidget(w)
        actions.addStretch(1)
        b.addLayout(actions)
        self.summary = QLabel()
        self.summary.setObjectName("kbSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        b.addWidget(self.summary)
        self.drop_hint = QLabel(
            "Drop a folder (or files) here to build a knowledge base.\n"
            "Text, Markdown, HTML, PDF, Word, CSV, JSON and source code are indexed; "
            "the folder is followed while Tailor runs."
        )
        self.drop_hint.setObjectName("dropZone")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setWordWrap(True)
        self.drop_hint.setMinimumHeight(90)
        b.addWidget(self.drop_hint)
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("indexProgress")
        self.cancel = QPushButton("Cancel")
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel)
        b.addLayout(prow)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("hint")
        b.addWidget(self.progress_label)
        self.failures = QTreeWidget()
        self.failures.setObjectName("failedFiles")
        self.failures.setHeaderLabels(["Not indexed", "Reason"])
        self.failures.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.failures.setRootIsDecorated(False)
        self.failures.setMinimumHeight(110)
        b.addWidget(self.failures, 1)
        settings = QFormLayout()
        self.chunk_tokens = QSpinBox()
        self.chunk_tokens.setRange(32, 2048)
        self.chunk_tokens.setSuffix(" tokens")
        self.overlap = QSpinBox()
        self.overlap.setRange(0, 512)
        self.overlap.setSuffix(" tokens")
        self.apply_settings = QPushButton("Apply and rebuild")
        self.apply_settings.setToolTip(
            "Builds a new index beside the current one; the current one keeps answering."
        )
        srow2 = QHBoxLayout()
        srow2.addWidget(self.chunk_tokens)
        srow2.addWidget(QLabel("overlap"))
        srow2.addWidget(self.overlap)
        srow2.addWidget(self.apply_settings)
        settings.addRow("Chunks of", srow2)
        b.addLayout(settings)
        self.config_layout.addWidget(bases, 1)
        self._set_running(False)

        self.attach.toggled.connect(lambda _c: self._usage_changed())
        self.kb_picker.activated.connect(lambda _i: self._usage_changed())
        self.k.valueChanged.connect(lambda _v: self._usage_changed())
        self.editing.currentIndexChanged.connect(lambda _i: self.show_status())
        self.new_kb.clicked.connect(self._new_kb)
        self.add_folder.clicked.connect(self._choose_folder)
        self.reindex.clicked.connect(lambda: self.start_indexing(self.editing.currentText()))
        self.delete_kb.clicked.connect(self._delete)
        self.cancel.clicked.connect(self.cancel_indexing)
        self.apply_settings.clicked.connect(self._apply_settings)
        self.changed_on_disk.connect(self.start_indexing)
        state.changed.connect(self.refresh)

    # -- watching ----------------------------------------------------------------------------

    def start_watching(self) -> None:
        """Follow every knowledge base's folders while the window is open."""
        from engine.knowledge.watch import FolderWatcher

        if self.watcher is None:
            # Nothing in the workspace counts as a change: a folder that contains it would
            # otherwise re-index after each write of the index itself.
            self.watcher = FolderWatcher(
                self.changed_on_disk.emit, workspace=self.engine.workspace.home
            )
        for name in self.engine.knowledge.names():
            self._watch(name)

    def _watch(self, name: str) -> None:
        for folder, why in self.watcher.watch(name, self.engine.knowledge.roots(name)):
            self.status_message.emit(f"{folder} is not followed: {why}")

    def stop_watching(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    # -- the assistant's use -----------------------------------------------------------------

    def refresh(self) -> None:
        names = self.engine.knowledge.names()
        d = self.state.draft
        for w in (self.attach, self.kb_picker, self.k):
            w.blockSignals(True)
        self.kb_picker.clear()
        self.kb_picker.addItems(names)
        if d is not None:
            self.attach.setChecked(bool(d.knowledge_base))
            if d.knowledge_base:
                self.kb_picker.setCurrentText(d.knowledge_base)
            self.k.setValue(d.retrieval_k)
        self.attach.setEnabled(bool(names))
        self.kb_picker.setEnabled(bool(names) and self.attach.isChecked())
        for w in (self.attach, self.kb_picker, self.k):
            w.blockSignals(False)
        self.show_dirty()
        fill_combo(self.editing, names)
        self.show_status()

    def _usage_changed(self) -> None:
        on = self.attach.isChecked() and bool(self.kb_picker.currentText())
        self.kb_picker.setEnabled(self.attach.isChecked())
        self.state.update(
            knowledge_base=self.kb_picker.currentText() if on else None, retrieval_k=self.k.value()
        )

    # -- knowledge bases ---------------------------------------------------------------------

    def show_status(self) -> None:
        name = self.editing.currentText()
        has = bool(name)
        for w in (self.add_folder, self.reindex, self.delete_kb, self.apply_settings):
            w.setEnabled(has and self.job is None)
        self.failures.clear()
        if not has:
            self.summary.setText("No knowledge bases yet.")
            return
        s = self.engine.knowledge.status(name)
        missing = dict(s.unavailable)
        folders = (
            "<br>".join(
                f"• {html.escape(r)}"
                + (
                    f" — <b>unavailable</b>: {html.escape(missing[r])}; its files stay indexed "
                    "until it is back"
                    if r in missing
                    else ""
                )
                for r in s.roots
            )
            or "no folders yet"
        )
        extra = " · rebuilding with new settings" if s.building else ""
        if s.indexing and self.job is None:
            extra += " · being indexed by another Tailor process"
        self.summary.setText(
            f"<b>{html.escape(name)}</b>: {s.files:,} files, {s.chunks:,} chunks{extra}"
            f"<br>{folders}"
        )
        for path, reason in s.skipped + s.failed:
            item = QTreeWidgetItem(self.failures, [Path(path).name, reason])
            item.setToolTip(0, path)
            item.setToolTip(1, reason)
        self.chunk_tokens.setValue(s.config.chunk_tokens)
        self.overlap.setValue(s.config.chunk_overlap)

    def _new_kb(self) -> None:
        if name := create_named(self, "New knowledge base", self.engine.knowledge.create):
            self.refresh()
            self.editing.setCurrentText(name)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to the knowledge base")
        if folder:
            self.add_paths([Path(folder)], self.editing.currentText() or None)

    def add_paths(self, paths: list[Path], kb: str | None = None) -> None:
        """Add dropped or chosen folders/files; a new knowledge base is named after the first."""
        if not kb:
            kb = paths[0].name if paths[0].is_dir() else paths[0].parent.name
            base, n = kb or "Documents", 2
            while kb in self.engine.knowledge.names():
                kb, n = f"{base} {n}", n + 1
            self.engine.knowledge.create(kb)
        try:
            self.engine.knowledge.add_roots(kb, paths)
        except TailorError as exc:
            show_error(self, exc)
            return
        self.refresh()
        self.editing.setCurrentText(kb)
        if self.watcher is not None:
            self._watch(kb)
        self.start_indexing(kb)

    def _apply_settings(self) -> None:
        name = self.editing.currentText()
        try:
            self.engine.knowledge.configure(
                name, chunk_tokens=self.chunk_tokens.value(), chunk_overlap=self.overlap.value()
            )
        except TailorError as exc:
            show_error(self, exc)
            return
        self.start_indexing(name)

    def _delete(self) -> None:
        name = self.editing.currentText()
        answer = QMessageBox.question(
            self, "Delete knowledge base", f"Delete '{name}' and its index? Your files stay."
        )
        if answer == QMessageBox.StandardButton.Yes:
            if self.watcher is not None:
                self.watcher.unwatch(name)
            self.engine.knowledge.delete(name)
            if self.state.draft and self.state.draft.knowledge_base == name:
                self.state.update(knowledge_base=None)
            self.refresh()

    # -- indexing ----------------------------------------------------------------------------

    def start_indexing(self, name: str) -> None:
        if not name:
            return
        if self.job is not None:
            if name not in self.queue and name != self.job_kb:
                self.queue.append(name)
            return
        engine = self.engine
        self.job_kb = name
        self.job = Job(lambda cancel: engine.knowledge.index(name, cancel), self, "Indexing")
        self.job.event.connect(self._on_progress)
        self.job.finished.connect(self._on_finished)
        self._set_running(True)
        self.progress.setRange(0, 0)
        self.progress_label.setText(f"Scanning {name}…")
        self.job.start()

    def cancel_indexing(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.queue.clear()

    def _on_progress(self, p: IndexProgress) -> None:
        if p.phase == "indexing":
            self.progress.setRange(0, max(p.files_total, 1))
            self.progress.setValue(p.files_done)
            eta = f" · about {p.eta_s:.0f} s left" if p.eta_s else ""
            text = (
                f"Indexing “{self.job_kb}”: {p.files_done:,}/{p.files_total:,} files · "
                f"{p.chunks:,} chunks · {p.chunks_per_s:.0f} chunks/s{eta}"
            )
        elif p.phase == "finishing":
            self.progress.setRange(0, 0)
            text = f"Finishing “{self.job_kb}”: building the search index…"
        elif p.phase == "done":
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            text = (
                f"“{self.job_kb}” is up to date: {p.files_done:,} file(s) indexed, "
                f"{p.unchanged:,} unchanged, {p.removed:,} removed, {len(p.failed)} not indexed."
            )
            if p.unavailable:
                roots = ", ".join(root for root, _why in p.unavailable)
                text += f" Unavailable, kept as indexed: {roots}."
        elif p.phase == "waiting":
            self.progress.setRange(0, 0)
            text = (
                f"“{self.job_kb}” is being indexed by another Tailor process; "
                "waiting for it to finish…"
            )
        elif p.phase == "cancelled":
            text = f"Cancelled. {p.files_done:,} file(s) were indexed; Re-index resumes."
        else:
            text = f"Scanning “{self.job_kb}”…"
        self.progress_label.setText(text)
        self.status_message.emit(text)

    def _on_finished(self) -> None:
        self.job = None
        self._set_running(False)
        self.refresh()
        if self.queue:
            self.start_indexing(self.queue.pop(0))

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running or self.progress.value() > 0)
        self.cancel.setVisible(running)
        for w in (self.add_folder, self.reindex, self.delete_kb, self.apply_settings, self.new_kb):
            w.setEnabled(not running)
