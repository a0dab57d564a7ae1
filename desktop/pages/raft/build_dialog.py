"""The settings of a new RAFT build; accepting it creates the build (choosing its passages, in
the background), ready to draft."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.worker import Job
from engine.errors import TailorError
from engine.types import DEFAULT_MODEL_NAME, RaftOptions, validate_raft_options

REASONING = [
    ("writer-or-extract", "Writer model; quotes taken from the passage when its quotes fail"),
    ("writer", "Writer model only (drafts with wrong quotes are dropped)"),
    ("extract", "Quote the passage's sentence holding the answer"),
]


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
        self.kb.addItems(engine.list_knowledge_bases())
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("optional: only files under this folder")
        self.chunks = QSpinBox()
        self.chunks.setRange(0, 1_000_000)
        self.chunks.setSpecialValueText("all")
        self.chunks.setToolTip("How many passages to draw at random; 'all' uses every one")
        self.writer = QComboBox()
        self.writer.addItems([m.name for m in engine.list_models()])
        self.writer.setCurrentText(DEFAULT_MODEL_NAME)
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
        return validate_raft_options(
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
            options = self.options()
        except TailorError as exc:
            show_error(self, exc)
            return
        # Choosing the passages reads every chunk of the knowledge base: in the background.
        engine, name = self.engine, self.name.text()
        self.setEnabled(False)
        self.job = Job(lambda _cancel: engine.create_raft_build(name, options), self)
        self.job.succeeded.connect(lambda _info: self.accept())
        self.job.failed.connect(self._failed)
        self.job.start()

    def _failed(self, error: Exception) -> None:
        self.setEnabled(True)
        show_error(self, error)
