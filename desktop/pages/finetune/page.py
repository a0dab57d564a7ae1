"""The Level 4 page: whether this assistant uses an adapter, then the three steps of training
one — the data (:mod:`.data`), the settings (:mod:`.training`) and the jobs (:mod:`.jobs`)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QGroupBox, QHBoxLayout, QPushButton, QVBoxLayout

from desktop.pages.base import RungPage, fill_combo
from desktop.pages.finetune.compare import CompareDialog
from desktop.pages.finetune.data import DataSection
from desktop.pages.finetune.jobs import JobsSection
from desktop.pages.finetune.training import TrainingSection
from desktop.state import AssistantState
from desktop.widgets.component_bar import ComponentBar


class FinetunePage(DataSection, TrainingSection, JobsSection, RungPage):
    def __init__(self, state: AssistantState, parent=None):
        super().__init__(
            "4 · Fine-tune",
            "Train a LoRA adapter on your own conversations so the model learns your domain's "
            "terms and style. For a stable domain with 1,000+ examples; costs hours of compute. "
            "Training runs in its own process: close the window and it carries on.",
            parent,
        )
        self.state = state
        self.engine = state.engine

        use = QGroupBox("This assistant")
        u = QVBoxLayout(use)
        row = QHBoxLayout()
        self.attach = QCheckBox("Use adapter")
        self.attach.setObjectName("attachAdapter")
        self.adapter_picker = QComboBox()
        self.adapter_picker.setObjectName("adapterPicker")
        row.addWidget(self.attach)
        row.addWidget(self.adapter_picker, 1)
        u.addLayout(row)
        srow = self.save_row("Adapter changed")
        self.compare = QPushButton("Compare with base…")
        srow.insertWidget(1, self.compare)
        u.addLayout(srow)
        # Fine-tuning's own component (torch, Unsloth), installed when first asked for.
        self.component_bar = ComponentBar(self.engine, "training", self)
        self.config_layout.addWidget(self.component_bar)
        self.config_layout.addWidget(use)
        self.config_layout.addWidget(self._build_data())
        self.config_layout.addWidget(self._build_training())
        self.config_layout.addWidget(self._build_jobs(), 1)

        self.attach.toggled.connect(lambda _c: self._usage_changed())
        self.adapter_picker.activated.connect(lambda _i: self._usage_changed())
        self.compare.clicked.connect(self._compare)
        state.changed.connect(self.refresh)
        self._suggest_preset()

    # -- the assistant's use -----------------------------------------------------------------

    def refresh(self) -> None:
        d = self.state.draft
        adapters = self.engine.list_adapters()
        usable = [a.name for a in adapters if d is None or a.base_model == d.model]
        for w in (self.attach, self.adapter_picker):
            w.blockSignals(True)
        fill_combo(self.adapter_picker, usable)
        if d is not None:
            self.attach.setChecked(bool(d.adapter))
            if d.adapter:
                self.adapter_picker.setCurrentText(d.adapter)
        self.attach.setEnabled(bool(usable))
        self.adapter_picker.setEnabled(bool(usable) and self.attach.isChecked())
        self.attach.setToolTip("" if usable else "No adapter trained on this assistant's model yet")
        for w in (self.attach, self.adapter_picker):
            w.blockSignals(False)
        self.show_dirty()
        self.compare.setEnabled(bool(d and d.adapter))
        if not self.isVisible():
            return  # the rest (token counts, memory check, jobs) when the page is shown
        fill_combo(self.dataset, self.engine.list_datasets())
        self.fill_eval_sets(self.engine.list_eval_sets())
        models = [m.name for m in self.engine.list_models()]
        if fill_combo(self.base, models) and d is not None:
            self.base.setCurrentText(d.model)
        self._show_check()
        self._show_stats()
        self.poll()

    def _usage_changed(self) -> None:
        on = self.attach.isChecked() and self.adapter_picker.currentText()
        self.adapter_picker.setEnabled(self.attach.isChecked())
        self.state.update(adapter=self.adapter_picker.currentText() if on else None)

    def _compare(self) -> None:
        d = self.state.draft
        if d is None or not d.adapter:
            return
        CompareDialog(self.engine, d, self).exec()

    # -- on screen ---------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()
        self.timer.start()  # follow the jobs while the page is on screen

    def hideEvent(self, event) -> None:
        self.timer.stop()
        super().hideEvent(event)
