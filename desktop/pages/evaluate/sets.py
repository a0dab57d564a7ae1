"""The evaluation sets: the list, importing one, making one from an example set or a dataset's
held-out part, generating one from a knowledge base, and deleting one with its runs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.pages.evaluate.generate import GenerateDialog
from desktop.worker import Job


class SetList(QGroupBox):
    """Step 1 of a run: choose (or make) the evaluation set."""

    changed = Signal()  # a set was added or deleted (deleting one deletes its runs)
    status_message = Signal(str)

    def __init__(self, engine, parent=None):
        super().__init__("1 · Evaluation set", parent)
        self.engine = engine
        self.job: Job | None = None  # an import or a set being made, in the background
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setObjectName("evalSets")
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.import_set = QPushButton("Import…")
        self.import_set.setToolTip("JSONL, CSV or SQuAD JSON with questions and reference answers")
        self.from_examples = QPushButton("From examples or data…")
        self.generate = QPushButton("Generate from knowledge…")
        self.delete_set = QPushButton("Delete")
        for w in (self.import_set, self.from_examples, self.generate, self.delete_set):
            row.addWidget(w)
        layout.addLayout(row)
        self.info = QLabel()
        self.info.setObjectName("hint")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        self.list.currentItemChanged.connect(lambda *_: self._show_info())
        self.import_set.clicked.connect(self._import)
        self.from_examples.clicked.connect(self._from_examples)
        self.generate.clicked.connect(self._generate)
        self.delete_set.clicked.connect(self._delete)

    def refresh(self) -> None:
        """Reload the sets, keeping the selected one (the first, if none was)."""
        current = self.list.currentItem()
        keep = current.data(Qt.ItemDataRole.UserRole) if current else None
        self.list.clear()
        for s in self.engine.eval_set_summary():
            item = QListWidgetItem(f"{s['name']}  ·  v{s['version']}  ·  {s['cases']} cases")
            item.setData(Qt.ItemDataRole.UserRole, s["name"])
            self.list.addItem(item)
            if s["name"] == keep or keep is None:
                self.list.setCurrentItem(item)
                keep = s["name"]
        self._show_info()

    def selected(self) -> str | None:
        """The chosen set's name, or None when there are no sets."""
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _show_info(self) -> None:
        name = self.selected()
        if not name:
            self.info.setText(
                "No evaluation set yet. Import one (JSONL/CSV with input and answer columns, or "
                "SQuAD JSON), make one from an example set, or generate one from a knowledge base."
            )
            return
        v = self.engine.get_eval_set(name)
        with_docs = sum(1 for c in v.cases if c.sources)
        first = v.cases[0]
        self.info.setText(
            f"{v.label}: {len(v.cases)} cases"
            + (f", {with_docs} with reference documents (retrieval is scored)" if with_docs else "")
            + f". First: “{first.input[:90]}” → “{' | '.join(first.references)[:60]}”"
        )

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import evaluation set", "", "Evaluation sets (*.jsonl *.json *.csv)"
        )
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path) -> None:
        """Import a JSONL, CSV or SQuAD JSON file as a set, asking for its name, in the
        background; a refused file becomes a dialog listing every bad line."""
        name, ok = QInputDialog.getText(self, "Import evaluation set", "Name:", text=path.stem)
        name = name.strip()
        if ok and name:
            engine = self.engine
            self._make(lambda _cancel: engine.import_eval_set(path, name), "Imported")

    def _from_examples(self) -> None:
        sources = [f"Example set: {n}" for n in self.engine.list_example_sets()] + [
            f"Fine-tuning dataset (held-out 10%): {n}" for n in self.engine.list_datasets()
        ]
        if not sources:
            show_error(
                self,
                "There are no example sets or datasets yet: make an example set on "
                "the Examples page, or import a dataset on Fine-tune.",
            )
            return
        chosen, ok = QInputDialog.getItem(self, "New evaluation set", "From:", sources, 0, False)
        if not ok:
            return
        kind, _, name = chosen.partition(": ")
        engine = self.engine
        if kind == "Example set":
            self._make(lambda _cancel: engine.eval_set_from_examples(name, name), "Made", chosen)
        else:
            held = f"{name} (held out)"
            self._make(lambda _cancel: engine.eval_set_from_dataset(held, name), "Made", chosen)

    def _make(self, work, verb: str, origin: str = "") -> None:
        """Run ``work`` (which saves a set version) in the background, then list it."""

        def made(v) -> None:
            self.changed.emit()
            what = f"{len(v.cases)} cases as {v.label}" if verb == "Imported" else v.label
            self.status_message.emit(f"{verb} {what}" + (f" from {origin}." if origin else "."))

        self.job = Job(work, self, "Evaluation set")
        self.job.succeeded.connect(made)
        self.job.start()

    def _generate(self) -> None:
        if not self.engine.list_knowledge_bases():
            show_error(self, "There are no knowledge bases yet: index a folder on Knowledge first.")
            return
        dialog = GenerateDialog(self.engine, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.changed.emit()

    def _delete(self) -> None:
        name = self.selected()
        if not name:
            return
        answer = QMessageBox.question(
            self, "Delete evaluation set", f"Delete '{name}', all its versions and its runs?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.engine.delete_eval_set(name)
            self.changed.emit()
