"""Level 5: RAFT — training data built from a knowledge base (questions, the right passage among
distractors, quoted reasoning), trained on the Fine-tune page, served with the knowledge base,
and compared with Levels 3 and 4 on the held-out questions."""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
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
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.pages.base import RungPage, fill_combo
from desktop.state import AssistantState
from desktop.worker import Job
from engine import bundled
from engine.errors import TailorError
from engine.finetune.raft import RaftDraft, RaftOptions, draft_problem

REASONING = [
    ("writer-or-extract", "Writer model; quotes taken from the passage when its quotes fail"),
    ("writer", "Writer model only (drafts with wrong quotes are dropped)"),
    ("extract", "Quote the passage's sentence holding the answer"),
]


class RaftPage(RungPage):
    train_requested = Signal(str)  # a RAFT dataset to train on the Fine-tune page
    run_started = Signal(int)  # an evaluation run comparing Levels 3, 4 and 5
    status_message = Signal(str)

    def __init__(self, state: AssistantState, parent=None):
        super().__init__(
            "5 · RAFT",
            "Fine-tune on retrieval-style data, then serve with your knowledge base: the model "
            "learns to find the right passage among distractors and quote it. For high-stakes "
            "questions over documents that change; costs both a training run and retrieval.",
            parent,
        )
        self.state = state
        self.engine = state.engine
        self.job: Job | None = None

        use = QGroupBox("This assistant")
        f = QFormLayout(use)
        self.use = QCheckBox("Answer with a RAFT adapter and a knowledge base (Level 5)")
        self.use.setObjectName("useRaft")
        self.adapter = QComboBox()
        self.adapter.setObjectName("raftAdapter")
        self.kb = QComboBox()
        self.kb.setObjectName("raftKnowledgeBase")
        self.k = QSpinBox()
        self.k.setRange(1, 50)
        self.k.setToolTip(
            "Passages retrieved per question; RAFT was trained to ignore the wrong ones"
        )
        f.addRow(self.use)
        f.addRow("RAFT adapter", self.adapter)
        f.addRow("Knowledge base", self.kb)
        f.addRow("Passages", self.k)
        f.addRow(self.save_row("RAFT settings changed"))
        self.config_layout.addWidget(use)

        build = QGroupBox("1 · Build training data from a knowledge base")
        b = QVBoxLayout(build)
        self.builds = QTreeWidget()
        self.builds.setObjectName("raftBuilds")
        self.builds.setHeaderLabels(["Dataset", "Knowledge base", "State"])
        self.builds.setRootIsDecorated(False)
        self.builds.setMinimumHeight(90)
        self.builds.setMaximumHeight(150)
        self.builds.setColumnWidth(0, 150)
        self.builds.setColumnWidth(1, 120)
        b.addWidget(self.builds)
        row = QHBoxLayout()
        self.new_build = QPushButton("New…")
        self.continue_build = QPushButton("Continue")
        self.review = QPushButton("Review and save…")
        self.delete_build = QPushButton("Delete")
        for w in (self.new_build, self.continue_build, self.review, self.delete_build):
            row.addWidget(w)
        row.addStretch(1)
        b.addLayout(row)
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("raftProgress")
        self.stop = QPushButton("Stop")
        self.stop.setEnabled(False)
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.stop)
        b.addLayout(prow)
        self.build_info = QLabel()
        self.build_info.setObjectName("hint")
        self.build_info.setWordWrap(True)
        b.addWidget(self.build_info)
        self.config_layout.addWidget(build)

        train = QGroupBox("2 · Train")
        t = QVBoxLayout(train)
        hint = QLabel(
            "Train an adapter on the saved dataset with the fine-tuning job runner (it runs on "
            "after the window closes). Each example carries k + 1 passages: set the maximum "
            "sequence length so they fit — the data statistics count those over it, and they "
            "are left out. Train one on “… (no documents)” too, to compare with a plain "
            "fine-tune."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        t.addWidget(hint)
        self.train = QPushButton("Train on the Fine-tune page →")
        t.addWidget(self.train, 0, Qt.AlignmentFlag.AlignLeft)
        self.config_layout.addWidget(train)

        compare = QGroupBox("3 · Compare Levels 3, 4 and 5")
        c = QVBoxLayout(compare)
        hint = QLabel(
            "The held-out questions through base + RAG (Level 3), the plain fine-tune (Level 4) "
            "and RAFT + RAG (Level 5), each at several numbers of retrieved passages."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        c.addWidget(hint)
        self.compare = QPushButton("Compare…")
        c.addWidget(self.compare, 0, Qt.AlignmentFlag.AlignLeft)
        self.config_layout.addWidget(compare)
        self.config_layout.addStretch(1)

        for w in (self.use, self.adapter, self.kb):
            signal = w.toggled if w is self.use else w.currentTextChanged
            signal.connect(self._usage_changed)
        self.k.valueChanged.connect(self._usage_changed)
        self.new_build.clicked.connect(self._new_build)
        self.continue_build.clicked.connect(lambda: self.start_drafting(self._selected()))
        self.review.clicked.connect(self._review)
        self.delete_build.clicked.connect(self._delete)
        self.stop.clicked.connect(self._stop)
        self.train.clicked.connect(self._train)
        self.compare.clicked.connect(self._compare)
        self.builds.currentItemChanged.connect(lambda *_: self._show_selected())
        state.changed.connect(self.refresh)

    # -- the assistant's use -----------------------------------------------------------------

    def _raft_adapters(self) -> list[str]:
        d = self.state.draft
        return [
            a.name
            for a in self.engine.adapters.list()
            if a.kind == "raft" and (d is None or a.base_model == d.model)
        ]

    def refresh(self) -> None:
        d = self.state.draft
        widgets = (self.use, self.adapter, self.kb, self.k)
        for w in widgets:
            w.blockSignals(True)
        adapters = self._raft_adapters()
        fill_combo(self.adapter, adapters)
        fill_combo(self.kb, self.engine.knowledge.names())
        if d is not None:
            level5 = d.adapter in adapters and bool(d.knowledge_base)
            self.use.setChecked(level5)
            if d.adapter in adapters:
                self.adapter.setCurrentText(d.adapter)
            if d.knowledge_base:
                self.kb.setCurrentText(d.knowledge_base)
            self.k.setValue(d.retrieval_k)
        ready = bool(adapters) and self.kb.count() > 0
        self.use.setEnabled(ready)
        self.use.setToolTip(
            "" if ready else "Needs a knowledge base and an adapter trained on a RAFT dataset"
        )
        for w in (self.adapter, self.kb, self.k):
            w.setEnabled(ready and self.use.isChecked())
        for w in widgets:
            w.blockSignals(False)
        self.show_dirty()
        if self.isVisible():
            self._fill_builds()

    def _usage_changed(self) -> None:
        on = self.use.isChecked() and self.adapter.currentText() and self.kb.currentText()
        for w in (self.adapter, self.kb, self.k):
            w.setEnabled(self.use.isChecked())
        if on:
            self.state.update(
                adapter=self.adapter.currentText(),
                knowledge_base=self.kb.currentText(),
                retrieval_k=self.k.value(),
            )
        elif not self.use.isChecked() and self.state.draft and self.state.draft.level == 5:
            self.state.update(adapter=None)

    # -- builds ------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fill_builds()

    def _fill_builds(self) -> None:
        keep = self._selected()
        self.builds.clear()
        for info in self.engine.raft.list():
            item = QTreeWidgetItem([info.name, info.options.knowledge_base, info.summary])
            item.setData(0, Qt.ItemDataRole.UserRole, info.name)
            self.builds.addTopLevelItem(item)
            if info.name == keep:
                self.builds.setCurrentItem(item)
        if self.builds.currentItem() is None and self.builds.topLevelItemCount():
            self.builds.setCurrentItem(self.builds.topLevelItem(0))
        self._show_selected()

    def _selected(self) -> str | None:
        item = self.builds.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item else None

    def _show_selected(self) -> None:
        name = self._selected()
        busy = self.job is not None and self.job.running
        info = self.engine.raft.get(name) if name else None
        self.continue_build.setEnabled(
            bool(info) and not busy and info.status in ("drafting", "stopped")
        )
        self.review.setEnabled(bool(info) and not busy and info.status == "review")
        self.delete_build.setEnabled(bool(info) and not busy)
        self.new_build.setEnabled(not busy)
        self.train.setEnabled(bool(info) and info.status == "saved")
        if busy:
            return
        if info is None:
            self.build_info.setText(
                "No RAFT data yet. Index a folder on Knowledge, then New… drafts questions about "
                "its passages with a local model (the bigger the better)."
            )
            self.progress.reset()
            return
        o = info.options
        text = (
            f"{info.summary}. Writer {o.writer}; {o.questions_per_chunk} question(s) per passage, "
            f"{o.distractors} {o.negatives} distractors, oracle kept in {o.p_oracle:.0%}."
        )
        if info.status == "saved":
            r = info.result
            text += (
                f" Dropped {r['dropped']} draft(s); {r['extracted']} answers quote the passage's "
                f"own sentence. Evaluation set: {r['eval_set'] or 'none'}."
            )
        self.build_info.setText(text)
        self.progress.setMaximum(max(info.total, 1))
        self.progress.setValue(info.done)
        self.progress.setFormat(f"{info.done}/{info.total} passages")

    def _new_build(self) -> None:
        if not self.engine.knowledge.names():
            show_error(self, "There are no knowledge bases yet: index a folder on Knowledge first.")
            return
        dialog = BuildDialog(self.engine, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self._fill_builds()
        self.start_drafting(dialog.name.text().strip())

    def start_drafting(self, name: str | None) -> None:
        if not name or (self.job is not None and self.job.running):
            return
        raft = self.engine.raft
        self.job = Job(lambda cancel: raft.draft(name, cancel), self)
        self.job.event.connect(self._on_progress)
        self.job.failed.connect(lambda m: show_error(self, m))
        self.job.finished.connect(lambda: self._drafting_finished(name))
        self.stop.setEnabled(True)
        self.build_info.setText(f"Drafting “{name}”: loading the writer model…")
        self.job.start()
        self._show_selected()

    def _on_progress(self, p) -> None:
        self.progress.setMaximum(max(p.total, 1))
        self.progress.setValue(p.done)
        self.progress.setFormat(f"%v/%m passages · {p.kept} drafts · {p.dropped} dropped")
        eta = f" · about {p.eta:.0f} s left" if p.eta else ""
        latest = next((d for d in p.latest if d.question), None)
        self.build_info.setText(
            f"Drafting “{p.name}”{eta}."
            + (
                f"<br>Latest: <i>{html.escape(latest.question)}</i> → {html.escape(latest.answer)}"
                if latest
                else ""
            )
        )
        self.status_message.emit(f"RAFT “{p.name}”: {p.done}/{p.total} passages drafted")

    def _drafting_finished(self, name: str) -> None:
        self.stop.setEnabled(False)
        self.job = None
        self._fill_builds()
        try:
            info = self.engine.raft.get(name)
        except TailorError:
            return
        if info.status == "review":
            self.status_message.emit(f"RAFT “{name}”: drafted; review and save it.")
            self.build_info.setText(
                f"“{name}” is drafted: <b>Review and save…</b> to read, edit and save it."
            )

    def _stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.build_info.setText("Stopping after this passage; Continue picks up from here.")

    def _review(self) -> None:
        name = self._selected()
        if not name:
            return
        dialog = ReviewDialog(self.engine, name, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._fill_builds()
            self.status_message.emit(f"Saved RAFT dataset “{name}”.")

    def _delete(self) -> None:
        name = self._selected()
        if not name:
            return
        answer = QMessageBox.question(
            self,
            "Delete build",
            f"Delete the drafts of “{name}”? Datasets and evaluation sets already saved stay.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.engine.raft.delete(name)
            self._fill_builds()

    def _train(self) -> None:
        name = self._selected()
        if name:
            self.train_requested.emit(name)

    def _compare(self) -> None:
        saved = [i.name for i in self.engine.raft.list() if i.status == "saved"]
        raft_adapters = [a for a in self.engine.adapters.list() if a.kind == "raft"]
        if not saved or not raft_adapters:
            show_error(
                self,
                "Comparing needs a saved RAFT dataset and an adapter trained on it: build the "
                "data (1), then train (2).",
            )
            return
        dialog = LadderDialog(self.engine, saved, self._selected(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.run_id is not None:
            self.run_started.emit(dialog.run_id)


class BuildDialog(QDialog):
    """The settings of a new RAFT build."""

    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.setWindowTitle("New RAFT dataset")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. contracts-raft")
        self.kb = QComboBox()
        self.kb.addItems(engine.knowledge.names())
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("optional: only files under this folder")
        self.chunks = QSpinBox()
        self.chunks.setRange(0, 1_000_000)
        self.chunks.setSpecialValueText("all")
        self.chunks.setToolTip("How many passages to draw at random; 'all' uses every one")
        self.writer = QComboBox()
        self.writer.addItems([m.name for m in engine.models.list()])
        self.writer.setCurrentText(bundled.DEFAULT_MODEL_NAME)
        self.writer.setToolTip("Writes the questions and answers: the bigger the better")
        self.per_chunk = QSpinBox()
        self.per_chunk.setRange(1, 10)
        self.distractors = QSpinBox()
        self.distractors.setRange(0, 20)
        self.distractors.setValue(4)
        self.negatives = QComboBox()
        self.negatives.addItem("Random passages", "random")
        self.negatives.addItem("Hard: what the retriever ranks highest", "hard")
        self.p = QDoubleSpinBox()
        self.p.setRange(0.0, 1.0)
        self.p.setSingleStep(0.05)
        self.p.setValue(0.8)
        self.p.setToolTip("Share of examples that include the right passage (paper: 0.8)")
        self.reasoning = QComboBox()
        for key, label in REASONING:
            self.reasoning.addItem(label, key)
        self.holdout = QDoubleSpinBox()
        self.holdout.setRange(0.0, 0.5)
        self.holdout.setSingleStep(0.05)
        self.holdout.setValue(0.1)
        self.holdout.setToolTip("Questions kept out of training, as an evaluation set")
        form.addRow("Dataset name", self.name)
        form.addRow("Knowledge base", self.kb)
        form.addRow("Folder", self.folder)
        form.addRow("Passages", self.chunks)
        form.addRow("Writer model", self.writer)
        form.addRow("Questions per passage", self.per_chunk)
        form.addRow("Distractors", self.distractors)
        form.addRow("Distractor kind", self.negatives)
        form.addRow("Oracle kept (P)", self.p)
        form.addRow("Reasoning", self.reasoning)
        form.addRow("Held out for evaluation", self.holdout)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start drafting")
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def options(self) -> RaftOptions:
        from engine.finetune.raft import validate_options

        return validate_options(
            {
                "knowledge_base": self.kb.currentText(),
                "writer": self.writer.currentText(),
                "questions_per_chunk": self.per_chunk.value(),
                "distractors": self.distractors.value(),
                "p_oracle": self.p.value(),
                "negatives": self.negatives.currentData(),
                "reasoning": self.reasoning.currentData(),
                "chunks": self.chunks.value() or None,
                "folder": self.folder.text().strip() or None,
                "holdout": self.holdout.value(),
            }
        )

    def _ok(self) -> None:
        try:
            self.engine.raft.create(self.name.text(), self.options())
        except TailorError as exc:
            show_error(self, exc)
            return
        self.accept()


class ReviewDialog(QDialog):
    """Every draft of a build: edit questions, answers and reasoning, delete bad ones, then save
    the datasets. Quotes are checked again on saving."""

    COLUMNS = ("Check", "Question", "Answer", "Reasoning (quotes from the passage)", "Passage")

    def __init__(self, engine, name: str, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.build = name
        self.setWindowTitle(f"Review RAFT drafts — {name}")
        self.resize(1100, 640)
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("raftDrafts")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(1, 260)
        self.table.setColumnWidth(2, 150)
        layout.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        remove = QPushButton("Delete selected")
        remove.clicked.connect(self._remove_rows)
        self.hide_dropped = QCheckBox("Hide dropped drafts")
        self.hide_dropped.toggled.connect(self._filter)
        bottom.addWidget(remove)
        bottom.addWidget(self.hide_dropped)
        bottom.addStretch(1)
        keep = QPushButton("Keep edits for later")
        keep.clicked.connect(self._keep)
        bottom.addWidget(keep)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("Save dataset")
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        bottom.addWidget(buttons)
        layout.addLayout(bottom)
        self._texts = {
            c.id: c for c in engine.knowledge.chunks(engine.raft.get(name).options.knowledge_base)
        }
        self._fill(engine.raft.drafts(name))

    def _fill(self, drafts: list[RaftDraft]) -> None:
        self.table.setRowCount(0)
        self.table.blockSignals(True)
        for d in drafts:
            i = self.table.rowCount()
            self.table.insertRow(i)
            check = QTableWidgetItem()
            check.setFlags(check.flags() & ~Qt.ItemFlag.ItemIsEditable)
            check.setData(Qt.ItemDataRole.UserRole, d)
            self.table.setItem(i, 0, check)
            for col, text in ((1, d.question), (2, d.answer), (3, d.reasoning)):
                self.table.setItem(i, col, QTableWidgetItem(text))
            chunk = self._texts.get(d.chunk_id)
            src = QTableWidgetItem(Path(d.source).name)
            src.setFlags(src.flags() & ~Qt.ItemFlag.ItemIsEditable)
            src.setToolTip(chunk.text if chunk else "(no longer in the knowledge base)")
            self.table.setItem(i, 4, src)
            self._mark(i, summarise=False)
        self.table.blockSignals(False)
        self.table.resizeRowsToContents()
        self.table.itemChanged.connect(lambda item: self._mark(item.row()))
        self._summarise()

    def _draft(self, row: int) -> RaftDraft:
        d: RaftDraft = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        text = [self.table.item(row, c).text().strip() for c in (1, 2, 3)]
        return replace(d, question=text[0], answer=text[1], reasoning=text[2])

    def _mark(self, row: int, summarise: bool = True) -> None:
        d = self._draft(row)
        chunk = self._texts.get(d.chunk_id)
        problem = draft_problem(d.question, d.answer, d.reasoning, chunk.text if chunk else None)
        cell = self.table.item(row, 0)
        self.table.blockSignals(True)
        cell.setText("✓ " + d.origin if not problem else "✗ " + problem)
        cell.setForeground(QBrush(QColor("#2e7d32" if not problem else "#c62828")))
        cell.setData(Qt.ItemDataRole.UserRole + 1, problem)
        self.table.blockSignals(False)
        if summarise:
            self._summarise()

    def _summarise(self) -> None:
        rows = range(self.table.rowCount())
        bad = sum(1 for i in rows if self.table.item(i, 0).data(Qt.ItemDataRole.UserRole + 1))
        good = self.table.rowCount() - bad
        self.summary.setText(
            f"<b>{good}</b> usable drafts, <b>{bad}</b> dropped (their quotes are not in the "
            "passage, or there is no question). Edit any cell — the check runs as you type; "
            "hover a passage to read it. Saving makes the RAFT dataset, the same questions "
            "without documents, and a held-out evaluation set."
        )
        self._filter()

    def _filter(self) -> None:
        hide = self.hide_dropped.isChecked()
        for i in range(self.table.rowCount()):
            bad = bool(self.table.item(i, 0).data(Qt.ItemDataRole.UserRole + 1))
            self.table.setRowHidden(i, hide and bad)

    def _remove_rows(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedItems()}, reverse=True):
            self.table.removeRow(row)
        self._summarise()

    def drafts(self) -> list[RaftDraft]:
        return [self._draft(i) for i in range(self.table.rowCount())]

    def _keep(self) -> None:
        try:
            self.engine.raft.save_drafts(self.build, self.drafts())
        except TailorError as exc:
            show_error(self, exc)
            return
        self.reject()

    def _save(self) -> None:
        try:
            self.engine.raft.save_drafts(self.build, self.drafts())
        except TailorError as exc:
            show_error(self, exc)
            return
        # Saving searches the knowledge base once per question (hard negatives): off the UI
        # thread, with the buttons held meanwhile.
        raft, name = self.engine.raft, self.build

        def work(_cancel):
            yield raft.save(name)

        self.setEnabled(False)
        self.summary.setText("Saving: choosing distractors for every question…")
        self.job = Job(work, self)
        self.job.event.connect(self._saved)
        self.job.failed.connect(self._save_failed)
        self.job.start()

    def _save_failed(self, message: str) -> None:
        self.setEnabled(True)
        self._summarise()
        show_error(self, message)

    def _saved(self, info) -> None:
        r = info.result
        QMessageBox.information(
            self,
            "RAFT dataset saved",
            f"“{info.name}”: {r['train']} training examples ({r['with_oracle']} with the right "
            f"passage). “{r['plain_dataset']}”: the same questions without documents. "
            + (f"“{r['eval_set']}”: {r['held_out']} held-out questions." if r["eval_set"] else ""),
        )
        self.accept()


class LadderDialog(QDialog):
    """Pick the adapters and the numbers of passages; starts the comparison run."""

    def __init__(self, engine, builds: list[str], selected: str | None, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.run_id: int | None = None
        self.setWindowTitle("Compare Levels 3, 4 and 5")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.build = QComboBox()
        self.build.addItems(builds)
        if selected in builds:
            self.build.setCurrentText(selected)
        self.raft_adapter = QComboBox()
        self.plain_adapter = QComboBox()
        self.ks = QLineEdit("2, 5, 10")
        self.ks.setToolTip("Numbers of retrieved passages to try, separated by commas")
        form.addRow("RAFT dataset", self.build)
        form.addRow("RAFT adapter (Level 5)", self.raft_adapter)
        form.addRow("Plain adapter (Level 4)", self.plain_adapter)
        form.addRow("Passages retrieved", self.ks)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run comparison")
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.build.currentTextChanged.connect(self._fill_adapters)
        self._fill_adapters()

    def _fill_adapters(self) -> None:
        name = self.build.currentText()
        info = self.engine.raft.get(name)
        adapters = self.engine.adapters.list()
        raft = sorted((a for a in adapters if a.kind == "raft"), key=lambda a: a.dataset != name)
        self.raft_adapter.clear()
        self.raft_adapter.addItems([a.name for a in raft])
        plain_ds = info.result.get("plain_dataset")
        plain = sorted(
            (a for a in adapters if a.kind != "raft"), key=lambda a: a.dataset != plain_ds
        )
        self.plain_adapter.clear()
        self.plain_adapter.addItem("(none — skip Level 4)", None)
        for a in plain:
            self.plain_adapter.addItem(a.name, a.name)
        if plain and plain[0].dataset == plain_ds:
            self.plain_adapter.setCurrentIndex(1)

    def _ok(self) -> None:
        try:
            ks = tuple(int(k) for k in self.ks.text().replace(" ", "").split(",") if k)
        except ValueError:
            show_error(self, f"“{self.ks.text()}” is not a list of numbers like 2, 5, 10.")
            return
        try:
            self.run_id = self.engine.raft.compare(
                self.build.currentText(),
                self.raft_adapter.currentText(),
                self.plain_adapter.currentData(),
                ks or (5,),
            )
        except TailorError as exc:
            show_error(self, exc)
            return
        self.accept()
