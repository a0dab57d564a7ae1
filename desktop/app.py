"""Starting the app: one window per workspace, the window first, the model after."""

from __future__ import annotations

import os
import sys
import time

_T0 = time.perf_counter()


def main(argv: list[str] | None = None, files: list | None = None) -> int:
    """Open the window (or, when this workspace's window is already open, hand ``files`` to it
    and bring it to the front); ``files`` are taken as if dropped on the window."""
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from desktop.errors import install_excepthook
    from desktop.style import STYLESHEET
    from engine.api import Engine
    from engine.errors import TailorError, WorkspaceInUse

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Tailor")
    app.setOrganizationName("Tailor")
    app.setDesktopFileName("tailor")
    icon = os.path.join(os.path.dirname(__file__), "..", "resources", "icons", "tailor.svg")
    if os.path.exists(icon):
        app.setWindowIcon(QIcon(icon))
    app.setStyleSheet(STYLESHEET)
    install_excepthook()

    from desktop.single import Listener, hand_over

    files = list(files or [])
    # macOS: files opened from Finder (only there: a filter on the application sees every event).
    finder = finder_files(app, files.append) if sys.platform == "darwin" else None
    try:
        engine = Engine()
        try:
            engine.lock_workspace()
        except WorkspaceInUse as exc:
            home = engine.home
            engine.close()
            if hand_over(home, files):
                return 0
            QMessageBox.information(None, "Tailor is already open", str(exc))
            return 1
        engine.first_run()
    except TailorError as exc:
        QMessageBox.critical(None, "Tailor cannot start", str(exc))
        return 1

    from desktop.main_window import MainWindow

    window = MainWindow(engine)
    listener = Listener(engine.home, window.open_paths, window)  # later starts hand over here
    if finder is not None:
        finder.on_open = lambda path: window.open_paths([path])
    window.show()
    if files:
        QTimer.singleShot(0, lambda: window.open_paths(files))
    if os.environ.get("TAILOR_REPORT_STARTUP"):
        _report_startup(app, window)
    QTimer.singleShot(0, window.preload_model)
    code = app.exec()
    listener.close()
    engine.close()
    return code


def finder_files(app, on_open):
    """Files given to the app by macOS: Finder's "Open with Tailor", a double-click on a .gguf
    (Tailor.app declares the type), a file dropped on the Dock icon. macOS sends them as Apple
    Events, not arguments, and to the running app rather than to a second start; Qt turns them
    into ``QFileOpenEvent``. ``on_open(path)`` takes each (replace it once the window is there).
    Other systems never send the event."""
    from PySide6.QtCore import QEvent, QObject

    class _FinderFiles(QObject):
        def __init__(self, parent, on_open):
            super().__init__(parent)
            self.on_open = on_open

        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.FileOpen and event.file():
                from pathlib import Path

                self.on_open(Path(event.file()))
                return True
            return False

    finder = _FinderFiles(app, on_open)
    app.installEventFilter(finder)
    return finder


def _report_startup(app, window) -> None:
    """For the launch benchmark: time to the shown window, resident memory before and after the
    model loads, then quit."""
    import psutil
    from PySide6.QtCore import QTimer

    rss = lambda: psutil.Process().memory_info().rss / 2**20  # noqa: E731

    def shown():
        print(f"window_shown_s={time.perf_counter() - _T0:.3f}", flush=True)
        print(f"rss_idle_mb={rss():.0f}", flush=True)

    def loaded(_name):
        print(f"rss_model_mb={rss():.0f}", flush=True)
        app.quit()

    QTimer.singleShot(0, shown)
    window.model_loaded.connect(loaded)
