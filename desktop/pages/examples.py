"""Level 2: example sets, edited in a table, attached to the assistant beside the chat."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.pages.base import RungPage, button_row, create_named, fill_combo
from desktop.state import AssistantState
from engine.errors import TailorError
from engine.types import Example


class ExamplesPage(RungPage):
    def __init__(self, state: AssistantState, parent=None):
        super().__init__(
            "2 · Examples",
            "Show the model 2–5 worked examples — or let Tailor pick the k most similar to each "
            "question. Use it for a specific format, style or domain nuance; it costs only a few "
            "more prompt tokens.",
            parent,
        )
        self.state = state
        self.engine = state.engine

        # Which set, and how the assistant uses it.
        use = QGroupBox("This assistant")
        use_layout = QVBoxLayout(use)
        self.attach = QCheckBox("Use an example set")
        self.attach.setObjectName("attachExamples")
        self.set_picker = QComboBox()
        self.set_picker.setObjectName("exampleSetPicker")
        self.all_examples = QRadioButton("All examples, in order")
        self.similar = QRadioButton("The k most similar to each message")
        self.similar.setObjectName("dynamicFewShot")
        self.k = QSpinBox()
        self.k.setRange(1, 50)
        self.k.setValue(3)
        self.k.setPrefix("k = ")
        use_layout.addLayout(button_row(self.attach, (self.set_picker, 1)))
        use_layout.addWidget(self.all_examples)
        use_layout.addLayout(button_row(self.similar, self.k, None))
        use_layout.addLayout(self.save_row("Example set changed"))
        self.save_version.setObjectName("saveVersionExamples")
        self.config_layout.addWidget(use)

        # The set editor.
        editor = QGroupBox("Example sets")
        e = QVBoxLayout(editor)
        self.editing = QComboBox()
        self.editing.setObjectName("editingSet")
        self.new_set = QPushButton("New…")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import .jsonl or .csv with input and output columns")
        self.export_button = QPushButton("Export…")
        self.delete_set = QPushButton("Delete")
        e.addLayout(button_row(QLabel("Editing"), (self.editing, 1)))
        e.addLayout(
            button_row(self.new_set, self.import_button, self.export_button, self.delete_set, None)
        )
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("examplesTable")
        self.table.setHorizontalHeaderLabels(["Input", "Output"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(True)
        self.table.setWordWrap(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(220)
        e.addWidget(self.table, 1)
        self.add_row = QPushButton("Add example")
        self.remove_row = QPushButton("Remove selected")
        self.save_set = QPushButton("Save set")
        self.save_set.setObjectName("saveSet")
        self.set_status = QLabel()
        self.set_status.setObjectName("hint")
        e.addLayout(button_row(self.add_row, self.remove_row, (self.set_status, 1), self.save_set))
        self.empty = QLabel(
            "No example sets yet. Create one and type a few input → output pairs, or drop a "
            ".jsonl / .csv file (columns input, output) onto this page."
        )
        self.empty.setObjectName("emptyHint")
        self.empty.setWordWrap(True)
        e.addWidget(self.empty)
        self.config_layout.addWidget(editor, 1)

        self.attach.toggled.connect(self._usage_changed)
        self.set_picker.activated.connect(lambda _i: self._usage_changed())
        self.all_examples.toggled.connect(lambda _c: self._usage_changed())
        self.k.valueChanged.connect(lambda _v: self._usage_changed())
        self.editing.currentIndexChanged.connect(lambda _i: self._load_set())
        self.new_set.clicked.connect(self._new_set)
        self.import_button.clicked.connect(self._import)
        self.export_button.clicked.connect(self._export)
        self.delete_set.clicked.connect(self._delete)
        self.add_row.clicked.connect(self._add_row)
        self.remove_row.clicked.connect(self._remove_rows)
        self.save_set.clicked.connect(self._save_set)
        self.table.itemChanged.connect(lambda _i: self.set_status.setText("Unsaved edits"))
        state.changed.connect(self.refresh)

    # -- the assistant's use of a set --------------------------------------------------------

    def refresh(self) -> None:
        d = self.state.draft
        names = self.engine.list_example_sets()
        for w in (self.attach, self.set_picker, self.all_examples, self.similar, self.k):
            w.blockSignals(True)
        self.set_picker.clear()
        self.set_picker.addItems(names)
        if d is not None:
            self.attach.setChecked(bool(d.example_set))
            if d.example_set:
                self.set_picker.setCurrentText(d.example_set)
            self.similar.setChecked(d.few_shot_k > 0)
            self.all_examples.setChecked(d.few_shot_k == 0)
            if d.few_shot_k:
                self.k.setValue(d.few_shot_k)
        self.attach.setEnabled(bool(names))
        self.set_picker.setEnabled(bool(names) and self.attach.isChecked())
        for w in (self.attach, self.set_picker, self.all_examples, self.similar, self.k):
            w.blockSignals(False)
        self.show_dirty()
        if fill_combo(self.editing, names):
            self._load_set()

    def _usage_changed(self) -> None:
        attached = self.attach.isChecked() and self.set_picker.currentText()
        self.set_picker.setEnabled(self.attach.isChecked())
        self.state.update(
            example_set=self.set_picker.currentText() if attached else None,
            few_shot_k=self.k.value() if self.similar.isChecked() else 0,
        )

    # -- editing sets ------------------------------------------------------------------------

    def _load_set(self) -> None:
        name = self.editing.currentText()
        examples = self.engine.get_example_set(name) if name else []
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for ex in examples:
            self._append(ex.input, ex.output)
        self.table.blockSignals(False)
        self.table.resizeRowsToContents()
        has = bool(name)
        for w in (self.table, self.add_row, self.remove_row, self.save_set):
            w.setEnabled(has)
        self.export_button.setEnabled(has)
        self.delete_set.setEnabled(has)
        self.empty.setVisible(not has)
        self.set_status.setText(f"{len(examples)} examples" if has else "")

    def _append(self, given: str, wanted: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(given))
        self.table.setItem(row, 1, QTableWidgetItem(wanted))

    def _add_row(self) -> None:
        self._append("", "")
        self.table.editItem(self.table.item(self.table.rowCount() - 1, 0))

    def _remove_rows(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)
        self.set_status.setText("Unsaved edits")

    def table_examples(self) -> list[Example]:
        out = []
        for row in range(self.table.rowCount()):
            given = (self.table.item(row, 0) or QTableWidgetItem("")).text().strip()
            wanted = (self.table.item(row, 1) or QTableWidgetItem("")).text().strip()
            if given and wanted:
                out.append(Example(given, wanted))
        return out

    def _save_set(self) -> None:
        name = self.editing.currentText()
        examples = self.table_examples()
        self.engine.replace_examples(name, examples)
        self.set_status.setText(f"Saved · {len(examples)} examples")
        self.state.changed.emit()

    def _new_set(self) -> None:
        if name := create_named(self, "New example set", self.engine.create_example_set):
            self.refresh()
            self.editing.setCurrentText(name)

    def import_path(self, path: Path, name: str | None = None) -> None:
        """Import a .jsonl/.csv (from the dialog or a drop) into a set named after the file."""
        name = name or path.stem
        try:
            n = self.engine.import_examples(path, name)
        except TailorError as exc:
            show_error(self, exc)
            return
        self.refresh()
        self.editing.setCurrentText(name)
        self._load_set()
        self.set_status.setText(f"Imported {n} examples from {path.name}")

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import examples", "", "Examples (*.jsonl *.json *.csv)"
        )
        if path:
            self.import_path(Path(path))

    def _export(self) -> None:
        name = self.editing.currentText()
        path, _ = QFileDialog.getSaveFileName(
            self, "Export examples", f"{name}.jsonl", "JSON Lines (*.jsonl);;CSV (*.csv)"
        )
        if path:
            try:
                n = self.engine.export_examples(name, Path(path))
            except (TailorError, OSError) as exc:
                show_error(self, exc)
                return
            self.set_status.setText(f"Exported {n} examples")

    def _delete(self) -> None:
        name = self.editing.currentText()
        answer = QMessageBox.question(self, "Delete example set", f"Delete '{name}'?")
        if answer == QMessageBox.StandardButton.Yes:
            self.engine.delete_example_set(name)
            if self.state.draft and self.state.draft.example_set == name:
                self.state.update(example_set=None)
            self.refresh()
