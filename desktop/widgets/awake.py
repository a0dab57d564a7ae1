"""The status bar's "keeping the computer awake" while a training job runs.

The training process holds the inhibit itself (see :mod:`engine.power`), so it lasts exactly as
long as the job, with or without the window. The window only shows it: it reads the jobs'
files every few seconds, in the background, one read at a time.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel

from desktop.worker import Job

POLL_MS = 5000


class AwakeStatus(QLabel):
    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self.setObjectName("awakeStatus")
        self.engine = engine
        self._reading: Job | None = None
        self.hide()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        self.poll()

    def poll(self) -> None:
        if self._reading is not None:
            return
        engine = self.engine
        self._reading = Job(lambda _cancel: engine.list_training_jobs(), self)
        self._reading.succeeded.connect(self.show_jobs)
        self._reading.failed.connect(lambda _error: None)  # shown on the Fine-tune page
        self._reading.finished.connect(self._read)
        self._reading.start()

    def _read(self) -> None:
        self._reading = None

    def show_jobs(self, jobs) -> None:
        running = [j for j in jobs if j.status in ("preparing", "running")]
        awake = [j for j in running if j.awake]
        if awake:
            names = ", ".join(f"“{j.adapter}”" for j in awake)
            self.setText(f"☾ kept awake: training {names}")
            self.setToolTip(f"Sleep is blocked through {awake[0].awake} until the training ends.")
        elif running:
            self.setText("training — sleep not blocked")
            self.setToolTip(
                "No inhibit service answered (systemd-logind or the desktop portal): set the "
                "computer not to sleep until the training ends."
            )
        self.setVisible(bool(running))
