"""The one place where errors become dialogs."""

from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.errors import TailorError


def show_error(parent: QWidget | None, error: BaseException | str, title: str = "Tailor") -> None:
    """Tell the user what happened, in their words; programming errors get their type too."""
    if isinstance(error, (TailorError, str)):
        text = str(error)
    else:
        text = f"Something went wrong: {type(error).__name__}: {error}"
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    # Messages quote file names and a model file's own metadata: shown as text, never markup.
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.open() if parent is not None else box.exec()


def install_excepthook() -> None:
    """Unexpected exceptions on the Qt thread show a dialog instead of killing the app."""

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        show_error(None, value)

    sys.excepthook = hook
