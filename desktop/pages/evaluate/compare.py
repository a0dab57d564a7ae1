"""Two runs side by side: the later run's scoreboard with each metric's change from the
earlier one, green where it got better and red where it got worse."""

from __future__ import annotations

from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QVBoxLayout

from desktop.pages.evaluate.common import HELPED, HURT, cell
from engine.types import METRICS, MISSING, format_change, format_value


class CompareDialog(QDialog):
    """Run ``run_b`` against ``run_a``: the ``rows`` ``Engine.compare_runs`` gives, its
    configurations matched as the engine matches them."""

    def __init__(self, rows: list[dict], run_a: int, run_b: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Run {run_a} → run {run_b}")
        self.resize(820, 420)
        layout = QVBoxLayout(self)
        keys = [x for x in METRICS if any(x.key in r["delta"] for r in rows)]
        table = QTableWidget(len(rows), 2 + len(keys))
        table.setObjectName("compareTable")
        table.setHorizontalHeaderLabels(
            [f"Run {run_b}", f"vs run {run_a}"] + [x.label for x in keys]
        )
        table.verticalHeader().setVisible(False)
        for i, r in enumerate(rows):
            table.setItem(i, 0, cell(r["b"]["label"]))
            table.setItem(i, 1, cell(r["a"]["label"] if r["a"] else "—"))
            for j, x in enumerate(keys, 2):
                if x.key not in r["delta"]:
                    table.setItem(i, j, cell(MISSING))
                    continue
                old = r["a"]["metrics"][x.key]["value"]
                new = r["b"]["metrics"][x.key]["value"]
                d = r["delta"][x.key]
                item = cell(
                    f"{format_value(x.key, old)} → {format_value(x.key, new)} "
                    f"({format_change(x.key, d)})"
                )
                better = d > 0 if x.higher_is_better else d < 0
                if abs(d) > 1e-9:
                    item.setBackground(QBrush(HELPED if better else HURT))
                table.setItem(i, j, item)
        table.resizeColumnsToContents()
        layout.addWidget(table)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
