"""The judge prompt and rubric a run's judge model scores answers with."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout

from desktop.errors import show_error
from engine.types import RunOptions, check_prompt


class JudgePromptDialog(QDialog):
    """Edit the judge prompt and rubric; refuses a prompt missing a placeholder."""

    def __init__(self, prompt: str, rubric: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Judge prompt")
        self.resize(640, 480)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Prompt ({question}, {reference}, {response} and {rubric} are "
                "filled in for every case):"
            )
        )
        self.prompt = QPlainTextEdit(prompt)
        layout.addWidget(self.prompt, 2)
        layout.addWidget(QLabel("Rubric:"))
        self.rubric = QPlainTextEdit(rubric)
        layout.addWidget(self.rubric, 1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self._defaults
        )
        layout.addWidget(buttons)

    def _defaults(self) -> None:
        self.prompt.setPlainText(RunOptions().judge_prompt)
        self.rubric.setPlainText(RunOptions().rubric)

    def _ok(self) -> None:
        if why := check_prompt(self.prompt.toPlainText()):
            show_error(self, why)
            return
        self.accept()

    def values(self) -> tuple[str, str]:
        """The prompt and rubric as edited."""
        return self.prompt.toPlainText(), self.rubric.toPlainText()
