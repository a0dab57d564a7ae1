"""Level 4: datasets, LoRA training jobs that run on after the window closes, the live loss
chart, and attaching an adapter to the assistant beside the chat."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.pages.base import RungPage, fill_combo, import_named
from desktop.state import AssistantState
from desktop.worker import Job
from engine.errors import TailorError
from engine.finetune.options import PRESETS, TrainOptions


class FinetunePage(RungPage):
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
        self.shown_job: int | None = None
        self._lengths: dict[tuple[str, str], list[int]] = {}  # (dataset, model) → token counts
        self._counting: set[tuple[str, str]] = set()  # counted in the background right now
        self._fit_raft: str | None = None  # a RAFT dataset whose longest example must fit

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
        self.config_layout.addWidget(use)

        data = QGroupBox("1 · Training data")
        d = QVBoxLayout(data)
        self.dataset = QComboBox()
        self.dataset.setObjectName("datasetPicker")
        d.addWidget(self.dataset)
        drow = QHBoxLayout()
        self.import_data = QPushButton("Import…")
        self.import_data.setToolTip("JSONL, CSV or Parquet: chat (messages) or instruction form")
        self.from_examples = QPushButton("From examples…")
        self.generate = QPushButton("Generate…")
        self.generate.setToolTip(
            "Question–answer pairs written by a local model about passages "
            "of a knowledge base, reviewed before saving"
        )
        for w in (self.import_data, self.from_examples, self.generate):
            drow.addWidget(w)
        drow.addStretch(1)
        d.addLayout(drow)
        self.data_stats = QLabel()
        self.data_stats.setObjectName("hint")
        self.data_stats.setWordWrap(True)
        d.addWidget(self.data_stats)
        self.config_layout.addWidget(data)

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
        rrow = QHBoxLayout()
        rrow.addWidget(QLabel("rank"))
        rrow.addWidget(self.rank)
        rrow.addWidget(QLabel("alpha"))
        rrow.addWidget(self.alpha)
        f.addRow("LoRA", rrow)
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
        brow = QHBoxLayout()
        brow.addWidget(self.batch)
        brow.addWidget(QLabel("max tokens"))
        brow.addWidget(self.seq)
        f.addRow("Batch", brow)
        self.save_every = QSpinBox()
        self.save_every.setRange(1, 100_000)
        self.save_every.setPrefix("every ")
        self.save_every.setSuffix(" steps")
        f.addRow("Checkpoint", self.save_every)
        self.responses_only = QCheckBox("Learn the assistant's replies only")
        f.addRow(self.responses_only)
        self.hardware = QLabel()
        self.hardware.setObjectName("hardwareCheck")
        self.hardware.setWordWrap(True)
        f.addRow(self.hardware)
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        f.addRow(self.train_button)
        self.config_layout.addWidget(settings)

        jobs = QGroupBox("3 · Jobs")
        j = QVBoxLayout(jobs)
        self.jobs = QTreeWidget()
        self.jobs.setObjectName("jobList")
        self.jobs.setHeaderLabels(["Adapter", "Status", "Step", "Loss"])
        self.jobs.setRootIsDecorated(False)
        self.jobs.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.jobs.setMaximumHeight(110)
        j.addWidget(self.jobs)
        jrow = QHBoxLayout()
        self.resume = QPushButton("Resume")
        self.cancel = QPushButton("Cancel")
        self.show_log = QPushButton("Log")
        for w in (self.resume, self.cancel, self.show_log):
            jrow.addWidget(w)
        jrow.addStretch(1)
        j.addLayout(jrow)
        self.job_status = QLabel("No training jobs yet.")
        self.job_status.setObjectName("jobStatus")
        self.job_status.setWordWrap(True)
        j.addWidget(self.job_status)
        self.chart = QChart()
        self.chart.setTitle("Loss")
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setObjectName("lossChart")
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(230)
        self.train_series = QLineSeries()
        self.train_series.setName("training")
        self.eval_series = QLineSeries()
        self.eval_series.setName("validation")
        self.ax, self.ay = QValueAxis(), QValueAxis()
        self.ax.setTitleText("step")
        self.ax.setLabelFormat("%d")
        self.chart.addAxis(self.ax, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.ay, Qt.AlignmentFlag.AlignLeft)
        for series in (self.train_series, self.eval_series):
            self.chart.addSeries(series)
            series.attachAxis(self.ax)
            series.attachAxis(self.ay)
        j.addWidget(self.chart_view)
        self.config_layout.addWidget(jobs, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.poll)
        # The memory check runs nvidia-smi and reads the model file: once the spin boxes rest,
        # in the background; only the latest request's answer is shown.
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(300)
        self._check_timer.timeout.connect(self._run_check)
        self._check_serial = 0
        self.starting: Job | None = None

        self._apply_preset()
        self.attach.toggled.connect(lambda _c: self._usage_changed())
        self.adapter_picker.activated.connect(lambda _i: self._usage_changed())
        self.compare.clicked.connect(self._compare)
        self.preset.currentIndexChanged.connect(lambda _i: self._apply_preset())
        self.dataset.currentIndexChanged.connect(lambda _i: self._show_stats())
        self.seq.valueChanged.connect(lambda _v: self._show_check())
        self.batch.valueChanged.connect(lambda _v: self._show_check())
        self.rank.valueChanged.connect(lambda _v: self._show_check())
        self.base.currentIndexChanged.connect(lambda _i: self._show_check())
        self.import_data.clicked.connect(self._import)
        self.from_examples.clicked.connect(self._from_examples)
        self.generate.clicked.connect(self._generate)
        self.train_button.clicked.connect(self.start_training)
        self.resume.clicked.connect(self._resume)
        self.cancel.clicked.connect(self._cancel)
        self.show_log.clicked.connect(self._log)
        self.jobs.currentItemChanged.connect(lambda *_: self._job_selected())
        state.changed.connect(self.refresh)

    # -- the assistant's use -----------------------------------------------------------------

    def refresh(self) -> None:
        d = self.state.draft
        adapters = self.engine.adapters.list()
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
        fill_combo(self.dataset, self.engine.datasets.names())
        models = [m.name for m in self.engine.models.list()]
        if fill_combo(self.base, models) and d is not None:
            self.base.setCurrentText(d.model)
        self._show_check()
        self._show_stats()
        self._fill_jobs()

    def _usage_changed(self) -> None:
        on = self.attach.isChecked() and self.adapter_picker.currentText()
        self.adapter_picker.setEnabled(self.attach.isChecked())
        self.state.update(adapter=self.adapter_picker.currentText() if on else None)

    def _compare(self) -> None:
        d = self.state.draft
        if d is None or not d.adapter:
            return
        CompareDialog(self.engine, d, self).exec()

    # -- data --------------------------------------------------------------------------------

    def _show_stats(self) -> None:
        name = self.dataset.currentText()
        if not name:
            self.data_stats.setText(
                "No dataset yet. Import conversations (JSONL/CSV/Parquet), turn an example set "
                "into one, or generate question–answer pairs from a knowledge base."
            )
            return
        key = self._stats_key()
        if key in self._lengths:  # a saved dataset never changes: count once
            self._show_lengths(key)
            return
        self.data_stats.setText(f"Counting the tokens in “{name}”…")
        if key in self._counting:
            return
        # Loading the tokenizer and counting every conversation takes seconds on a large
        # dataset: in the background.
        self._counting.add(key)
        engine = self.engine

        def count(_cancel):
            counter = engine.token_counter(key[1])
            return [counter(c) for c in engine.datasets.get(key[0])]

        job = Job(count, self)
        job.succeeded.connect(lambda lengths: self._counted(key, lengths))
        job.failed.connect(lambda error: self._count_failed(key, error))
        job.start()

    def _stats_key(self) -> tuple[str, str]:
        return self.dataset.currentText(), self.base.currentText() or self.state.draft.model

    def _counted(self, key: tuple[str, str], lengths: list[int]) -> None:
        self._counting.discard(key)
        self._lengths[key] = lengths
        if key == self._stats_key():
            self._show_lengths(key)

    def _count_failed(self, key: tuple[str, str], error: Exception) -> None:
        self._counting.discard(key)
        if key != self._stats_key():
            return
        if isinstance(error, TailorError):
            self.data_stats.setText(str(error))
        else:
            show_error(self, error)

    def _show_lengths(self, key: tuple[str, str]) -> None:
        from engine.finetune.datasets import length_stats

        lengths, raised = self._lengths[key], None
        if self._fit_raft == key[0]:
            self._fit_raft = None
            needed = -(-max(lengths, default=0) // 128) * 128
            if self.engine.datasets.kind(key[0]) == "raft" and needed > self.seq.value():
                self.seq.setValue(needed)
                raised = needed
        stats = length_stats(lengths, self.seq.value())
        text = stats.summary()
        if stats.warning:
            text += f"<br><b>Note:</b> {stats.warning}"
        if raised:
            text += (
                f"<br>Maximum sequence length raised to {raised} so every RAFT example "
                "(the question with its passages) fits."
            )
        self.data_stats.setText(text)

    def select_dataset(self, name: str) -> None:
        """Show ``name`` ready to train (from the RAFT page): a RAFT example carries k + 1
        passages, so the maximum sequence length is raised to fit the longest one once its
        tokens are counted."""
        self._fit_raft = name
        self.refresh()
        self.dataset.setCurrentText(name)
        self._show_stats()

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import training data", "", "Training data (*.jsonl *.json *.csv *.parquet)"
        )
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path) -> None:
        name = import_named(self, "Import training data", path, self.engine.datasets.import_file)
        if name:
            self.refresh()
            self.dataset.setCurrentText(name)

    def _from_examples(self) -> None:
        names = self.engine.examples.names()
        if not names:
            show_error(self, "There are no example sets yet: make one on the Examples page.")
            return
        chosen, ok = QInputDialog.getItem(self, "From examples", "Example set:", names, 0, False)
        if not ok:
            return
        try:
            system = self.state.draft.system_prompt if self.state.draft else ""
            self.engine.datasets.from_examples(chosen, self.engine.examples.get(chosen), system)
        except TailorError as exc:
            show_error(self, exc)
            return
        self.refresh()
        self.dataset.setCurrentText(chosen)

    def _generate(self) -> None:
        from desktop.pages.evaluate import GenerateDialog

        if not self.engine.knowledge.names():
            show_error(self, "There are no knowledge bases yet: index a folder on Knowledge first.")
            return
        engine = self.engine

        def save(name, cases):
            rows = [
                [
                    {"role": "user", "content": c.input},
                    {"role": "assistant", "content": c.references[0]},
                ]
                for c in cases
            ]
            engine.datasets.save(name, rows, "Generated from a knowledge base")

        dialog = GenerateDialog(engine, self, save, "training data", "Generated pairs")
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.refresh()

    # -- training ----------------------------------------------------------------------------

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
        p = PRESETS[self.preset.currentData()]
        return p.model_copy(
            update={
                "rank": self.rank.value(),
                "alpha": self.alpha.value(),
                "learning_rate": self.lr.value(),
                "batch_size": self.batch.value(),
                "max_seq_length": self.seq.value(),
                "save_every": self.save_every.value(),
                "responses_only": self.responses_only.isChecked(),
                "max_steps": self.steps.value() or None,
                "epochs": self.epochs.value(),
            }
        )

    def _show_check(self) -> None:
        """Check the memory again once the settings rest for a moment."""
        self._check_timer.start()

    def _run_check(self) -> None:
        base = self.base.currentText()
        if not base:
            return
        self._check_serial += 1
        serial, jobs, options = self._check_serial, self.engine.jobs, self.options()
        job = Job(lambda _cancel: jobs.check(base, options), self)
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
        jobs, base, options = self.engine.jobs, self.base.currentText(), self.options()
        self.starting = Job(lambda _cancel: jobs.start(name, base, dataset, options), self)
        self.starting.succeeded.connect(self._training_started)
        self.starting.finished.connect(self._start_finished)
        self.train_button.setEnabled(False)
        self.train_button.setText("Starting…")
        self.starting.start()

    def _training_started(self, job) -> None:
        self.shown_job = job.id
        self._fill_jobs()

    def _start_finished(self) -> None:
        self.starting = None
        self.train_button.setEnabled(True)
        self.train_button.setText("Train")

    def _selected_job(self):
        item = self.jobs.currentItem()
        return self.engine.jobs.get(item.data(0, Qt.ItemDataRole.UserRole)) if item else None

    def _resume(self) -> None:
        job = self._selected_job()
        if job is None:
            return
        try:
            self.engine.jobs.resume(job.adapter)
        except TailorError as exc:
            show_error(self, exc)
        self.poll()

    def _cancel(self) -> None:
        job = self._selected_job()
        if job is None:
            return
        try:
            self.engine.jobs.cancel(job.id)
        except TailorError as exc:
            show_error(self, exc)
        self.poll()

    def _log(self) -> None:
        job = self._selected_job()
        if job is None:
            return
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Training log: {job.adapter}")
        dialog.resize(900, 560)
        text = QPlainTextEdit()
        text.setReadOnly(True)
        try:
            text.setPlainText((job.folder / "train.log").read_text(errors="replace")[-200_000:])
        except OSError as exc:
            text.setPlainText(f"No log yet ({exc.strerror}).")
        QVBoxLayout(dialog).addWidget(text)
        dialog.exec()

    # -- following jobs ----------------------------------------------------------------------

    def _fill_jobs(self) -> None:
        jobs = self.engine.jobs.list()
        keep = self.shown_job
        self.jobs.blockSignals(True)
        self.jobs.clear()
        for job in jobs:
            loss = f"{job.train_losses[-1][1]:.3f}" if job.train_losses else ""
            steps = f"{job.step}/{job.total_steps}" if job.total_steps else ""
            item = QTreeWidgetItem([job.adapter, job.status, steps, loss])
            item.setData(0, Qt.ItemDataRole.UserRole, job.id)
            if job.message:
                item.setToolTip(1, job.message)
            self.jobs.addTopLevelItem(item)
            if keep is None or job.id == keep:
                self.jobs.setCurrentItem(item)
                keep = job.id
        self.jobs.blockSignals(False)
        self.shown_job = keep
        self._show_job()

    def _job_selected(self) -> None:
        item = self.jobs.currentItem()
        self.shown_job = item.data(0, Qt.ItemDataRole.UserRole) if item else None
        self._show_job()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()
        self.timer.start()  # follow the jobs while the page is on screen

    def hideEvent(self, event) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def poll(self) -> None:
        """Re-read the jobs' files (the training process writes them)."""
        before = [a.name for a in self.engine.adapters.list()]
        self._fill_jobs()
        if len(self.engine.adapters.names()) != len(before):
            self.refresh()  # a job finished: its adapter can be attached now

    def _show_job(self) -> None:
        if self.shown_job is None:
            self.job_status.setText("No training jobs yet.")
            self.resume.setEnabled(False)
            self.cancel.setEnabled(False)
            self.show_log.setEnabled(False)
            return
        job = self.engine.jobs.get(self.shown_job)
        self.job_status.setText(
            job.summary()
            + (f"<br>{job.message}" if job.message and job.status == "running" else "")
        )
        self.resume.setEnabled(job.resumable)
        self.cancel.setEnabled(job.status in ("running", "preparing", "queued"))
        self.show_log.setEnabled(True)
        self.train_series.replace([QPointF(s, v) for s, v in job.train_losses])
        self.eval_series.replace([QPointF(s, v) for s, v in job.eval_losses])
        values = [v for _, v in job.train_losses + job.eval_losses]
        self.ax.setRange(0, max(job.total_steps, job.step, 1))
        self.ay.setRange(0, max(values) * 1.1 if values else 1.0)
        self.chart.setTitle(f"Loss · {job.adapter}")


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
        from engine.api import Reply, TokenEvent

        message = self.prompt.text().strip()
        if not message or (self.job is not None and self.job.running):
            return
        for out in self.outputs.values():
            out.clear()
        engine, tuned = self.engine, self.config
        base = tuned.model_copy(update={"adapter": None})

        def work(cancel):
            for key, config in (("base", base), ("tuned", tuned)):
                for event in engine.chat(message, config=config, cancel=cancel, seed=0):
                    if isinstance(event, TokenEvent):
                        yield key, event.text
                    elif isinstance(event, Reply):
                        yield key, f"\n\n— {event.stats.summary()}"

        self.job = Job(work, self)
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
