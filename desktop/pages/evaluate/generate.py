"""Evaluation cases written by a local model from passages sampled out of a knowledge base,
reviewed in a table (edit any cell, delete bad rows) before they are saved. The Fine-tune page
uses the same dialog to make a training dataset."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.worker import Job
from engine.api import Progress
from engine.errors import TailorError
from engine.types import DEFAULT_MODEL_NAME, Case


class GenerateDialog(QDialog):
    """Questions written by a local model about sampled passages, reviewed before saving."""

    def __init__(
        self,
        engine,
        parent=None,
        save=None,
        what="an evaluation set",
        default_name="Generated questions",
    ):
        super().__init__(parent)
        self.engine = engine
        self.job: Job | None = None
        # save(name, drafts as Case list) stores the reviewed drafts; default: an eval set.
        self._save = save or (lambda name, cases: engine.save_eval_set(name, cases, "Generated"))
        self.setWindowTitle(f"Generate {what} from a knowledge base")
        self.resize(900, 560)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kb = QComboBox()
        self.kb.addItems(engine.list_knowledge_bases())
        self.count = QSpinBox()
        self.count.setRange(1, 1000)
        self.count.setValue(20)
        self.writer = QComboBox()
        self.writer.addItems([m.name for m in engine.list_models()])
        self.writer.setCurrentText(DEFAULT_MODEL_NAME)
        self.writer.setToolTip("A bigger model writes better questions")
        form.addRow("Knowledge base", self.kb)
        form.addRow("Passages to sample", self.count)
        form.addRow("Model that writes", self.writer)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.go = QPushButton("Generate")
        self.progress = QProgressBar()
        row.addWidget(self.go)
        row.addWidget(self.progress, 1)
        layout.addLayout(row)
        hint = QLabel(
            "Review the drafts: edit any cell, delete bad rows, then save. Each case keeps the "
            "file its passage came from, so retrieval is scored too."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("draftTable")
        self.table.setHorizontalHeaderLabels(["Question", "Answer", "Source"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        remove = QPushButton("Delete selected rows")
        remove.clicked.connect(self._remove_rows)
        bottom = QHBoxLayout()
        bottom.addWidget(remove)
        bottom.addStretch(1)
        bottom.addWidget(QLabel("Save as"))
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setCurrentText(default_name)
        bottom.addWidget(self.name)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        bottom.addWidget(buttons)
        layout.addLayout(bottom)
        self.go.clicked.connect(self.start)

    def start(self) -> None:
        """Sample the passages and have the writer model draft questions, in the background."""
        engine, writer = self.engine, self.writer.currentText()
        kb, count = self.kb.currentText(), self.count.value()
        self.job = Job(
            lambda cancel: engine.write_questions(kb, count, model=writer, cancel=cancel),
            self,
            "Generate questions",
        )
        self.job.event.connect(self._on_progress)
        self.job.finished.connect(lambda: self.go.setEnabled(True))
        self.go.setEnabled(False)
        self.job.start()

    def _on_progress(self, p: Progress) -> None:
        drafts = p.detail.drafts
        self.progress.setMaximum(p.total)
        self.progress.setValue(p.done)
        self.progress.setFormat(f"%v/%m passages · {len(drafts)} questions")
        for d in drafts[self.table.rowCount() :]:
            i = self.table.rowCount()
            self.table.insertRow(i)
            self.table.setItem(i, 0, QTableWidgetItem(d.question))
            self.table.setItem(i, 1, QTableWidgetItem(d.answer))
            src = QTableWidgetItem(Path(d.source).name)
            src.setData(Qt.ItemDataRole.UserRole, d.source)
            src.setToolTip(d.passage)
            self.table.setItem(i, 2, src)

    def _remove_rows(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedItems()}, reverse=True):
            self.table.removeRow(row)

    def cases(self) -> list[Case]:
        """The reviewed drafts with both a question and an answer, as cases."""
        out = []
        for i in range(self.table.rowCount()):
            q, a, s = (self.table.item(i, c) for c in range(3))
            if q and a and q.text().strip() and a.text().strip():
                source = s.data(Qt.ItemDataRole.UserRole) if s else None
                out.append(
                    Case(
                        f"g{i + 1}",
                        q.text().strip(),
                        (a.text().strip(),),
                        (source,) if source else (),
                    )
                )
        return out

    def save(self) -> None:
        """Stop drafting and save the reviewed cases; a refused name keeps the dialog open."""
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.job.wait(30)
        try:
            self._save(self.name.currentText(), self.cases())
        except TailorError as exc:
            show_error(self, exc)
            return
        self.accept()

    def reject(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
        super().reject()
