"""The Advisor tab: where to start from a few questions about the task, and when a higher rung
is worth it, read from the scoreboard of the run the page shows."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.pages.evaluate.common import QUALITY
from engine.types import advisor


class AdvisorTab(QWidget):
    """The questionnaire and the thresholds; recomputes both pieces of advice on any change."""

    numbers_advice = Signal(str)  # what the scoreboard says, also shown beside it

    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.rows: list[dict] = []
        layout = QHBoxLayout(self)
        layout.addWidget(self._build_questions(), 1)
        layout.addWidget(self._build_limits(), 1)

    def _build_questions(self) -> QGroupBox:
        ask = QGroupBox("Where to start")
        form = QVBoxLayout(ask)
        self.answers: dict[str, QWidget] = {}
        for key, question in advisor.QUESTIONS:
            if key == "labelled_examples":
                row = QHBoxLayout()
                label = QLabel(question)
                label.setWordWrap(True)
                spin = QSpinBox()
                spin.setRange(0, 10_000_000)
                spin.setSingleStep(100)
                row.addWidget(label, 1)
                row.addWidget(spin)
                form.addLayout(row)
                spin.valueChanged.connect(lambda _v: self.refresh())
                self.answers[key] = spin
            else:
                box = QCheckBox(question)
                box.setChecked(advisor.Answers().model_dump()[key])
                box.toggled.connect(lambda _c: self.refresh())
                form.addWidget(box)
                self.answers[key] = box
        self.start_advice = QLabel()
        self.start_advice.setObjectName("startAdvice")
        self.start_advice.setWordWrap(True)
        self.start_advice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addSpacing(8)
        form.addWidget(self.start_advice)
        form.addStretch(1)
        return ask

    def _build_limits(self) -> QGroupBox:
        limits = QGroupBox("When a higher rung is worth it")
        f = QFormLayout(limits)
        self.min_gain = QDoubleSpinBox()
        self.min_gain.setRange(0, 1)
        self.min_gain.setSingleStep(0.01)
        self.min_gain.setValue(advisor.Thresholds().min_gain)
        self.max_ratio = QDoubleSpinBox()
        self.max_ratio.setRange(1, 1000)
        self.max_ratio.setSuffix("×")
        self.max_ratio.setValue(advisor.Thresholds().max_latency_ratio)
        self.min_examples = QSpinBox()
        self.min_examples.setRange(1, 10_000_000)
        self.min_examples.setValue(advisor.Thresholds().min_finetune_examples)
        self.metric = QComboBox()
        for x in QUALITY[:5]:
            self.metric.addItem(x.label, x.key)
        self.metric.setCurrentIndex(1)
        f.addRow("Judge by", self.metric)
        f.addRow("Smallest gain worth having", self.min_gain)
        f.addRow("Most extra latency accepted", self.max_ratio)
        f.addRow("Examples Level 4 needs", self.min_examples)
        for w in (self.min_gain, self.max_ratio, self.min_examples):
            w.valueChanged.connect(lambda _v: self.refresh())
        self.metric.currentIndexChanged.connect(lambda _i: self.refresh())
        self.run_advice = QLabel()
        self.run_advice.setObjectName("runAdvice")
        self.run_advice.setWordWrap(True)
        self.run_advice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f.addRow(self.run_advice)
        return limits

    def thresholds(self) -> advisor.Thresholds:
        """The thresholds as set on this tab."""
        return advisor.Thresholds(
            min_gain=self.min_gain.value(),
            max_latency_ratio=self.max_ratio.value(),
            min_finetune_examples=self.min_examples.value(),
            metric=self.metric.currentData(),
        )

    def show_rows(self, rows: list[dict]) -> None:
        """Read the advice from these scoreboard rows from now on."""
        self.rows = rows
        self.refresh()

    def refresh(self) -> None:
        """Recompute both pieces of advice (the example counts may have changed)."""
        values = {
            k: (w.value() if isinstance(w, QSpinBox) else w.isChecked())
            for k, w in self.answers.items()
        }
        start = advisor.from_answers(advisor.Answers(**values), self.thresholds())
        self.start_advice.setText(f"<b>{start.headline}</b><br>" + "<br>".join(start.reasons))
        text = "Run an evaluation with assistants at two or more levels to get advice here."
        if self.rows:
            numbers = self.engine.eval_advice(self.rows, self.thresholds())
            if numbers:
                text = f"<b>{numbers.headline}</b><br>" + "<br>".join(
                    f"• {r}" for r in numbers.reasons
                )
        self.run_advice.setText(text)
        self.numbers_advice.emit(text)
