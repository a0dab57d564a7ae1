"""Runtime settings: threads, GPU offload, context size; and where the workspace lives."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.errors import show_error
from desktop.pages.base import button_row, page_header
from engine.api import Engine
from engine.errors import TailorError


class SettingsPage(QWidget):
    def __init__(self, engine: Engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.addWidget(page_header("Settings", "How models run on this machine."))
        form = QFormLayout()
        form.setSpacing(12)
        self.threads = QSpinBox()
        self.threads.setRange(1, 256)
        self.threads.setObjectName("threads")
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(-1, 999)
        self.gpu_layers.setSpecialValueText("all")
        self.context = QSpinBox()
        self.context.setRange(256, 262144)
        self.context.setSingleStep(1024)
        self.context.setSuffix(" tokens")
        form.addRow("CPU threads", self.threads)
        form.addRow("GPU layers", self.gpu_layers)
        self.gpu_note = QLabel()
        self.gpu_note.setObjectName("hint")
        self.gpu_note.setWordWrap(True)
        form.addRow("", self.gpu_note)
        form.addRow("Context window", self.context)
        for spin in (self.threads, self.gpu_layers, self.context):
            spin.setMaximumWidth(180)
        form.addRow("Workspace", QLabel(str(engine.home)))
        form.addRow("Appearance", QLabel("Follows the system's light or dark theme."))
        form.addRow("Network", QLabel("None: every model and file stays on this machine."))
        layout.addLayout(form)
        self.save = QPushButton("Apply")
        self.save.setObjectName("applySettings")
        self.saved = QLabel()
        self.saved.setObjectName("hint")
        layout.addLayout(button_row(self.save, (self.saved, 1)))
        layout.addStretch(1)
        self.save.clicked.connect(self._save)

    def refresh(self) -> None:
        """Called when the page is shown (asking llama.cpp about its GPU backend imports it,
        which the start-up path avoids)."""
        gpu = self.engine.gpu_available()
        self.gpu_layers.setEnabled(gpu)
        self.gpu_note.setText(
            "llama.cpp was built with a GPU backend: -1 offloads every layer."
            if gpu
            else "This build of llama.cpp is CPU-only. To use an NVIDIA GPU, set Tailor up "
            "again with TAILOR_CUDA=1 (see the README)."
        )
        s = self.engine.settings
        self.threads.setValue(s.threads)
        self.gpu_layers.setValue(s.gpu_layers)
        self.context.setValue(s.context_size)

    def _save(self) -> None:
        try:
            self.engine.save_settings(
                threads=self.threads.value(),
                gpu_layers=self.gpu_layers.value(),
                context_size=self.context.value(),
            )
        except TailorError as exc:
            show_error(self, exc)
            return
        self.saved.setText("Applied. The model reloads with these settings on the next message.")
