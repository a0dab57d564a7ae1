"""The Fine-tune page's training settings: the base model, the adapter's name, the preset and
the hyper-parameters, the evaluation set to score before and after training (none by default),
the memory check (in the background, once the settings rest) and the Train button (starting
counts the whole dataset's tokens: in the background too)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

from desktop.errors import show_error
from desktop.pages.base import button_row
from desktop.worker import Job
from engine.errors import TailorError
from engine.types import PRESETS, TrainOptions


class TrainingSection:
    """The "2 · Training" group of :class:`desktop.pages.finetune.page.FinetunePage`."""

    def _build_training(self) -> QGroupBox:
        self.starting: Job | None = None
        self._preset_chosen = False  # by the person: the machine's suggestion then stays out

        settings = QGroupBox("2 · Training")
        f = QFormLayout(settings)
        self.base = QComboBox()
        self.base.setObjectName("baseModel")
        f.addRow("Base model", self.base)
        self.adapter_name = QLineEdit()
        self.adapter_name.setObjectName("adapterName")
        self.adapter_name.setPlaceholderText("e.g. support-style-v1")
        f.addRow("Adapter name", self.adapter_name)
        self.preset = QComboBox()
        self.preset.addItem("CPU (small, safe)", "cpu")
        self.preset.addItem("NVIDIA GPU (4-bit, longer sequences)", "gpu")
        f.addRow("Preset", self.preset)
        self.steps = QSpinBox()
        self.steps.setRange(0, 1_000_000)
        self.steps.setSpecialValueText("by epochs")
        self.steps.setValue(60)
        self.epochs = QDoubleSpinBox()
        self.epochs.setRange(0.1, 100)
        self.epochs.setValue(1)
        self.steps.setSuffix(" steps")
        self.epochs.setSuffix(" epochs")
        self.epochs.setToolTip("Used when steps is 0")
        f.addRow("Length", self.steps)
        f.addRow("or, with 0 steps", self.epochs)
        self.rank = QSpinBox()
        self.rank.setRange(1, 512)
        self.alpha = QSpinBox()
        self.alpha.setRange(1, 1024)
        f.addRow("LoRA", button_row(QLabel("rank"), self.rank, QLabel("alpha"), self.alpha))
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1)
        self.lr.setSingleStep(1e-5)
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.seq = QSpinBox()
        self.seq.setRange(32, 131072)
        self.seq.setSingleStep(128)
        f.addRow("Learning rate", self.lr)
        f.addRow("Batch", button_row(self.batch, QLabel("max tokens"), self.seq))
        self.save_every = QSpinBox()
        self.save_every.setRange(1, 100_000)
        self.save_every.setPrefix("every ")
        self.save_every.setSuffix(" steps")
        f.addRow("Checkpoint", self.save_every)
        self.responses_only = QCheckBox("Learn the assistant's replies only")
        f.addRow(self.responses_only)
        self.eval_with = QComboBox()
        self.eval_with.setObjectName("evalSetPicker")
        self.eval_with.addItem("None", None)
        self.eval_with.setToolTip(
            "When training ends, answer this evaluation set with the base model and with the "
            "new adapter: the job and its notification show both scores"
        )
        f.addRow("Evaluate with", self.eval_with)
        self.hardware = QLabel()
        self.hardware.setObjectName("hardwareCheck")
        self.hardware.setWordWrap(True)
        f.addRow(self.hardware)
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        f.addRow(self.train_button)

        # The memory check runs nvidia-smi and reads the model file: once the spin boxes rest,
        # in the background; only the latest request's answer is shown.
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(300)
        self._check_timer.timeout.connect(self._run_check)
        self._check_serial = 0

        self._apply_preset()
        self.preset.activated.connect(lambda _i: setattr(self, "_preset_chosen", True))
        self.preset.currentIndexChanged.connect(lambda _i: self._apply_preset())
        self.seq.valueChanged.connect(lambda _v: self._show_check())
        self.batch.valueChanged.connect(lambda _v: self._show_check())
        self.rank.valueChanged.connect(lambda _v: self._show_check())
        self.base.currentIndexChanged.connect(lambda _i: self._show_check())
        self.train_button.clicked.connect(self.start_training)
        return settings

    def fill_eval_sets(self, names: list[str]) -> None:
        """Offer ``names`` after "None", keeping the choice."""
        combo = self.eval_with
        if [combo.itemData(i) for i in range(1, combo.count())] == names:
            return
        keep = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("None", None)
        for name in names:
            combo.addItem(name, name)
        combo.setCurrentIndex(names.index(keep) + 1 if keep in names else 0)
        combo.blockSignals(False)

    def _suggest_preset(self) -> None:
        """Start from the preset that suits this machine (the GPU one with an NVIDIA GPU), as
        the command line does; asked once, when the page is made, in the background
        (nvidia-smi)."""
        engine = self.engine
        job = Job(lambda _cancel: engine.training_preset(), self)
        job.succeeded.connect(self._preset_suggested)
        job.start()

    def _preset_suggested(self, preset: str) -> None:
        if not self._preset_chosen:
            self.preset.setCurrentIndex(self.preset.findData(preset))

    def _apply_preset(self) -> None:
        p = PRESETS[self.preset.currentData()]
        self.rank.setValue(p.rank)
        self.alpha.setValue(p.alpha)
        self.lr.setValue(p.learning_rate)
        self.batch.setValue(p.batch_size)
        self.seq.setValue(p.max_seq_length)
        self.save_every.setValue(p.save_every)
        self.responses_only.setChecked(p.responses_only)
        self._show_check()

    def options(self) -> TrainOptions:
        return self.engine.training_options(
            self.preset.currentData(),
            rank=self.rank.value(),
            alpha=self.alpha.value(),
            learning_rate=self.lr.value(),
            batch_size=self.batch.value(),
            max_seq_length=self.seq.value(),
            save_every=self.save_every.value(),
            responses_only=self.responses_only.isChecked(),
            max_steps=self.steps.value() or None,
            epochs=self.epochs.value(),
        )

    def _show_check(self) -> None:
        """Check the memory again once the settings rest for a moment."""
        self._check_timer.start()

    def _run_check(self) -> None:
        base = self.base.currentText()
        if not base:
            return
        self._check_serial += 1
        serial, engine, options = self._check_serial, self.engine, self.options()
        job = Job(lambda _cancel: engine.check_training(base, options), self)
        job.succeeded.connect(lambda check: self._checked(serial, check))
        job.failed.connect(lambda error: self._check_failed(serial, error))
        job.start()

    def _checked(self, serial: int, check) -> None:
        if serial == self._check_serial:  # a newer check is on its way otherwise
            mark = "✓" if check.ok else "✗"
            self.hardware.setText(f"{mark} {check.summary()}. {check.advice}")

    def _check_failed(self, serial: int, error: Exception) -> None:
        if serial != self._check_serial:
            return
        if isinstance(error, TailorError):
            self.hardware.setText(str(error))
        else:
            show_error(self, error)

    def start_training(self) -> None:
        name = self.adapter_name.text().strip()
        dataset = self.dataset.currentText()
        if not dataset:
            show_error(self, "Choose or import a dataset first.")
            return
        if not name:
            show_error(self, "Give the adapter a name.")
            return
        if self.starting is not None:
            return
        # Starting counts the tokens of the whole dataset: in the background, the button held.
        # The jobs are read there too, so the list shows the new one when the button returns.
        engine, base, options = self.engine, self.base.currentText(), self.options()
        eval_set = self.eval_with.currentData()

        def start(_cancel):
            job = engine.start_training(name, base, dataset, options, eval_set=eval_set)
            return job, self.jobs_snapshot(engine)

        self.starting = Job(start, self)
        self.starting.succeeded.connect(lambda started: self._training_started(*started))
        self.starting.finished.connect(self._start_finished)
        self.train_button.setEnabled(False)
        self.train_button.setText("Starting…")
        self.starting.start()

    def _training_started(self, job, snapshot) -> None:
        self.shown_job = job.id
        self._show_snapshot(snapshot)

    def _start_finished(self) -> None:
        self.starting = None
        self.train_button.setEnabled(True)
        self.train_button.setText("Train")
