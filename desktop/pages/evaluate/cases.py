"""The Cases tab: every case of a run with each configuration's score on one metric, coloured
where it did better or worse than the first configuration, and the answers in full below."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.pages.evaluate.common import HELPED, HURT, QUALITY, cell
from desktop.worker import Job
from engine.types import MISSING, format_value


class CasesTab(QWidget):
    """Per-case results of the run the page shows."""

    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.run_id: int | None = None
        self.labels: list[str] = []  # the run's configurations, in order
        self.rows: list[dict] = []  # as Engine.eval_per_case gives them, scored by rows_metric
        self.rows_metric = ""
        self.reading: Job | None = None
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Score"))
        self.metric = QComboBox()
        for x in QUALITY:
            self.metric.addItem(x.label, x.key)
        self.metric.setCurrentIndex(1)
        top.addWidget(self.metric)
        self.summary = QLabel()
        self.summary.setObjectName("hint")
        top.addWidget(self.summary, 1)
        layout.addLayout(top)
        split = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget()
        self.table.setObjectName("caseTable")
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        split.addWidget(self.table)
        self.detail = QTextBrowser()
        self.detail.setObjectName("caseDetail")
        split.addWidget(self.detail)
        split.setSizes([300, 200])
        layout.addWidget(split, 1)
        self.metric.currentIndexChanged.connect(lambda _i: self._read())
        self.table.currentCellChanged.connect(lambda row, *_: self._show_case(row))

    def show_run(self, run_id: int, labels: list[str], rows: list[dict], metric: str) -> None:
        """Show the cases of ``run_id``, whose configurations are ``labels``: ``rows`` as
        ``Engine.eval_per_case`` gives them, scored by ``metric``."""
        self.run_id, self.labels = run_id, labels
        if metric == self.metric.currentData():
            self._fill(rows, metric)
        else:  # another metric was chosen while they were read
            self._read()

    def _read(self) -> None:
        """Read the run's cases again, scored by the metric now chosen, in the background."""
        if self.run_id is None:
            return
        engine, run_id, metric = self.engine, self.run_id, self.metric.currentData()
        self.reading = Job(lambda _cancel: engine.eval_per_case(run_id, metric), self)
        self.reading.succeeded.connect(lambda rows: self._rows_read(run_id, metric, rows))
        self.reading.start()

    def _rows_read(self, run_id: int, metric: str, rows: list[dict]) -> None:
        # Shown unless another run or metric was chosen meanwhile (its rows are on their way).
        if run_id == self.run_id and metric == self.metric.currentData():
            self._fill(rows, metric)

    def _fill(self, rows: list[dict], metric: str) -> None:
        self.rows, self.rows_metric, labels = rows, metric, self.labels
        self.table.clear()
        self.table.setColumnCount(3 + len(labels))
        self.table.setHorizontalHeaderLabels(["Case", "Question", "Reference", *labels])
        self.table.setRowCount(len(self.rows))
        helped = hurt = 0
        for i, entry in enumerate(self.rows):
            self.table.setItem(i, 0, cell(entry["case"]))
            self.table.setItem(i, 1, cell(entry["input"], entry["input"]))
            self.table.setItem(i, 2, cell(" | ".join(entry["references"])))
            for j, result in enumerate(entry["cells"], 3):
                if result is None:
                    self.table.setItem(i, j, cell(MISSING))
                    continue
                item = cell(format_value(metric, result["score"]), result["response"])
                change = result.get("change")
                if j > 3 and change == "helped":
                    item.setBackground(QBrush(HELPED))
                    helped += 1
                elif j > 3 and change == "hurt":
                    item.setBackground(QBrush(HURT))
                    hurt += 1
                self.table.setItem(i, j, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        if len(labels) > 1:
            self.summary.setText(
                f"Against the first configuration ({labels[0]}): "
                f"green = better on {helped} case-results, red = worse on {hurt}."
            )
        else:
            self.summary.setText("Add a second assistant to a run to see where it helps.")
        if self.rows:
            self.table.selectRow(0)

    def _show_case(self, row: int) -> None:
        if not 0 <= row < len(self.rows):
            return
        entry = self.rows[row]
        parts = [
            f"<h3>{escape(entry['input'])}</h3>",
            f"<p><b>Reference:</b> {escape(' | '.join(entry['references']))}</p>",
        ]
        metric = self.rows_metric
        for label, result in zip(self.labels, entry["cells"], strict=False):
            if result is None:
                continue
            sources = ", ".join(
                f"[{s['n']}] {escape(Path(s['source']).name)}" for s in result["sources"]
            )
            parts.append(
                f"<p><b>{escape(label)}</b> · score {format_value(metric, result['score'])}"
                f"<br>{escape(result['response']) or '<i>(empty)</i>'}"
                + (f"<br><small>Sources: {sources}</small>" if sources else "")
                + "</p>"
            )
        self.detail.setHtml("".join(parts))
