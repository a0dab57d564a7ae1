"""The Fine-tune page's training data: the dataset picker, its token counts (counted in the
background, once per dataset and model), and the ways to make a dataset — import a file, turn an
example set into one, or generate question–answer pairs from a knowledge base."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QGroupBox,
    QInputDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.pages.base import button_row
from desktop.worker import Job
from engine.errors import TailorError
from engine.types import fitting_seq_length, length_stats


class DataSection:
    """The "1 · Training data" group of :class:`desktop.pages.finetune.page.FinetunePage`."""

    def _build_data(self) -> QGroupBox:
        self._lengths: dict[tuple[str, str], list[int]] = {}  # (dataset, model) → token counts
        self._kinds: dict[str, str] = {}  # dataset → "chat" or "raft"
        self._counting: set[tuple[str, str]] = set()  # counted in the background right now
        self._fit_raft: str | None = None  # a RAFT dataset whose longest example must fit

        data = QGroupBox("1 · Training data")
        d = QVBoxLayout(data)
        self.dataset = QComboBox()
        self.dataset.setObjectName("datasetPicker")
        d.addWidget(self.dataset)
        self.import_data = QPushButton("Import…")
        self.import_data.setToolTip("JSONL, CSV or Parquet: chat (messages) or instruction form")
        self.from_examples = QPushButton("From examples…")
        self.generate = QPushButton("Generate…")
        self.generate.setToolTip(
            "Question–answer pairs written by a local model about passages "
            "of a knowledge base, reviewed before saving"
        )
        d.addLayout(button_row(self.import_data, self.from_examples, self.generate, None))
        self.data_stats = QLabel()
        self.data_stats.setObjectName("hint")
        self.data_stats.setWordWrap(True)
        d.addWidget(self.data_stats)

        self.dataset.currentIndexChanged.connect(lambda _i: self._show_stats())
        self.import_data.clicked.connect(self._import)
        self.from_examples.clicked.connect(self._from_examples)
        self.generate.clicked.connect(self._generate)
        return data

    def _show_stats(self) -> None:
        name = self.dataset.currentText()
        if not name:
            self.data_stats.setText(
                "No dataset yet. Import conversations (JSONL/CSV/Parquet), turn an example set "
                "into one, or generate question–answer pairs from a knowledge base."
            )
            return
        key = self._stats_key()
        if key in self._lengths:  # a saved dataset never changes: count once
            self._show_lengths(key)
            return
        self.data_stats.setText(f"Counting the tokens in “{name}”…")
        if key in self._counting:
            return
        # Loading the tokenizer and counting every conversation takes seconds on a large
        # dataset: in the background.
        self._counting.add(key)
        engine = self.engine

        def count(_cancel):
            return engine.dataset_kind(key[0]), engine.dataset_lengths(*key)

        job = Job(count, self)
        job.succeeded.connect(lambda counted: self._counted(key, *counted))
        job.failed.connect(lambda error: self._count_failed(key, error))
        job.start()

    def _stats_key(self) -> tuple[str, str]:
        return self.dataset.currentText(), self.base.currentText() or self.state.draft.model

    def _counted(self, key: tuple[str, str], kind: str, lengths: list[int]) -> None:
        self._counting.discard(key)
        self._kinds[key[0]] = kind
        self._lengths[key] = lengths
        if key == self._stats_key():
            self._show_lengths(key)

    def _count_failed(self, key: tuple[str, str], error: Exception) -> None:
        self._counting.discard(key)
        if key != self._stats_key():
            return
        if isinstance(error, TailorError):
            self.data_stats.setText(str(error))
        else:
            show_error(self, error)

    def _show_lengths(self, key: tuple[str, str]) -> None:
        lengths, raised = self._lengths[key], None
        if self._fit_raft == key[0]:
            self._fit_raft = None
            fitted = fitting_seq_length(self._kinds[key[0]], lengths, self.seq.value())
            if fitted != self.seq.value():
                self.seq.setValue(fitted)
                raised = fitted
        stats = length_stats(lengths, self.seq.value())
        text = stats.summary()
        if stats.warning:
            text += f"<br><b>Note:</b> {stats.warning}"
        if raised:
            text += (
                f"<br>Maximum sequence length raised to {raised} so every RAFT example "
                "(the question with its passages) fits."
            )
        self.data_stats.setText(text)

    def select_dataset(self, name: str) -> None:
        """Show ``name`` ready to train (from the RAFT page): a RAFT example carries k + 1
        passages, so the maximum sequence length is raised to fit the longest one once its
        tokens are counted."""
        self._fit_raft = name
        self.refresh()
        self.dataset.setCurrentText(name)
        self._show_stats()

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import training data", "", "Training data (*.jsonl *.json *.csv *.parquet)"
        )
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path) -> None:
        """Ask for a name (the file's stem by default) and import ``path`` as that dataset, in
        the background; a refused file becomes a dialog listing every bad row."""
        name, ok = QInputDialog.getText(self, "Import training data", "Name:", text=path.stem)
        name = name.strip()
        if not ok or not name:
            return
        engine = self.engine
        self._make_dataset(name, lambda _cancel: engine.import_dataset(path, name))

    def _from_examples(self) -> None:
        names = self.engine.list_example_sets()
        if not names:
            show_error(self, "There are no example sets yet: make one on the Examples page.")
            return
        chosen, ok = QInputDialog.getItem(self, "From examples", "Example set:", names, 0, False)
        if not ok:
            return
        engine = self.engine
        system = self.state.draft.system_prompt if self.state.draft else ""
        self._make_dataset(
            chosen,
            lambda _cancel: engine.dataset_from_examples(chosen, chosen, system_prompt=system),
        )

    def _make_dataset(self, name: str, work) -> None:
        """Run ``work`` (which saves dataset ``name``) in the background, then show it."""

        def made(_rows) -> None:
            self.refresh()
            self.dataset.setCurrentText(name)

        job = Job(work, self, "Training data")
        job.succeeded.connect(made)
        job.start()

    def _generate(self) -> None:
        from desktop.pages.evaluate.generate import GenerateDialog

        if not self.engine.list_knowledge_bases():
            show_error(self, "There are no knowledge bases yet: index a folder on Knowledge first.")
            return
        engine = self.engine

        def save(name, cases):
            engine.dataset_from_cases(name, cases)

        dialog = GenerateDialog(engine, self, save, "training data", "Generated pairs")
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.refresh()
