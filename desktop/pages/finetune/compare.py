"""The same prompt answered by the base model and by the model with the adapter, side by side."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from desktop.worker import Job
from engine.api import Outcome, TokenEvent, operation


class CompareDialog(QDialog):
    """The same prompt answered by the base model and by the model with the adapter."""

    def __init__(self, engine, config, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.config = config
        self.job: Job | None = None
        self.setWindowTitle(f"Base vs {config.adapter}")
        self.resize(980, 520)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.prompt = QLineEdit()
        self.prompt.setObjectName("comparePrompt")
        self.prompt.setPlaceholderText("A question to ask both")
        self.ask = QPushButton("Ask both")
        row.addWidget(self.prompt, 1)
        row.addWidget(self.ask)
        layout.addLayout(row)
        sides = QHBoxLayout()
        self.outputs = {}
        for key, title in (
            ("base", f"Base: {config.model}"),
            ("tuned", f"Fine-tuned: {config.model} + {config.adapter}"),
        ):
            box = QGroupBox(title)
            b = QVBoxLayout(box)
            text = QPlainTextEdit()
            text.setReadOnly(True)
            text.setObjectName(f"compare_{key}")
            b.addWidget(text)
            sides.addWidget(box)
            self.outputs[key] = text
        layout.addLayout(sides, 1)
        self.ask.clicked.connect(self.start)
        self.prompt.returnPressed.connect(self.start)

    def start(self) -> None:
        message = self.prompt.text().strip()
        if not message or (self.job is not None and self.job.running):
            return
        for out in self.outputs.values():
            out.clear()
        engine, tuned = self.engine, self.config
        base = tuned.model_copy(update={"adapter": None})

        @operation
        def both(*, cancel):
            for key, config in (("base", base), ("tuned", tuned)):
                for event in engine.chat(message, config=config, cancel=cancel, seed=0):
                    if isinstance(event, TokenEvent):
                        yield key, event.text
                    elif isinstance(event, Outcome):
                        reply = event.unwrap()  # a failure or a stop ends both answers
                        yield key, f"\n\n— {reply.stats.summary()}"

        self.job = Job(lambda cancel: both(cancel=cancel), self)
        self.job.event.connect(lambda e: self._append(*e))
        self.job.start()

    def _append(self, key: str, text: str) -> None:
        out = self.outputs[key]
        out.moveCursor(out.textCursor().MoveOperation.End)
        out.insertPlainText(text)

    def reject(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.job.wait(30)
        super().reject()
