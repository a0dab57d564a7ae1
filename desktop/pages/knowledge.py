"""Level 3: knowledge bases built from dropped folders, indexed in the background, followed
while the app runs, and attached to the assistant beside the chat."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.pages.base import RungPage, button_row, create_named, fill_combo
from desktop.state import AssistantState
from desktop.worker import Job
from engine.api import Progress
from engine.errors import TailorError
from engine.types import IndexStats, KnowledgeConfig, KnowledgeStatus


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
        # Each knowledge base's folder watcher while the window follows folders, and the
        # number of the latest request to set one up (an older one arriving later is dropped).
        self.watches: dict[str, object] = {}
        self.watch_requests: dict[str, int] = {}
        self.watch_count = 0
        self.watching = False
        self.status_job: Job | None = None

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
        self.new_kb = QPushButton("New…")
        self.add_folder = QPushButton("Add folder…")
        self.reindex = QPushButton("Re-index")
        self.delete_kb = QPushButton("Delete")
        b.addLayout(button_row(self.new_kb, self.add_folder, self.reindex, self.delete_kb, None))
        self.summary = QLabel()
        self.summary.setObjectName("kbSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        b.addWidget(self.summary)
        self.drop_hint = QLabel(
            "Drop a folder (or files) here to build a knowledge base.\n"
            "Documents, slides, spreadsheets, e-mail, e-books, code and any other text are "
            "indexed, scans and images by OCR;\nthe folder is followed while Tailor runs."
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
        settings.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
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
        srow2.addStretch(1)
        settings.addRow("Chunks of", srow2)
        srow3 = QHBoxLayout()
        srow3.addWidget(self.apply_settings)
        srow3.addStretch(1)
        settings.addRow("", srow3)
        self.ocr_pages = QSpinBox()
        self.ocr_pages.setObjectName("ocrPages")
        self.ocr_pages.setRange(0, 10_000)
        self.ocr_pages.setSuffix(" pages per file")
        self.ocr_pages.setSpecialValueText("off")
        self.ocr_pages.setMaximumWidth(220)
        self.ocr_pages.setToolTip(
            "Scanned pages and images are read by OCR on this computer, a few seconds a page. "
            "Applies to files indexed from now on."
        )
        settings.addRow("OCR up to", self.ocr_pages)
        b.addLayout(settings)
        self.answer_box = self._answer_context()
        b.addWidget(self.answer_box)
        self._show_config(KnowledgeConfig())  # a new knowledge base's, until one is chosen
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

    def _answer_context(self) -> QGroupBox:
        """The shown knowledge base's answer-context settings: what of the retrieved passages
        goes into the prompt, and how. Saved as soon as they change; no re-index."""
        box = QGroupBox("Answer context")
        box.setObjectName("answerContext")
        box.setToolTip(
            "What of the retrieved passages goes into the model's prompt. Applies to the next "
            "question; the index stays as it is."
        )
        form = QFormLayout(box)
        # A narrow pane puts a field under its label rather than clip it.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.context_kind = QComboBox()
        self.context_kind.setObjectName("contextKind")
        self.context_kind.addItem("Best sentences", "sentences")
        self.context_kind.addItem("Whole passages", "chunks")
        self.context_kind.setToolTip(
            "Best sentences: the sentences of the retrieved passages closest to the question "
            "(shorter prompt, faster answers). Whole passages: the retrieved chunks as they are."
        )
        self.context_tokens = QSpinBox()
        self.context_tokens.setObjectName("contextTokens")
        self.context_tokens.setRange(16, 8192)
        self.context_tokens.setSingleStep(20)
        self.context_tokens.setSuffix(" tokens")
        self.context_tokens.setToolTip("The most tokens of sentences put in the prompt.")
        row = QHBoxLayout()
        row.addWidget(self.context_kind)
        row.addWidget(QLabel("up to"))
        row.addWidget(self.context_tokens)
        row.addStretch(1)
        form.addRow("Passages", row)
        self.context_neighbours = QSpinBox()
        self.context_neighbours.setObjectName("contextNeighbours")
        self.context_neighbours.setRange(0, 5)
        self.context_neighbours.setSpecialValueText("no neighbours")
        self.context_neighbours.setSuffix(" either side")
        self.context_neighbours.setToolTip(
            "Sentences kept around each chosen one (a pronoun's referent, the rest of a list)."
        )
        self.lexical_weight = QDoubleSpinBox()
        self.lexical_weight.setObjectName("lexicalWeight")
        self.lexical_weight.setRange(0.0, 5.0)
        self.lexical_weight.setSingleStep(0.1)
        self.lexical_weight.setDecimals(1)
        self.lexical_weight.setToolTip(
            "How much shared words count beside meaning when sentences are chosen (BM25 "
            "weight; 0: meaning only)."
        )
        self.context_paragraph = QCheckBox("its paragraph")
        self.context_paragraph.setObjectName("contextParagraph")
        self.context_paragraph.setToolTip(
            "Each chosen sentence comes with as much of its paragraph as the tokens allow."
        )
        row = QHBoxLayout()
        row.addWidget(self.context_neighbours)
        row.addWidget(self.context_paragraph)
        row.addStretch(1)
        form.addRow("Each sentence with", row)
        self.prompt_style = QComboBox()
        self.prompt_style.setObjectName("promptStyle")
        self.prompt_style.addItem("Plain: the question around the passages", "plain")
        self.prompt_style.addItem("Compact: numbered sources, then the question", "compact")
        self.prompt_style.addItem("Cite-your-sources instructions", "sources")
        # Narrower than its longest item when the pane is: the page never clips sideways.
        self.prompt_style.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.prompt_style.setMinimumContentsLength(16)
        row = QHBoxLayout()
        row.addWidget(self.lexical_weight)
        row.addStretch(1)
        form.addRow("Word match", row)
        form.addRow("Prompt layout", self.prompt_style)
        self.reply_start = QLineEdit()
        self.reply_start.setObjectName("replyStart")
        self.reply_start.setMaxLength(200)
        self.reply_start.setPlaceholderText("(the model starts its reply itself)")
        self.reply_start.setToolTip(
            "Answers from this knowledge base begin with these words and the model continues "
            "them: a small model then answers from the passages far more often. Local models "
            "only."
        )
        form.addRow("Replies begin with", self.reply_start)
        self.reply_start.editingFinished.connect(self._save_context)
        self._showing_config = False
        for combo in (self.context_kind, self.prompt_style):
            combo.currentIndexChanged.connect(lambda _i: self._save_context())
        for spin in (self.context_tokens, self.context_neighbours, self.lexical_weight):
            spin.valueChanged.connect(lambda _v: self._save_context())
        self.context_paragraph.toggled.connect(lambda _c: self._save_context())
        return box

    def _context_settings(self) -> dict:
        return {
            "context": self.context_kind.currentData(),
            "context_tokens": self.context_tokens.value(),
            "context_neighbours": self.context_neighbours.value(),
            "context_paragraph": self.context_paragraph.isChecked(),
            "lexical_weight": round(self.lexical_weight.value(), 2),
            "prompt_style": self.prompt_style.currentData(),
            "reply_start": self.reply_start.text().strip(),
        }

    def _save_context(self) -> None:
        sentences = self.context_kind.currentData() == "sentences"
        for w in (
            self.context_tokens,
            self.context_neighbours,
            self.context_paragraph,
            self.lexical_weight,
        ):
            w.setEnabled(sentences)
        name = self.editing.currentText()
        if self._showing_config or not name:
            return
        try:
            self.engine.configure_knowledge_base(name, **self._context_settings())
        except TailorError as exc:
            show_error(self, exc)
            return
        self.status_message.emit(f"Answer context of “{name}” saved: applies to the next question.")

    # -- watching ----------------------------------------------------------------------------

    def start_watching(self) -> None:
        """Follow every knowledge base's folders while the window is open."""
        self.watching = True
        self._watch(self.engine.list_knowledge_bases())

    def _watch(self, names: list[str]) -> None:
        """Follow the folders of ``names`` (again, after a folder was added), off the Qt
        thread: setting a watch up walks the folder's tree."""
        if not self.watching or not names:
            return
        engine, emit = self.engine, self.changed_on_disk.emit
        self.watch_count += 1
        number = self.watch_count
        self.watch_requests.update(dict.fromkeys(names, number))
        old = [self.watches.pop(name) for name in names if name in self.watches]

        def work(_cancel):
            for watch in old:
                watch.stop()
            return [(name, engine.watch(name, emit)) for name in names]

        job = Job(work, self, "Following folders")
        job.succeeded.connect(lambda watches: self._watching(watches, number))
        job.start()

    def _watching(self, watches: list, number: int) -> None:
        for name, watch in watches:
            if not self.watching or self.watch_requests.get(name) != number:
                watch.stop()  # stopped, deleted or set up again since
                continue
            self.watches[name] = watch
            for folder, why in watch.problems:
                self.status_message.emit(f"{folder} is not followed: {why}")

    def stop_watching(self) -> None:
        self.watching = False
        for watch in self.watches.values():
            watch.stop()
        self.watches.clear()

    # -- the assistant's use -----------------------------------------------------------------

    def refresh(self) -> None:
        names = self.engine.list_knowledge_bases()
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
        """Show the chosen knowledge base's folders, counts and failures; the status is read
        off the Qt thread (it looks at every folder, some perhaps on a slow drive)."""
        name = self.editing.currentText()
        has = bool(name)
        for w in (self.add_folder, self.reindex, self.delete_kb, self.apply_settings):
            w.setEnabled(has and self.job is None)
        self.answer_box.setEnabled(has)
        if not has:
            self.status_job = None
            self.failures.clear()
            self.summary.setText("No knowledge bases yet.")
            return
        engine = self.engine
        job = Job(lambda _cancel: engine.knowledge_base_status(name), self, "Knowledge base")
        self.status_job = job
        # Only the latest answer counts: the choice may have changed while it was read.
        job.succeeded.connect(lambda s: job is self.status_job and self._show_status(s))
        job.failed.connect(lambda exc: job is self.status_job and show_error(self, exc))
        job.start()

    def _show_status(self, s: KnowledgeStatus) -> None:
        self.failures.clear()
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
            f"<b>{html.escape(s.name)}</b>: {s.files:,} files, {s.chunks:,} chunks{extra}"
            f"<br>{folders}"
        )
        for path, reason in s.skipped + s.failed:
            item = QTreeWidgetItem(self.failures, [Path(path).name, reason])
            item.setToolTip(0, path)
            item.setToolTip(1, reason)
        self._show_config(s.config)

    def _show_config(self, config: KnowledgeConfig) -> None:
        self.chunk_tokens.setValue(config.chunk_tokens)
        self.overlap.setValue(config.chunk_overlap)
        self.ocr_pages.setValue(config.ocr_max_pages)
        self._showing_config = True  # showing what is saved saves nothing
        try:
            self.context_kind.setCurrentIndex(self.context_kind.findData(config.context))
            self.context_tokens.setValue(config.context_tokens)
            self.context_neighbours.setValue(config.context_neighbours)
            self.context_paragraph.setChecked(config.context_paragraph)
            self.lexical_weight.setValue(config.lexical_weight)
            self.prompt_style.setCurrentIndex(self.prompt_style.findData(config.prompt_style))
            self.reply_start.setText(config.reply_start)
            self._save_context()
        finally:
            self._showing_config = False

    def _new_kb(self) -> None:
        if name := create_named(self, "New knowledge base", self.engine.create_knowledge_base):
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
            while kb in self.engine.list_knowledge_bases():
                kb, n = f"{base} {n}", n + 1
            self.engine.create_knowledge_base(kb)
        try:
            self.engine.add_folders(kb, paths)
        except TailorError as exc:
            show_error(self, exc)
            return
        self.refresh()
        self.editing.setCurrentText(kb)
        self._watch([kb])
        self.start_indexing(kb)

    def _apply_settings(self) -> None:
        name = self.editing.currentText()
        try:
            self.engine.configure_knowledge_base(
                name,
                chunk_tokens=self.chunk_tokens.value(),
                chunk_overlap=self.overlap.value(),
                ocr_max_pages=self.ocr_pages.value(),
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
        if answer != QMessageBox.StandardButton.Yes:
            return
        engine, watch = self.engine, self.watches.pop(name, None)
        self.watch_requests.pop(name, None)

        def work(_cancel):
            if watch is not None:
                watch.stop()
            engine.delete_knowledge_base(name)

        job = Job(work, self, "Delete knowledge base")
        job.succeeded.connect(lambda _result: self._deleted(name))
        job.failed.connect(lambda exc: self._not_deleted(name, exc))
        self.delete_kb.setEnabled(False)
        job.start()

    def _deleted(self, name: str) -> None:
        if self.state.draft and self.state.draft.knowledge_base == name:
            self.state.update(knowledge_base=None)
        self.refresh()

    def _not_deleted(self, name: str, error: BaseException) -> None:
        """Refused (another process is indexing it): it is still there, and followed again."""
        show_error(self, error, "Delete knowledge base")
        self._watch([name])
        self.show_status()

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
        self.job = Job(lambda cancel: engine.index(name, cancel=cancel), self, "Indexing")
        self.job.event.connect(self._on_progress)
        self.job.succeeded.connect(self._on_indexed)
        self.job.cancelled.connect(self._on_cancelled)
        self.job.finished.connect(self._on_finished)
        self._set_running(True)
        self.progress.setRange(0, 0)
        self.progress_label.setText(f"Scanning {name}…")
        self.job.start()

    def cancel_indexing(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.queue.clear()

    def _say(self, text: str) -> None:
        self.progress_label.setText(text)
        self.status_message.emit(text.partition("\n")[0])  # the status bar has one line

    def _on_progress(self, p: Progress) -> None:
        if p.phase == "indexing":
            self.progress.setRange(0, max(p.total, 1))
            self.progress.setValue(p.done)
            eta = f" · about {p.eta_s:.0f} s left" if p.eta_s else ""
            now = f"\n{p.label}" if p.label else ""  # the file just read, or the page OCR reads
            text = (
                f"Indexing “{self.job_kb}”: {p.done:,}/{p.total:,} files · "
                f"{p.detail.chunks:,} chunks · {p.detail.chunks_per_s:.0f} chunks/s{eta}{now}"
            )
        elif p.phase == "finishing":
            self.progress.setRange(0, 0)
            text = f"Finishing “{self.job_kb}”: building the search index…"
        elif p.phase == "waiting":
            self.progress.setRange(0, 0)
            text = (
                f"“{self.job_kb}” is being indexed by another Tailor process; "
                "waiting for it to finish…"
            )
        else:
            text = f"Scanning “{self.job_kb}”…"
        self._say(text)

    def _on_indexed(self, stats: IndexStats) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        text = (
            f"“{self.job_kb}” is up to date: {stats.files_done:,} file(s) indexed, "
            f"{stats.unchanged:,} unchanged, {stats.removed:,} removed, "
            f"{len(stats.failed)} not indexed."
        )
        if stats.unavailable:
            roots = ", ".join(root for root, _why in stats.unavailable)
            text += f" Unavailable, kept as indexed: {roots}."
        self._say(text)

    def _on_cancelled(self, stats: IndexStats | None) -> None:
        done = stats.files_done if stats is not None else 0
        self._say(f"Cancelled. {done:,} file(s) were indexed; Re-index resumes.")

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
