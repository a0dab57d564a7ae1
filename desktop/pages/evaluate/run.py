"""The Run tab: the set, the assistants (current or earlier versions) and the options, the run
with its progress and cancel, and the history of runs to open, resume, compare or delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.errors import show_error
from desktop.pages.base import button_row, fill_combo
from desktop.pages.evaluate.compare import CompareDialog
from desktop.pages.evaluate.judge import JudgePromptDialog
from desktop.pages.evaluate.sets import SetList
from desktop.worker import Job
from engine.api import Progress
from engine.errors import TailorError
from engine.types import RunOptions, Target


class RunTab(QWidget):
    """Choose what to evaluate, run it in the background, and keep the runs."""

    sets_changed = Signal()
    run_opened = Signal(int)  # the user asked to see this run's scoreboard
    run_finished = Signal(int, str)  # a run this tab started stopped, with its status
    status_message = Signal(str)

    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.job: Job | None = None
        self.reading: Job | None = None  # two runs read for comparing, in the background
        self.run_id: int | None = None  # the run this tab started last
        defaults = RunOptions()
        self.judge_prompt, self.rubric = defaults.judge_prompt, defaults.rubric
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.sets = SetList(engine)
        self.sets.changed.connect(self.sets_changed)
        self.sets.status_message.connect(self.status_message)
        top.addWidget(self.sets, 5)
        top.addWidget(self._build_targets(), 4)
        top.addWidget(self._build_options(), 3)
        outer.addLayout(top, 3)

        run_row = QHBoxLayout()
        self.run_button = QPushButton("Run evaluation")
        self.run_button.setObjectName("runEval")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setObjectName("evalProgress")
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress, 1)
        outer.addLayout(run_row)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("hint")
        outer.addWidget(self.progress_label)
        outer.addWidget(self._build_history(), 2)
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button.clicked.connect(self.cancel_run)
        self._set_running(False)

    def _build_targets(self) -> QGroupBox:
        who = QGroupBox("2 · Assistants to compare")
        w = QVBoxLayout(who)
        self.targets = QListWidget()
        self.targets.setObjectName("evalTargets")
        w.addWidget(self.targets, 1)
        add_version = QPushButton("Add an earlier version…")
        add_version.clicked.connect(self._add_version)
        w.addWidget(add_version)
        return who

    def _build_options(self) -> QGroupBox:
        opts = QGroupBox("3 · Options")
        form = QFormLayout(opts)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(0, 4096)
        self.max_tokens.setSpecialValueText("assistant's own")
        self.max_tokens.setValue(64)
        self.max_tokens.setToolTip("Short answers keep runs quick; 0 uses each assistant's limit")
        form.addRow("Answer length", self.max_tokens)
        self.greedy = QCheckBox("Deterministic (temperature 0)")
        self.greedy.setChecked(True)
        form.addRow("", self.greedy)
        self.judge = QComboBox()
        self.judge.setObjectName("judgeModel")
        form.addRow("Judge model", self.judge)
        edit_judge = QPushButton("Judge prompt…")
        edit_judge.clicked.connect(self._edit_judge)
        form.addRow("", edit_judge)
        self.price = QDoubleSpinBox()
        self.price.setDecimals(4)
        self.price.setRange(0, 1)
        self.price.setSingleStep(0.0005)
        self.price.setSpecialValueText("none")
        self.price.setPrefix("$")
        self.price.setToolTip("Compare with a paid API charging this per 1,000 tokens")
        form.addRow("API price / 1K tokens", self.price)
        return opts

    def _build_history(self) -> QGroupBox:
        history = QGroupBox("Runs")
        h = QVBoxLayout(history)
        self.runs = QTreeWidget()
        self.runs.setObjectName("evalRuns")
        self.runs.setHeaderLabels(["Run", "When", "Set", "Assistants", "Done", "Status"])
        self.runs.setRootIsDecorated(False)
        self.runs.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs.header().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        h.addWidget(self.runs, 1)
        self.open_run = QPushButton("Open")
        self.resume_run = QPushButton("Resume")
        self.compare_runs = QPushButton("Compare two…")
        self.delete_run = QPushButton("Delete")
        h.addLayout(
            button_row(self.open_run, self.resume_run, self.compare_runs, self.delete_run, None)
        )
        self.open_run.clicked.connect(self._open_selected)
        self.runs.itemDoubleClicked.connect(lambda *_: self._open_selected())
        self.resume_run.clicked.connect(self._resume_selected)
        self.compare_runs.clicked.connect(self._compare_selected)
        self.delete_run.clicked.connect(self._delete_runs)
        return history

    def refresh(self) -> None:
        """Reload sets, assistants (keeping the ticks and added versions), judges and runs."""
        self.sets.refresh()
        checked = self._checked_targets()
        extra = [t for t in checked if t.version is not None]
        self.targets.clear()
        for name in self.engine.list_assistants():
            self.add_target(Target(name), not checked or Target(name) in checked)
        for t in extra:
            self.add_target(t, True)
        models = ["(none)"] + [m.name for m in self.engine.list_models()]
        fill_combo(self.judge, models)
        self._fill_runs()

    # -- what to run -------------------------------------------------------------------------

    def add_target(self, target: Target, checked: bool) -> None:
        """List an assistant (its current version, or a fixed one) to tick for the run."""
        if target.version is None:
            v = self.engine.get_assistant(target.assistant)
            text = f"{target.assistant} · current (v{v.version}) · L{v.level}"
        else:
            v = self.engine.get_assistant(target.assistant, target.version)
            text = f"{target.assistant} · v{v.version} · L{v.level}"
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, target)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.targets.addItem(item)

    def _checked_targets(self) -> list[Target]:
        out = []
        for i in range(self.targets.count()):
            item = self.targets.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def _add_version(self) -> None:
        choices = [
            f"{name}@{v.version}"
            for name in self.engine.list_assistants()
            for v in self.engine.assistant_history(name)
        ]
        choice, ok = QInputDialog.getItem(self, "Add a version", "Version:", choices, 0, False)
        if ok:
            self.add_target(Target.parse(choice), True)

    def _edit_judge(self) -> None:
        dialog = JudgePromptDialog(self.judge_prompt, self.rubric, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.judge_prompt, self.rubric = dialog.values()

    def options(self) -> RunOptions:
        """The run options as set on this tab."""
        judge = self.judge.currentText()
        return RunOptions(
            max_tokens=self.max_tokens.value() or None,
            temperature=0.0 if self.greedy.isChecked() else None,
            judge_model=judge if judge and judge != "(none)" else None,
            judge_prompt=self.judge_prompt,
            rubric=self.rubric,
            price_per_1k_tokens=self.price.value() or None,
        )

    # -- running -----------------------------------------------------------------------------

    def start_run(self) -> None:
        """Create a run of the chosen set against the ticked assistants and start it."""
        name = self.sets.selected()
        if not name:
            show_error(self, "Choose an evaluation set first (or import one).")
            return
        try:
            run_id = self.engine.create_eval_run(name, self._checked_targets(), self.options())
        except TailorError as exc:
            show_error(self, exc)
            return
        self.start(run_id)

    def start(self, run_id: int) -> None:
        """Run (or finish) ``run_id`` in the background; one run at a time."""
        if self.running:
            show_error(self, "An evaluation is already running; cancel it or wait.")
            return
        self.run_id = run_id
        engine = self.engine
        self.job = Job(lambda cancel: engine.evaluate(run_id, cancel=cancel), self, "Evaluation")
        self.job.event.connect(self._on_progress)
        self.job.finished.connect(self._on_finished)
        self._set_running(True)
        self.progress_label.setText(f"Run {run_id}: starting…")
        self.job.start()
        self._fill_runs()

    def cancel_run(self) -> None:
        """Stop the run after the answer in progress; it can be resumed later."""
        if self.job is not None:
            self.job.cancel()
            self.progress_label.setText("Stopping after the current answer…")

    def _on_progress(self, p: Progress) -> None:
        self.progress.setMaximum(max(p.total, 1))
        self.progress.setValue(p.done)
        eta = f" · about {p.eta_s:.0f} s left" if p.eta_s else ""
        self.progress_label.setText(
            f"Run {p.detail.run_id} · {p.phase} {p.done}/{p.total} · {p.label}{eta}"
        )

    def _on_finished(self) -> None:
        self._set_running(False)
        self._fill_runs()
        if self.run_id is not None:
            run = self.engine.get_eval_run(self.run_id)
            self.progress_label.setText(
                f"Run {self.run_id}: {run['status']}"
                + (f" — {run['message']}" if run["message"] else "")
            )
            self.run_finished.emit(self.run_id, run["status"])
            if run["status"] == "done":
                self.status_message.emit(f"Evaluation run {self.run_id} finished.")

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.resume_run.setEnabled(not running)
        self.progress.setVisible(running)

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self.job is not None and self.job.running

    # -- run history -------------------------------------------------------------------------

    def _fill_runs(self) -> None:
        self.runs.clear()
        for r in self.engine.list_eval_runs():
            item = QTreeWidgetItem(
                [
                    str(r["id"]),
                    r["created_at"],
                    f"{r['set_name']} v{r['set_version']}",
                    ", ".join(r["assistants"]),
                    f"{r['results']}/{r['cases'] * r['configs']}",
                    r["status"],
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, r["id"])
            if r["message"]:
                item.setToolTip(5, r["message"])
            self.runs.addTopLevelItem(item)
        for i in range(self.runs.columnCount()):
            if i != 3:
                self.runs.resizeColumnToContents(i)

    def _selected_runs(self) -> list[int]:
        return [i.data(0, Qt.ItemDataRole.UserRole) for i in self.runs.selectedItems()]

    def _open_selected(self) -> None:
        runs = self._selected_runs()
        if runs:
            self.run_opened.emit(runs[0])

    def _resume_selected(self) -> None:
        runs = self._selected_runs()
        if runs:
            self.start(runs[0])

    def _delete_runs(self) -> None:
        for run_id in self._selected_runs():
            self.engine.delete_eval_run(run_id)
        self._fill_runs()

    def _compare_selected(self) -> None:
        runs = sorted(self._selected_runs())
        if len(runs) != 2:
            show_error(self, "Select two runs (Ctrl+click) to compare them.")
            return
        engine, (a, b) = self.engine, runs
        self.reading = Job(lambda _cancel: engine.compare_runs(a, b), self, "Compare runs")
        self.reading.succeeded.connect(lambda rows: CompareDialog(rows, a, b, self).exec())
        self.reading.start()
