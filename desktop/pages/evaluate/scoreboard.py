"""The Scoreboard tab: one row per configuration of a run with every metric (quality and
retrieval as a mean with its 95% interval, speed as a median), a chart of a quality metric
against a cost, and what the advisor reads from the numbers."""

from __future__ import annotations

from PySide6.QtCharts import QChart, QChartView, QScatterSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.pages.evaluate.common import QUALITY, cell
from engine.types import METRIC, METRICS, config_name, format_cell, format_value

X_AXES = [
    ("latency_s", "Latency (s)"),
    ("compute_s", "CPU s/query"),
    ("api_cost", "API $/query"),
    ("tokens_in", "Tokens in"),
]


class ScoreboardTab(QWidget):
    """Shows one run's scoreboard rows; the page passes them in."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[dict] = []
        layout = QVBoxLayout(self)
        self.title = QLabel("No run yet: run an evaluation on the Run tab.")
        self.title.setObjectName("sectionTitle")
        layout.addWidget(self.title)
        self.table = QTableWidget()
        self.table.setObjectName("scoreboard")
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
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
        self.advice = QLabel()
        self.advice.setObjectName("numbersAdvice")
        self.advice.setWordWrap(True)
        self.advice.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.advice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        advice_box = QGroupBox("What the numbers say")
        a = QVBoxLayout(advice_box)
        a.addWidget(self.advice)
        a.addStretch(1)
        low.addWidget(advice_box, 2)
        split.addWidget(lower)
        split.setSizes([220, 320])
        layout.addWidget(split, 1)
        self.chart_y.currentIndexChanged.connect(lambda _i: self._draw_chart())
        self.chart_x.currentIndexChanged.connect(lambda _i: self._draw_chart())

    def show_run(self, run: dict, rows: list[dict]) -> None:
        """Show ``run`` (as ``Engine.get_eval_run`` gives it) and its scoreboard ``rows``."""
        self.rows = rows
        self.title.setText(
            f"Run {run['id']} · {run['set_name']} v{run['set_version']} · {run['cases']} cases · "
            f"{run['status']} · {run['created_at']}"
        )
        shown = [x for x in METRICS if any(x.key in r["metrics"] for r in rows)]
        self.table.clear()
        self.table.setColumnCount(3 + len(shown))
        self.table.setHorizontalHeaderLabels(
            ["Configuration", "Level", "Cases"] + [x.label for x in shown]
        )
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            # An ad-hoc configuration (the Level 3/4/5 comparison's) has a label, no version.
            name = config_name(r["assistant"], r["version"])
            self.table.setItem(i, 0, cell(name))
            self.table.setItem(i, 1, cell(f"{r['level']} · {r['level_name']}"))
            errors = f" ({r['errors']} failed)" if r["errors"] else ""
            self.table.setItem(i, 2, cell(f"{r['n']}{errors}"))
            for j, x in enumerate(shown, 3):
                value = r["metrics"].get(x.key)
                tip = ""
                if value and "low" in value:
                    tip = (
                        f"95% interval {format_value(x.key, value['low'])} – "
                        f"{format_value(x.key, value['high'])}"
                    )
                elif value:
                    tip = "median over cases"
                item = cell(format_cell(x.key, value), tip)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        available = {x.key for x in shown}
        for i in range(self.chart_y.count()):
            if self.chart_y.itemData(i) in available:
                if self.chart_y.currentData() not in available:
                    self.chart_y.setCurrentIndex(i)
                break
        self._draw_chart()

    def show_advice(self, text: str) -> None:
        """What the advisor reads from the numbers (rich text)."""
        self.advice.setText(text)

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
