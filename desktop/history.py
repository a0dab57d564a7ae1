"""An assistant's versions: the list, a side-by-side diff of any two, and revert."""

from __future__ import annotations

import difflib
import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.pages.base import button_row
from desktop.state import AssistantState

DIFF_CSS = """
table.diff { font-family: monospace; border-collapse: collapse; width: 100%; }
td { padding: 1px 6px; vertical-align: top; }
.diff_header { color: #888; }
.diff_next { display: none; }
.diff_add { background-color: #c8f0c8; color: #000; }
.diff_chg { background-color: #f5e7a9; color: #000; }
.diff_sub { background-color: #f6c6c6; color: #000; }
"""


def side_by_side_html(left: str, right: str, left_title: str, right_title: str) -> str:
    table = difflib.HtmlDiff(wrapcolumn=52).make_table(
        left.splitlines(), right.splitlines(), left_title, right_title
    )
    # Qt's rich text ignores `display: none`: drop the "next change" link columns instead.
    table = re.sub(r'<td class="diff_next"[^>]*>.*?</td>', "", table)
    table = re.sub(r'<th class="diff_next"[^>]*>.*?</th>', "", table)
    table = table.replace('<table class="diff"', '<table class="diff" width="100%"')
    return f"<style>{DIFF_CSS}</style>{table}"


class HistoryDialog(QDialog):
    def __init__(self, state: AssistantState, parent=None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("historyDialog")
        self.setWindowTitle(f"History — {state.name}")
        self.resize(1000, 620)
        self.versions = QListWidget()
        self.versions.setObjectName("versionList")
        self.versions.setWordWrap(True)
        self.versions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.left = QComboBox()
        self.left.setObjectName("diffLeft")
        self.right = QComboBox()
        self.right.setObjectName("diffRight")
        self.diff = QTextBrowser()
        self.diff.setObjectName("diffView")
        self.revert_button = QPushButton("Revert to selected version")
        self.revert_button.setObjectName("revertButton")
        close = QPushButton("Close")

        side = QWidget()
        s = QVBoxLayout(side)
        s.setContentsMargins(0, 0, 0, 0)
        s.addWidget(QLabel("Versions (newest first)"))
        s.addWidget(self.versions, 1)
        s.addWidget(self.revert_button)
        main = QWidget()
        m = QVBoxLayout(main)
        m.setContentsMargins(0, 0, 0, 0)
        m.addLayout(button_row(QLabel("Compare"), self.left, QLabel("with"), self.right, None))
        m.addWidget(self.diff, 1)
        split = QSplitter()
        split.addWidget(side)
        split.addWidget(main)
        split.setSizes([280, 720])
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(button_row(None, close))

        self.left.currentIndexChanged.connect(lambda _i: self.show_diff())
        self.right.currentIndexChanged.connect(lambda _i: self.show_diff())
        self.versions.currentRowChanged.connect(self._selected)
        self.revert_button.clicked.connect(self.revert_selected)
        close.clicked.connect(self.accept)
        self.reload()

    def reload(self) -> None:
        history = self.state.engine.assistant_history(self.state.name)
        self.history = history
        for w in (self.left, self.right):
            w.blockSignals(True)
            w.clear()
            for v in history:
                w.addItem(f"v{v.version}", v.version)
            w.blockSignals(False)
        self.versions.clear()
        for v in history:
            item = QListWidgetItem(f"{v.label}\n{v.created_at} · {v.note}")
            self.versions.addItem(item)
        # Default view: what the newest version changed.
        self.versions.setCurrentRow(0)
        self._selected(0)
        self.show_diff()

    def _selected(self, row: int) -> None:
        """Show what the selected version changed from the one before it."""
        if 0 <= row < len(self.history):
            self.revert_button.setEnabled(row != 0)
            self.right.setCurrentIndex(row)
            self.left.setCurrentIndex(min(row + 1, len(self.history) - 1))

    def show_diff(self) -> None:
        a, b = self.left.currentData(), self.right.currentData()
        if a is None or b is None:
            return
        engine = self.state.engine
        va, vb = engine.get_assistant(self.state.name, a), engine.get_assistant(self.state.name, b)
        self.diff.setHtml(
            side_by_side_html(va.config.as_yaml(), vb.config.as_yaml(), f"v{a}", f"v{b}")
        )

    def revert_selected(self) -> None:
        row = self.versions.currentRow()
        if 0 < row < len(self.history):
            self.state.revert(self.history[row].version)
            self.reload()
