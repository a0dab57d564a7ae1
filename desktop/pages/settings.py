"""Runtime settings: threads, GPU offload, context size; where the workspace lives; and the
local server, which offers every assistant to other programs over an OpenAI-compatible API."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.errors import show_error
from desktop.pages.base import button_row, page_header
from desktop.worker import Job
from engine.api import Engine
from engine.errors import TailorError


class SettingsPage(QWidget):
    # The local server's address while it runs, "" once it has stopped.
    server_changed = Signal(str)

    def __init__(self, engine: Engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.server = None  # the running engine.server.Server
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
        layout.addSpacing(16)
        layout.addWidget(
            page_header(
                "Local server",
                "Offer every assistant to other programs on this machine (editors, notebooks, "
                "Open WebUI, the openai package) over an OpenAI-compatible API.",
            )
        )
        server_form = QFormLayout()
        self.server_switch = QCheckBox("Serve on 127.0.0.1")
        self.server_switch.setObjectName("localServer")
        self.server_port = QSpinBox()
        self.server_port.setRange(0, 65535)
        self.server_port.setValue(8080)
        self.server_port.setSpecialValueText("any free port")
        self.server_port.setMaximumWidth(180)
        self.server_url = QLabel("Off")
        self.server_url.setObjectName("serverUrl")
        self.server_url.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        server_form.addRow("Local server", self.server_switch)
        server_form.addRow("Port", self.server_port)
        server_form.addRow("Address", self.server_url)
        layout.addLayout(server_form)
        layout.addStretch(1)
        self.save.clicked.connect(self._save)
        self.server_switch.toggled.connect(self._switch_server)

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

    # -- the local server ----------------------------------------------------------------------

    def _switch_server(self, on: bool) -> None:
        self.server_switch.setEnabled(False)
        if on:
            port = self.server_port.value()
            job = Job(lambda _cancel: self._start_server(port), self, "Local server")
            job.succeeded.connect(self._server_started)
            job.failed.connect(self._server_failed)
        else:
            server, self.server = self.server, None
            job = Job(lambda _cancel: server.stop() if server else None, self, "Local server")
            job.succeeded.connect(lambda _r: self._server_stopped())
        job.start()

    def _start_server(self, port: int):
        from engine.server import Server

        server = Server(self.engine, port=port)
        server.start()
        return server

    def _server_started(self, server) -> None:
        self.server = server
        self.server_url.setText(server.url)
        self.server_port.setEnabled(False)
        self.server_switch.setEnabled(True)
        self.server_changed.emit(server.url)

    def _server_failed(self, error: BaseException) -> None:
        self.server_switch.blockSignals(True)
        self.server_switch.setChecked(False)
        self.server_switch.blockSignals(False)
        self.server_switch.setEnabled(True)
        show_error(self, error)

    def _server_stopped(self) -> None:
        self.server_url.setText("Off")
        self.server_port.setEnabled(True)
        self.server_switch.setEnabled(True)
        self.server_changed.emit("")

    def stop_server(self) -> None:
        """Stop the local server, if it runs (when the window closes)."""
        if self.server is not None:
            self.server.stop()
            self.server = None
