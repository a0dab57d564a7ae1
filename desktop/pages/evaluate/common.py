"""What the Evaluate tabs share: read-only table cells, the colours for a case-result that got
better or worse than the baseline, and the quality metrics a chart or the per-case view scores
by."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidgetItem

from engine.types import METRICS, SPEED_KEYS

QUALITY = [x for x in METRICS if x.key not in SPEED_KEYS]
HELPED, HURT = QColor(46, 160, 67, 70), QColor(218, 54, 51, 70)


def cell(text: str, tip: str = "") -> QTableWidgetItem:
    """A table cell the user can select and copy but not edit."""
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if tip:
        item.setToolTip(tip)
    return item
