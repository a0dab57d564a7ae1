"""Level 1: the system prompt and sampling parameters, beside the chat."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
)

from desktop.pages.base import RungPage, button_row
from desktop.state import AssistantState


class PromptPage(RungPage):
    def __init__(self, state: AssistantState, parent=None):
        super().__init__(
            "1 · Prompt",
            "Start here: clear instructions, no examples. Free and immediate — climb the ladder "
            "only when the answers are not good enough.",
            parent,
        )
        self.state = state
        self.remote_models: list = []  # the providers' models, as the Models page last listed
        self.model = QComboBox()
        self.model.setObjectName("modelPicker")
        self.model.setToolTip(
            "The library's models, and the remote models listed on the Models page (their "
            "prompts go to that server)"
        )
        self.system = QPlainTextEdit()
        self.system.setObjectName("systemPrompt")
        self.system.setPlaceholderText("Tell the model who it is and how to answer.")
        self.system.setMinimumHeight(160)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setToolTip("0 answers the same way every time; higher is more varied.")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 32768)
        self.max_tokens.setSingleStep(64)

        form = QFormLayout()
        form.setSpacing(10)
        form.addRow("Model", self.model)
        form.addRow(QLabel("System prompt"))
        form.addRow(self.system)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Max tokens", self.max_tokens)
        self.config_layout.addLayout(form)

        self.save_button = QPushButton("Save version")
        self.save_button.setObjectName("saveVersion")
        self.save_button.setToolTip("Keep these settings as a new version (Ctrl+S)")
        self.discard_button = QPushButton("Discard changes")
        self.history_button = QPushButton("History && diff…")
        self.history_button.setObjectName("historyButton")
        self.dirty_label = QLabel()
        self.dirty_label.setObjectName("dirtyLabel")
        self.config_layout.addWidget(self.dirty_label)
        self.config_layout.addLayout(
            button_row(self.save_button, self.discard_button, None, self.history_button)
        )
        self.config_layout.addStretch(1)

        self.model.activated.connect(lambda _i: state.update(model=self.model.currentData()))
        self.system.textChanged.connect(
            lambda: state.update(system_prompt=self.system.toPlainText())
        )
        self.temperature.valueChanged.connect(lambda v: state.update(temperature=round(v, 2)))
        self.top_p.valueChanged.connect(lambda v: state.update(top_p=round(v, 2)))
        self.max_tokens.valueChanged.connect(lambda v: state.update(max_tokens=v))
        self.discard_button.clicked.connect(state.discard)
        state.changed.connect(self.refresh)

    def refresh_models(self) -> None:
        self.model.blockSignals(True)
        self.model.clear()
        for m in self.state.engine.list_models():
            self.model.addItem(
                f"{m.name}  ·  {m.info.parameters_label} {m.info.quantization}", m.name
            )
        for r in self.remote_models:
            self.model.addItem(f"{r.name}  ·  remote ({r.host})", r.name)
        self.model.blockSignals(False)
        self.refresh()

    def set_remote_models(self, models: list) -> None:
        self.remote_models = list(models)
        self.refresh_models()

    def refresh(self) -> None:
        d = self.state.draft
        if d is None:
            return
        widgets = (self.model, self.system, self.temperature, self.top_p, self.max_tokens)
        for w in widgets:
            w.blockSignals(True)
        if d.model and self.model.findData(d.model) < 0:
            # An assistant on a remote model not listed yet: shown as it is, and kept.
            host = self.state.engine.model_host(d.model)
            self.model.addItem(
                f"{d.model}  ·  {f'remote ({host})' if host else 'missing'}", d.model
            )
        self.model.setCurrentIndex(self.model.findData(d.model))
        if self.system.toPlainText() != d.system_prompt:
            self.system.setPlainText(d.system_prompt)
        self.temperature.setValue(d.temperature)
        self.top_p.setValue(d.top_p)
        self.max_tokens.setValue(d.max_tokens)
        for w in widgets:
            w.blockSignals(False)
        dirty = self.state.dirty
        self.save_button.setEnabled(dirty)
        self.discard_button.setEnabled(dirty)
        saved = self.state.saved
        self.dirty_label.setText(
            "Unsaved changes — the chat already uses them."
            if dirty
            else f"Saved as v{saved.version}."
            if saved
            else ""
        )
