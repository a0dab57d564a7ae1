"""Reviewing a RAFT build's drafts: every question, answer and quoted reasoning, checked as it is
edited, then saved as the datasets and the held-out evaluation set. The drafts and passages are
read, and saved, in the background."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.worker import Job
from engine.types import RaftDraft, draft_problem


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
        self.loaded = False  # the drafts are in the table
        self.job: Job | None = None
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
        save = buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setText("Save dataset")
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        bottom.addWidget(buttons)
        layout.addLayout(bottom)
        self._texts: dict[str, str] = {}  # each passage's text by chunk id
        # Reading every passage of the knowledge base takes a while: in the background, with
        # everything but Cancel held meanwhile.
        self._held = (self.table, remove, self.hide_dropped, keep, save)
        for w in self._held:
            w.setEnabled(False)
        self.summary.setText("Reading the drafts and their passages…")
        self.job = Job(lambda _cancel: (engine.raft_drafts(name), engine.raft_passages(name)), self)
        self.job.succeeded.connect(self._loaded)
        self.job.failed.connect(self._load_failed)
        self.job.start()

    def _loaded(self, read: tuple[list[RaftDraft], dict[str, str]]) -> None:
        drafts, self._texts = read
        for w in self._held:
            w.setEnabled(True)
        self._fill(drafts)
        self.loaded = True

    def _load_failed(self, error: Exception) -> None:
        show_error(self, error)
        self.reject()

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
            passage = self._texts.get(d.chunk_id)
            src = QTableWidgetItem(Path(d.source).name)
            src.setFlags(src.flags() & ~Qt.ItemFlag.ItemIsEditable)
            src.setToolTip(passage if passage is not None else "(no longer in the knowledge base)")
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
        problem = draft_problem(d.question, d.answer, d.reasoning, self._texts.get(d.chunk_id))
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
        engine, name, drafts = self.engine, self.build, self.drafts()
        self._in_background(
            lambda _cancel: engine.save_raft_drafts(name, drafts),
            "Keeping the edited drafts…",
            lambda _drafts: self.reject(),
        )

    def _save(self) -> None:
        # Checking every quote again, then searching the knowledge base once per question
        # (hard negatives): off the UI thread, with the buttons held meanwhile.
        engine, name, drafts = self.engine, self.build, self.drafts()
        self._in_background(
            lambda _cancel: engine.save_raft_build(name, drafts),
            "Saving: choosing distractors for every question…",
            self._saved,
        )

    def _in_background(self, work, doing: str, done) -> None:
        self.setEnabled(False)
        self.summary.setText(doing)
        self.job = Job(work, self)
        self.job.succeeded.connect(done)
        self.job.failed.connect(self._save_failed)
        self.job.start()

    def _save_failed(self, error: Exception) -> None:
        self.setEnabled(True)
        self._summarise()
        show_error(self, error)

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
