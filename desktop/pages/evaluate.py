"""Evaluate: evaluation sets, runs against several assistants at once, the scoreboard with its
chart, the per-case view, run history and comparison, and the advisor."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCharts import QChart, QChartView, QScatterSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.errors import show_error
from desktop.pages.base import fill_combo, import_named, page_header
from desktop.worker import Job
from engine import bundled
from engine.errors import TailorError
from engine.evaluation import advisor
from engine.evaluation.runs import METRIC, METRICS, SPEED_KEYS, RunOptions, Target
from engine.evaluation.sets import Case

QUALITY = [x for x in METRICS if x.key not in SPEED_KEYS]
X_AXES = [
    ("latency_s", "Latency (s)"),
    ("compute_s", "CPU s/query"),
    ("api_cost", "API $/query"),
    ("tokens_in", "Tokens in"),
]
HELPED, HURT = QColor(46, 160, 67, 70), QColor(218, 54, 51, 70)


def _cell(text: str, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if tip:
        item.setToolTip(tip)
    return item


def format_metric(key: str, cell: dict | None) -> str:
    if cell is None:
        return "—"
    text = METRIC[key].fmt.format(cell["value"])
    if "low" in cell and cell["high"] > cell["low"]:
        text += f" ± {(cell['high'] - cell['low']) / 2:.2f}"
    return text


class EvaluatePage(QWidget):
    status_message = Signal(str)

    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.job: Job | None = None
        self.run_id: int | None = None  # the run the scoreboard shows
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.addWidget(
            page_header(
                "Evaluate",
                "Run one evaluation set against several assistants at once and compare accuracy, "
                "latency and cost side by side. Climb the ladder only when the numbers say so.",
            )
        )
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evalTabs")
        self.tabs.addTab(self._build_run_tab(), "Run")
        self.tabs.addTab(self._build_scoreboard_tab(), "Scoreboard")
        self.tabs.addTab(self._build_cases_tab(), "Cases")
        self.tabs.addTab(self._build_advisor_tab(), "Advisor")
        layout.addWidget(self.tabs, 1)
        self._set_running(False)

    # -- the Run tab -------------------------------------------------------------------------

    def _build_run_tab(self) -> QWidget:
        tab = QWidget()
        outer = QVBoxLayout(tab)
        top = QHBoxLayout()

        sets_box = QGroupBox("1 · Evaluation set")
        s = QVBoxLayout(sets_box)
        self.sets = QListWidget()
        self.sets.setObjectName("evalSets")
        s.addWidget(self.sets, 1)
        row = QHBoxLayout()
        self.import_set = QPushButton("Import…")
        self.import_set.setToolTip("JSONL, CSV or SQuAD JSON with questions and reference answers")
        self.from_examples = QPushButton("From examples or data…")
        self.generate = QPushButton("Generate from knowledge…")
        self.delete_set = QPushButton("Delete")
        for w in (self.import_set, self.from_examples, self.generate, self.delete_set):
            row.addWidget(w)
        s.addLayout(row)
        self.set_info = QLabel()
        self.set_info.setObjectName("hint")
        self.set_info.setWordWrap(True)
        s.addWidget(self.set_info)
        top.addWidget(sets_box, 5)

        who = QGroupBox("2 · Assistants to compare")
        w = QVBoxLayout(who)
        self.targets = QListWidget()
        self.targets.setObjectName("evalTargets")
        w.addWidget(self.targets, 1)
        add_version = QPushButton("Add an earlier version…")
        add_version.clicked.connect(self._add_version)
        w.addWidget(add_version)
        top.addWidget(who, 4)

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
        top.addWidget(opts, 3)
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

        history = QGroupBox("Runs")
        h = QVBoxLayout(history)
        self.runs = QTreeWidget()
        self.runs.setObjectName("evalRuns")
        self.runs.setHeaderLabels(["Run", "When", "Set", "Assistants", "Done", "Status"])
        self.runs.setRootIsDecorated(False)
        self.runs.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs.header().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        h.addWidget(self.runs, 1)
        hrow = QHBoxLayout()
        self.open_run = QPushButton("Open")
        self.resume_run = QPushButton("Resume")
        self.compare_runs = QPushButton("Compare two…")
        self.delete_run = QPushButton("Delete")
        for b in (self.open_run, self.resume_run, self.compare_runs, self.delete_run):
            hrow.addWidget(b)
        hrow.addStretch(1)
        h.addLayout(hrow)
        outer.addWidget(history, 2)

        self.sets.currentItemChanged.connect(lambda *_: self._show_set_info())
        self.import_set.clicked.connect(self._import)
        self.from_examples.clicked.connect(self._from_examples)
        self.generate.clicked.connect(self._generate)
        self.delete_set.clicked.connect(self._delete_set)
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button.clicked.connect(self.cancel_run)
        self.open_run.clicked.connect(self._open_selected)
        self.runs.itemDoubleClicked.connect(lambda *_: self._open_selected())
        self.resume_run.clicked.connect(self._resume_selected)
        self.compare_runs.clicked.connect(self._compare_selected)
        self.delete_run.clicked.connect(self._delete_run)
        self.judge_prompt = RunOptions().judge_prompt
        self.rubric = RunOptions().rubric
        return tab

    def refresh(self) -> None:
        current = self.sets.currentItem()
        keep = current.data(Qt.ItemDataRole.UserRole) if current else None
        self.sets.clear()
        for s in self.engine.eval_sets.summary():
            item = QListWidgetItem(f"{s['name']}  ·  v{s['version']}  ·  {s['cases']} cases")
            item.setData(Qt.ItemDataRole.UserRole, s["name"])
            self.sets.addItem(item)
            if s["name"] == keep or keep is None:
                self.sets.setCurrentItem(item)
                keep = s["name"]
        checked = self._checked_targets()
        extra = [t for t in checked if t.version is not None]
        self.targets.clear()
        for name in self.engine.assistants.names():
            self._add_target(Target(name), not checked or Target(name) in checked)
        for t in extra:
            self._add_target(t, True)
        models = ["(none)"] + [m.name for m in self.engine.models.list()]
        fill_combo(self.judge, models)
        self._fill_runs()
        self._show_set_info()
        self._refresh_advice()

    def _add_target(self, target: Target, checked: bool) -> None:
        if target.version is None:
            v = self.engine.assistants.current(target.assistant)
            text = f"{target.assistant} · current (v{v.version}) · L{v.level}"
        else:
            v = self.engine.assistants.get(target.assistant, target.version)
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

    def set_targets(self, names: list[str]) -> None:
        """Check exactly the named assistants (current versions)."""
        for i in range(self.targets.count()):
            item = self.targets.item(i)
            t = item.data(Qt.ItemDataRole.UserRole)
            on = t.version is None and t.assistant in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _add_version(self) -> None:
        choices = [
            f"{name}@{v.version}"
            for name in self.engine.assistants.names()
            for v in self.engine.assistants.history(name)
        ]
        choice, ok = QInputDialog.getItem(self, "Add a version", "Version:", choices, 0, False)
        if ok:
            self._add_target(Target.parse(choice), True)

    def _selected_set(self) -> str | None:
        item = self.sets.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _show_set_info(self) -> None:
        name = self._selected_set()
        if not name:
            self.set_info.setText(
                "No evaluation set yet. Import one (JSONL/CSV with input and answer columns, or "
                "SQuAD JSON), make one from an example set, or generate one from a knowledge base."
            )
            return
        v = self.engine.eval_sets.get(name)
        with_docs = sum(1 for c in v.cases if c.sources)
        first = v.cases[0]
        self.set_info.setText(
            f"{v.label}: {len(v.cases)} cases"
            + (f", {with_docs} with reference documents (retrieval is scored)" if with_docs else "")
            + f". First: “{first.input[:90]}” → “{' | '.join(first.references)[:60]}”"
        )

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import evaluation set", "", "Evaluation sets (*.jsonl *.json *.csv)"
        )
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path) -> None:
        name = import_named(self, "Import evaluation set", path, self.engine.eval_sets.import_file)
        if name:
            self.refresh()
            v = self.engine.eval_sets.get(name)
            self.status_message.emit(f"Imported {len(v.cases)} cases as {v.label}.")

    def _from_examples(self) -> None:
        sources = [f"Example set: {n}" for n in self.engine.examples.names()] + [
            f"Fine-tuning dataset (held-out 10%): {n}" for n in self.engine.datasets.names()
        ]
        if not sources:
            show_error(
                self,
                "There are no example sets or datasets yet: make an example set on "
                "the Examples page, or import a dataset on Fine-tune.",
            )
            return
        chosen, ok = QInputDialog.getItem(self, "New evaluation set", "From:", sources, 0, False)
        if not ok:
            return
        kind, _, name = chosen.partition(": ")
        try:
            if kind == "Example set":
                v = self.engine.eval_sets.from_examples(name, self.engine.examples.get(name))
            else:
                v = self.engine.eval_sets.from_dataset(
                    f"{name} (held out)", self.engine.datasets.get(name)
                )
        except TailorError as exc:
            show_error(self, exc)
            return
        self.refresh()
        self.status_message.emit(f"Made {v.label} from {chosen}.")

    def _generate(self) -> None:
        if not self.engine.knowledge.names():
            show_error(self, "There are no knowledge bases yet: index a folder on Knowledge first.")
            return
        dialog = GenerateDialog(self.engine, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.refresh()

    def _delete_set(self) -> None:
        name = self._selected_set()
        if not name:
            return
        answer = QMessageBox.question(
            self, "Delete evaluation set", f"Delete '{name}', all its versions and its runs?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.engine.eval_sets.delete(name)
            self.refresh()

    def _edit_judge(self) -> None:
        dialog = JudgePromptDialog(self.judge_prompt, self.rubric, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.judge_prompt, self.rubric = dialog.values()

    # -- running -----------------------------------------------------------------------------

    def options(self) -> RunOptions:
        judge = self.judge.currentText()
        return RunOptions(
            max_tokens=self.max_tokens.value() or None,
            temperature=0.0 if self.greedy.isChecked() else None,
            judge_model=judge if judge and judge != "(none)" else None,
            judge_prompt=self.judge_prompt,
            rubric=self.rubric,
            price_per_1k_tokens=self.price.value() or None,
        )

    def start_run(self) -> None:
        name = self._selected_set()
        if not name:
            show_error(self, "Choose an evaluation set first (or import one).")
            return
        try:
            run_id = self.engine.evals.create(name, self._checked_targets(), self.options())
        except TailorError as exc:
            show_error(self, exc)
            return
        self._start(run_id)

    def start_existing(self, run_id: int) -> None:
        """Run (or finish) a run created elsewhere, e.g. the RAFT page's comparison."""
        self.refresh()
        self.tabs.setCurrentIndex(0)
        self._start(run_id)

    def _start(self, run_id: int) -> None:
        if self.job is not None and self.job.running:
            show_error(self, "An evaluation is already running; cancel it or wait.")
            return
        self.run_id = run_id
        evals = self.engine.evals
        self.job = Job(lambda cancel: evals.run(run_id, cancel), self)
        self.job.event.connect(self._on_progress)
        self.job.failed.connect(lambda m: show_error(self, m))
        self.job.finished.connect(self._on_finished)
        self._set_running(True)
        self.progress_label.setText(f"Run {run_id}: starting…")
        self.job.start()
        self._fill_runs()

    def cancel_run(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.progress_label.setText("Stopping after the current answer…")

    def _on_progress(self, p) -> None:
        self.progress.setMaximum(max(p.total, 1))
        self.progress.setValue(p.done)
        eta = f" · about {p.eta_s:.0f} s left" if p.eta_s else ""
        self.progress_label.setText(
            f"Run {p.run_id} · {p.phase} {p.done}/{p.total} · {p.label}{eta}"
        )

    def _on_finished(self) -> None:
        self._set_running(False)
        self._fill_runs()
        if self.run_id is not None:
            run = self.engine.evals.get(self.run_id)
            self.progress_label.setText(
                f"Run {self.run_id}: {run['status']}"
                + (f" — {run['message']}" if run["message"] else "")
            )
            self.show_run(self.run_id)
            if run["status"] == "done":
                self.tabs.setCurrentIndex(1)
                self.status_message.emit(f"Evaluation run {self.run_id} finished.")

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.resume_run.setEnabled(not running)
        self.progress.setVisible(running)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    # -- run history -------------------------------------------------------------------------

    def _fill_runs(self) -> None:
        self.runs.clear()
        for r in self.engine.evals.list():
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
            self.show_run(runs[0])
            self.tabs.setCurrentIndex(1)

    def _resume_selected(self) -> None:
        runs = self._selected_runs()
        if runs:
            self._start(runs[0])

    def _delete_run(self) -> None:
        for run_id in self._selected_runs():
            self.engine.evals.delete(run_id)
        self._fill_runs()

    def _compare_selected(self) -> None:
        runs = sorted(self._selected_runs())
        if len(runs) != 2:
            show_error(self, "Select two runs (Ctrl+click) to compare them.")
            return
        CompareDialog(self.engine, runs[0], runs[1], self).exec()

    # -- the Scoreboard tab ------------------------------------------------------------------

    def _build_scoreboard_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.board_title = QLabel("No run yet: run an evaluation on the Run tab.")
        self.board_title.setObjectName("sectionTitle")
        layout.addWidget(self.board_title)
        self.board = QTableWidget()
        self.board.setObjectName("scoreboard")
        self.board.verticalHeader().setVisible(False)
        self.board.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.board)
        lower = QWidget()
        low = QHBoxLayout(lower)
        low.setContentsMargins(0, 0, 0, 0)
        chart_box = QVBoxLayout()
        axes = QHBoxLayout()
        axes.addWidget(QLabel("Chart"))
        self.chart_y = QComboBox()
        for x in QUALITY:
            self.chart_y.addItem(x.label, x.key)
        self.chart_y.setCurrentIndex(1)  # F1
        self.chart_x = QComboBox()
        for key, label in X_AXES:
            self.chart_x.addItem(label, key)
        axes.addWidget(self.chart_y)
        axes.addWidget(QLabel("against"))
        axes.addWidget(self.chart_x)
        axes.addStretch(1)
        chart_box.addLayout(axes)
        self.chart = QChart()
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setObjectName("scoreChart")
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(240)
        chart_box.addWidget(self.chart_view, 1)
        low.addLayout(chart_box, 3)
        self.numbers_advice = QLabel()
        self.numbers_advice.setObjectName("numbersAdvice")
        self.numbers_advice.setWordWrap(True)
        self.numbers_advice.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.numbers_advice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        advice_box = QGroupBox("What the numbers say")
        a = QVBoxLayout(advice_box)
        a.addWidget(self.numbers_advice)
        a.addStretch(1)
        low.addWidget(advice_box, 2)
        split.addWidget(lower)
        split.setSizes([220, 320])
        layout.addWidget(split, 1)
        self.chart_y.currentIndexChanged.connect(lambda _i: self._draw_chart())
        self.chart_x.currentIndexChanged.connect(lambda _i: self._draw_chart())
        self.rows: list[dict] = []
        return tab

    def show_run(self, run_id: int) -> None:
        self.run_id = run_id
        run = self.engine.evals.get(run_id)
        self.rows = self.engine.evals.scoreboard(run_id)
        self.board_title.setText(
            f"Run {run_id} · {run['set_name']} v{run['set_version']} · {run['cases']} cases · "
            f"{run['status']} · {run['created_at']}"
        )
        shown = [x for x in METRICS if any(x.key in r["metrics"] for r in self.rows)]
        self.board.clear()
        self.board.setColumnCount(3 + len(shown))
        self.board.setHorizontalHeaderLabels(
            ["Configuration", "Level", "Cases"] + [x.label for x in shown]
        )
        self.board.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            self.board.setItem(i, 0, _cell(f"{r['assistant']} v{r['version']}"))
            self.board.setItem(i, 1, _cell(f"{r['level']} · {r['level_name']}"))
            errors = f" ({r['errors']} failed)" if r["errors"] else ""
            self.board.setItem(i, 2, _cell(f"{r['n']}{errors}"))
            for j, x in enumerate(shown, 3):
                cell = r["metrics"].get(x.key)
                tip = ""
                if cell and "low" in cell:
                    tip = f"95% interval {cell['low']:.2f} – {cell['high']:.2f}"
                elif cell:
                    tip = "median over cases"
                item = _cell(format_metric(x.key, cell), tip)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.board.setItem(i, j, item)
        self.board.resizeColumnsToContents()
        self.board.horizontalHeader().setStretchLastSection(True)
        available = {x.key for x in shown}
        for i in range(self.chart_y.count()):
            if self.chart_y.itemData(i) in available:
                if self.chart_y.currentData() not in available:
                    self.chart_y.setCurrentIndex(i)
                break
        self._draw_chart()
        self._fill_cases()
        self._refresh_advice()

    def _draw_chart(self) -> None:
        chart = self.chart
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        ykey, xkey = self.chart_y.currentData(), self.chart_x.currentData()
        points = [
            (r, r["metrics"][xkey]["value"], r["metrics"][ykey]["value"])
            for r in self.rows
            if xkey in r["metrics"] and ykey in r["metrics"]
        ]
        chart.setTitle(f"{METRIC[ykey].label} against {dict(X_AXES)[xkey]}")
        if not points:
            return
        ax, ay = QValueAxis(), QValueAxis()
        ax.setTitleText(dict(X_AXES)[xkey])
        ay.setTitleText(METRIC[ykey].label)
        xmax = max(p[1] for p in points) or 1.0
        ax.setRange(0, xmax * 1.15)
        ay.setRange(0, 1.0)
        chart.addAxis(ax, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(ay, Qt.AlignmentFlag.AlignLeft)
        for r, x, y in points:
            series = QScatterSeries()
            series.setName(f"{r['label']}")
            series.setMarkerSize(14)
            series.append(QPointF(x, y))
            chart.addSeries(series)
            series.attachAxis(ax)
            series.attachAxis(ay)

    # -- the Cases tab -----------------------------------------------------------------------

    def _build_cases_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        top = QHBoxLayout()
        top.addWidget(QLabel("Score"))
        self.case_metric = QComboBox()
        for x in QUALITY:
            self.case_metric.addItem(x.label, x.key)
        self.case_metric.setCurrentIndex(1)
        top.addWidget(self.case_metric)
        self.case_summary = QLabel()
        self.case_summary.setObjectName("hint")
        top.addWidget(self.case_summary, 1)
        layout.addLayout(top)
        split = QSplitter(Qt.Orientation.Vertical)
        self.cases = QTableWidget()
        self.cases.setObjectName("caseTable")
        self.cases.verticalHeader().setVisible(False)
        self.cases.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.cases.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        split.addWidget(self.cases)
        self.case_detail = QTextBrowser()
        self.case_detail.setObjectName("caseDetail")
        split.addWidget(self.case_detail)
        split.setSizes([300, 200])
        layout.addWidget(split, 1)
        self.case_metric.currentIndexChanged.connect(lambda _i: self._fill_cases())
        self.cases.currentCellChanged.connect(lambda row, *_: self._show_case(row))
        self.case_rows: list[dict] = []
        return tab

    def _fill_cases(self) -> None:
        if self.run_id is None:
            return
        metric = self.case_metric.currentData()
        configs = self.engine.evals.configs(self.run_id)
        self.case_rows = self.engine.evals.per_case(self.run_id, metric)
        self.cases.clear()
        self.cases.setColumnCount(3 + len(configs))
        self.cases.setHorizontalHeaderLabels(
            ["Case", "Question", "Reference"] + [c["label"] for c in configs]
        )
        self.cases.setRowCount(len(self.case_rows))
        helped = hurt = 0
        for i, entry in enumerate(self.case_rows):
            self.cases.setItem(i, 0, _cell(entry["case"]))
            self.cases.setItem(i, 1, _cell(entry["input"], entry["input"]))
            self.cases.setItem(i, 2, _cell(" | ".join(entry["references"])))
            for j, cell in enumerate(entry["cells"], 3):
                if cell is None:
                    self.cases.setItem(i, j, _cell("—"))
                    continue
                score = "—" if cell["score"] is None else f"{cell['score']:.2f}"
                item = _cell(score, cell["response"])
                change = cell.get("change")
                if j > 3 and change == "helped":
                    item.setBackground(QBrush(HELPED))
                    helped += 1
                elif j > 3 and change == "hurt":
                    item.setBackground(QBrush(HURT))
                    hurt += 1
                self.cases.setItem(i, j, item)
        header = self.cases.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        if len(configs) > 1:
            self.case_summary.setText(
                f"Against the first configuration ({configs[0]['label']}): "
                f"green = better on {helped} case-results, red = worse on {hurt}."
            )
        else:
            self.case_summary.setText("Add a second assistant to a run to see where it helps.")
        if self.case_rows:
            self.cases.selectRow(0)

    def _show_case(self, row: int) -> None:
        if not 0 <= row < len(self.case_rows):
            return
        from html import escape

        entry = self.case_rows[row]
        configs = self.engine.evals.configs(self.run_id)
        parts = [
            f"<h3>{escape(entry['input'])}</h3>",
            f"<p><b>Reference:</b> {escape(' | '.join(entry['references']))}</p>",
        ]
        for cfg, cell in zip(configs, entry["cells"], strict=False):
            if cell is None:
                continue
            score = "—" if cell["score"] is None else f"{cell['score']:.2f}"
            sources = ", ".join(
                f"[{s['n']}] {escape(Path(s['source']).name)}" for s in cell["sources"]
            )
            parts.append(
                f"<p><b>{escape(cfg['label'])}</b> · score {score}<br>"
                f"{escape(cell['response']) or '<i>(empty)</i>'}"
                + (f"<br><small>Sources: {sources}</small>" if sources else "")
                + "</p>"
            )
        self.case_detail.setHtml("".join(parts))

    # -- the Advisor tab ---------------------------------------------------------------------

    def _build_advisor_tab(self) -> QWidget:
        tab = QWidget()
        layout = QHBoxLayout(tab)
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
                spin.valueChanged.connect(lambda _v: self._refresh_advice())
                self.answers[key] = spin
            else:
                box = QCheckBox(question)
                box.setChecked(advisor.Answers().model_dump()[key])
                box.toggled.connect(lambda _c: self._refresh_advice())
                form.addWidget(box)
                self.answers[key] = box
        self.start_advice = QLabel()
        self.start_advice.setObjectName("startAdvice")
        self.start_advice.setWordWrap(True)
        self.start_advice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addSpacing(8)
        form.addWidget(self.start_advice)
        form.addStretch(1)
        layout.addWidget(ask, 1)

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
        self.advice_metric = QComboBox()
        for x in QUALITY[:5]:
            self.advice_metric.addItem(x.label, x.key)
        self.advice_metric.setCurrentIndex(1)
        f.addRow("Judge by", self.advice_metric)
        f.addRow("Smallest gain worth having", self.min_gain)
        f.addRow("Most extra latency accepted", self.max_ratio)
        f.addRow("Examples Level 4 needs", self.min_examples)
        for w in (self.min_gain, self.max_ratio, self.min_examples):
            w.valueChanged.connect(lambda _v: self._refresh_advice())
        self.advice_metric.currentIndexChanged.connect(lambda _i: self._refresh_advice())
        self.run_advice = QLabel()
        self.run_advice.setObjectName("runAdvice")
        self.run_advice.setWordWrap(True)
        self.run_advice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f.addRow(self.run_advice)
        layout.addWidget(limits, 1)
        return tab

    def thresholds(self) -> advisor.Thresholds:
        return advisor.Thresholds(
            min_gain=self.min_gain.value(),
            max_latency_ratio=self.max_ratio.value(),
            min_finetune_examples=self.min_examples.value(),
            metric=self.advice_metric.currentData(),
        )

    def _refresh_advice(self) -> None:
        values = {
            k: (w.value() if isinstance(w, QSpinBox) else w.isChecked())
            for k, w in self.answers.items()
        }
        start = advisor.from_answers(advisor.Answers(**values), self.thresholds())
        self.start_advice.setText(f"<b>{start.headline}</b><br>" + "<br>".join(start.reasons))
        text = "Run an evaluation with assistants at two or more levels to get advice here."
        if self.rows:
            examples = max(self.engine.examples.counts().values(), default=0)
            numbers = advisor.from_scoreboard(self.rows, self.thresholds(), examples)
            if numbers:
                text = f"<b>{numbers.headline}</b><br>" + "<br>".join(
                    f"• {r}" for r in numbers.reasons
                )
        self.run_advice.setText(text)
        self.numbers_advice.setText(text)


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
        self._save = save or (lambda name, cases: engine.eval_sets.save(name, cases, "Generated"))
        self.setWindowTitle(f"Generate {what} from a knowledge base")
        self.resize(900, 560)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kb = QComboBox()
        self.kb.addItems(engine.knowledge.names())
        self.count = QSpinBox()
        self.count.setRange(1, 1000)
        self.count.setValue(20)
        self.writer = QComboBox()
        self.writer.addItems([m.name for m in engine.models.list()])
        self.writer.setCurrentText(bundled.DEFAULT_MODEL_NAME)
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
        from engine.synthetic import write_questions

        try:
            passages = self.engine.knowledge.sample(self.kb.currentText(), self.count.value())
        except TailorError as exc:
            show_error(self, exc)
            return
        engine, writer = self.engine, self.writer.currentText()
        self.job = Job(
            lambda cancel: write_questions(engine, passages, writer, cancel=cancel), self
        )
        self.job.event.connect(self._on_progress)
        self.job.failed.connect(lambda m: show_error(self, m))
        self.job.finished.connect(lambda: self.go.setEnabled(True))
        self.go.setEnabled(False)
        self.job.start()

    def _on_progress(self, p) -> None:
        self.progress.setMaximum(p.total)
        self.progress.setValue(p.done)
        self.progress.setFormat(f"%v/%m passages · {len(p.drafts)} questions")
        for d in p.drafts[self.table.rowCount() :]:
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


class JudgePromptDialog(QDialog):
    def __init__(self, prompt: str, rubric: str, parent=None):
        from PySide6.QtWidgets import QPlainTextEdit

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
        from engine.evaluation.judge import check_prompt

        if why := check_prompt(self.prompt.toPlainText()):
            show_error(self, why)
            return
        self.accept()

    def values(self) -> tuple[str, str]:
        return self.prompt.toPlainText(), self.rubric.toPlainText()


class CompareDialog(QDialog):
    def __init__(self, engine, run_a: int, run_b: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Run {run_a} → run {run_b}")
        self.resize(820, 420)
        layout = QVBoxLayout(self)
        rows = engine.evals.compare(run_a, run_b)
        keys = [x for x in METRICS if any(x.key in r["delta"] for r in rows)]
        table = QTableWidget(len(rows), 2 + len(keys))
        table.setObjectName("compareTable")
        table.setHorizontalHeaderLabels(
            [f"Run {run_b}", f"vs run {run_a}"] + [x.label for x in keys]
        )
        table.verticalHeader().setVisible(False)
        for i, r in enumerate(rows):
            table.setItem(i, 0, _cell(r["b"]["label"]))
            table.setItem(i, 1, _cell(r["a"]["label"] if r["a"] else "—"))
            for j, x in enumerate(keys, 2):
                if x.key not in r["delta"]:
                    table.setItem(i, j, _cell("—"))
                    continue
                old = r["a"]["metrics"][x.key]["value"]
                new = r["b"]["metrics"][x.key]["value"]
                d = r["delta"][x.key]
                item = _cell(f"{x.fmt.format(old)} → {x.fmt.format(new)} ({d:+.2f})")
                better = d > 0 if x.higher_is_better else d < 0
                if abs(d) > 1e-9:
                    item.setBackground(QBrush(HELPED if better else HURT))
                table.setItem(i, j, item)
        table.resizeColumnsToContents()
        layout.addWidget(table)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
