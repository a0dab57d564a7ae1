"""Shared page furniture: titles, intros and the rung pages' config-beside-chat split."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)


def button_row(*items: QWidget | tuple[QWidget, int] | None) -> QHBoxLayout:
    """A row of buttons (or any widgets), left to right. ``None`` is where the row stretches:
    ``button_row(None, close)`` pushes Close to the right, ``button_row(save, None, history)``
    holds them apart. ``(widget, stretch)`` lets that widget take the room instead (a status
    label beside the buttons)."""
    row = QHBoxLayout()
    for item in items:
        if item is None:
            row.addStretch(1)
        elif isinstance(item, tuple):
            row.addWidget(*item)
        else:
            row.addWidget(item)
    return row


def fill_combo(combo, names: list[str]) -> bool:
    """Show ``names`` in ``combo``, keeping the selection; True if the list changed."""
    if [combo.itemText(i) for i in range(combo.count())] == names:
        return False
    keep = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(names)
    if keep in names:
        combo.setCurrentText(keep)
    combo.blockSignals(False)
    return True


def create_named(parent: QWidget, title: str, create) -> str | None:
    """Ask for a name and call ``create(name)``; a refused name becomes a dialog."""
    from PySide6.QtWidgets import QInputDialog

    from desktop.errors import show_error
    from engine.errors import TailorError

    name, ok = QInputDialog.getText(parent, title, "Name:")
    if not ok or not name.strip():
        return None
    try:
        create(name.strip())
    except TailorError as exc:
        show_error(parent, exc)
        return None
    return name.strip()


def import_named(parent: QWidget, title: str, path, do_import):
    """Ask for a name (the file's stem by default) and call ``do_import(name, path)``; a
    refused file becomes a dialog. Returns the name, or None if nothing was imported."""
    from PySide6.QtWidgets import QInputDialog

    from desktop.errors import show_error
    from engine.errors import TailorError

    name, ok = QInputDialog.getText(parent, title, "Name:", text=path.stem)
    if not ok or not name.strip():
        return None
    try:
        do_import(name.strip(), path)
    except TailorError as exc:
        show_error(parent, exc)
        return None
    return name.strip()


def page_header(title: str, intro: str) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 8)
    layout.setSpacing(4)
    t = QLabel(title)
    t.setObjectName("pageTitle")
    i = QLabel(intro)
    i.setObjectName("pageIntro")
    i.setWordWrap(True)
    layout.addWidget(t)
    layout.addWidget(i)
    return box


class RungPage(QWidget):
    """A ladder rung: its configuration on the left, the shared chat panel on the right."""

    def __init__(self, title: str, intro: str, parent=None):
        super().__init__(parent)
        self.config = QWidget()
        self.config.setObjectName("rungConfig")
        self.config_layout = QVBoxLayout(self.config)
        self.config_layout.setContentsMargins(20, 16, 16, 16)
        self.config_layout.addWidget(page_header(title, intro))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.config)
        # Content wraps to the pane's width instead of hiding behind a sideways scroll bar.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(420)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def save_row(self, note: str) -> QHBoxLayout:
        """The "Unsaved changes" label and Save version button for this rung's part of the
        assistant (``self.dirty``, ``self.save_version``); a save is noted with ``note``."""
        self.dirty = QLabel()
        self.dirty.setObjectName("dirtyLabel")
        self.save_version = QPushButton("Save version")
        self.save_version.clicked.connect(lambda: self.state.save(note))
        return button_row((self.dirty, 1), self.save_version)

    def show_dirty(self) -> None:
        dirty = self.state.dirty
        self.save_version.setEnabled(dirty)
        self.dirty.setText("Unsaved changes — the chat already uses them." if dirty else "")

    def adopt_chat(self, chat: QWidget) -> None:
        """Move the one chat panel here when this page is shown."""
        if chat.parent() is not self.splitter:
            self.splitter.addWidget(chat)
            total = max(self.width(), 900)
            self.splitter.setSizes([int(total * 0.42), int(total * 0.58)])
