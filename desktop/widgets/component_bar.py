"""The bar a page shows while an optional component it needs is not there: what it is, how much
it takes, and Install (from the network or a folder of wheels), with progress and Stop; Repair
when an install does not load."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from desktop.worker import Job
from engine.api import Progress
from engine.types import ComponentStatus

# The training component as installed on the development machine (README): PyTorch's CUDA build
# with its NVIDIA libraries, 3.1 GB downloaded and 6.6 GB on disk. PyTorch's CPU-only build, where
# its index is reachable, is smaller.
DOWNLOAD_GB, INSTALLED_GB = 3, 7


class ComponentBar(QFrame):
    """Shown while ``name`` is not ready; hides itself once it is. ``ready`` fires then."""

    ready = Signal()

    def __init__(self, engine, name: str = "training", parent=None):
        super().__init__(parent)
        self.engine = engine
        self.name = name
        self.job: Job | None = None
        self.setObjectName("componentBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(self)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setObjectName("componentText")
        box.addWidget(self.text)
        self.progress = QProgressBar()
        self.progress.setObjectName("componentProgress")
        self.progress.setTextVisible(True)
        self.progress.hide()
        box.addWidget(self.progress)
        row = QHBoxLayout()
        self.install = QPushButton("Install")
        self.install.setObjectName("componentInstall")
        self.from_folder = QPushButton("From a folder of wheels…")
        self.from_folder.setToolTip("Install with no network, from wheels you brought")
        self.stop = QPushButton("Stop")
        self.stop.hide()
        row.addWidget(self.install)
        row.addWidget(self.from_folder)
        row.addWidget(self.stop)
        row.addStretch(1)
        box.addLayout(row)
        self.install.clicked.connect(lambda: self.start(None))
        self.from_folder.clicked.connect(self._pick_folder)
        self.stop.clicked.connect(self._stop)
        self.refresh()

    def refresh(self) -> ComponentStatus:
        s = self.engine.component_status(self.name)
        if self.job is not None:
            return s
        self.setVisible(not s.ready)
        if s.state == "partial":
            self.text.setText(
                f"{s.title}: {s.download_bytes / 2**30:.1f} GB downloaded so far. Install "
                "goes on from there."
            )
            self.install.setText("Resume install")
        elif s.state == "missing":
            self.text.setText(
                f"Fine-tuning needs extra components: {s.title}. Up to about {DOWNLOAD_GB} GB "
                f"to download and {INSTALLED_GB} GB on disk, installed once into your own "
                "folder; the rest of Tailor works without them."
            )
            self.install.setText("Install")
        return s

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of wheels")
        if folder:
            self.start(Path(folder))

    def start(self, wheels: Path | None, repair: bool = False) -> Job:
        self.install.setEnabled(False)
        self.from_folder.setEnabled(False)
        self.stop.show()
        self.progress.show()
        self.progress.setRange(0, 0)
        job = Job(
            lambda cancel: self.engine.install_component(
                self.name, wheels=wheels, repair=repair, cancel=cancel
            ),
            self,
            error_title="Installing the training component",
        )
        job.event.connect(self._on_event)
        job.succeeded.connect(self._done)
        job.failed.connect(self._failed)
        job.finished.connect(self._ended)
        self.job = job
        return job.start()

    def _on_event(self, event: object) -> None:
        if not isinstance(event, Progress):
            return
        if event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
        else:
            self.progress.setRange(0, 0)
        step = {"downloading": "Downloading", "installing": "Installing", "checking": "Checking"}
        self.progress.setFormat(f"{step.get(event.phase, event.phase)} · %v/%m")
        self.text.setText(event.label)

    def _stop(self) -> None:
        if self.job is not None:
            self.job.cancel_token.cancel()
            self.text.setText("Stopping… what was downloaded is kept.")

    def _done(self, status: ComponentStatus) -> None:
        self.text.setText(status.message or "Installed.")
        self.ready.emit()

    def _failed(self, error: BaseException) -> None:
        self.text.setText(f"The install did not finish: {error}")
        self.install.setText("Repair")
        self.install.clicked.disconnect()
        self.install.clicked.connect(lambda: self.start(None, repair=True))

    def _ended(self) -> None:
        self.job = None
        self.install.setEnabled(True)
        self.from_folder.setEnabled(True)
        self.stop.hide()
        self.progress.hide()
        if self.engine.component_status(self.name).ready:
            self.hide()
