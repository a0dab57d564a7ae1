"""Starting the Level 3/4/5 comparison of a saved RAFT build: which adapters, how many passages.
Accepting it creates the evaluation run (in the background); the Evaluate page runs it."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.worker import Job


class LadderDialog(QDialog):
    """Pick the adapters and the numbers of passages; creates the comparison run, whose id
    :attr:`run_id` holds once accepted."""

    def __init__(self, engine, builds: list[str], selected: str | None, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.run_id: int | None = None
        self.setWindowTitle("Compare Levels 3, 4 and 5")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.build = QComboBox()
        self.build.addItems(builds)
        if selected in builds:
            self.build.setCurrentText(selected)
        self.raft_adapter = QComboBox()
        self.plain_adapter = QComboBox()
        self.ks = QLineEdit("2, 5, 10")
        self.ks.setToolTip("Numbers of retrieved passages to try, separated by commas")
        form.addRow("RAFT dataset", self.build)
        form.addRow("RAFT adapter (Level 5)", self.raft_adapter)
        form.addRow("Plain adapter (Level 4)", self.plain_adapter)
        form.addRow("Passages retrieved", self.ks)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run comparison")
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.build.currentTextChanged.connect(self._fill_adapters)
        self._fill_adapters()

    def _fill_adapters(self) -> None:
        name = self.build.currentText()
        info = self.engine.get_raft_build(name)
        adapters = self.engine.list_adapters()
        raft = sorted((a for a in adapters if a.kind == "raft"), key=lambda a: a.dataset != name)
        self.raft_adapter.clear()
        self.raft_adapter.addItems([a.name for a in raft])
        plain_ds = info.result.get("plain_dataset")
        plain = sorted(
            (a for a in adapters if a.kind != "raft"), key=lambda a: a.dataset != plain_ds
        )
        self.plain_adapter.clear()
        self.plain_adapter.addItem("(none — skip Level 4)", None)
        for a in plain:
            self.plain_adapter.addItem(a.name, a.name)
        if plain and plain[0].dataset == plain_ds:
            self.plain_adapter.setCurrentIndex(1)

    def _ok(self) -> None:
        try:
            ks = tuple(int(k) for k in self.ks.text().replace(" ", "").split(",") if k)
        except ValueError:
            show_error(self, f"“{self.ks.text()}” is not a list of numbers like 2, 5, 10.")
            return
        engine = self.engine
        build, raft, plain = (
            self.build.currentText(),
            self.raft_adapter.currentText(),
            self.plain_adapter.currentData(),
        )
        self.setEnabled(False)
        self.job = Job(
            lambda _cancel: engine.compare_raft_build(build, raft, plain, ks or (5,)), self
        )
        self.job.succeeded.connect(self._created)
        self.job.failed.connect(self._failed)
        self.job.start()

    def _created(self, run_id: int) -> None:
        self.run_id = run_id
        self.accept()

    def _failed(self, error: Exception) -> None:
        self.setEnabled(True)
        show_error(self, error)
