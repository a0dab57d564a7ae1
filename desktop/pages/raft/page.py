"""The Level 5 (RAFT) page: whether this assistant answers with a RAFT adapter and a knowledge
base, the builds of RAFT training data (drafted in the background), and the way to training and
to the comparison with Levels 3 and 4."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from desktop.errors import show_error
from desktop.pages.base import RungPage, button_row, fill_combo
from desktop.pages.raft.build_dialog import BuildDialog
from desktop.pages.raft.ladder_dialog import LadderDialog
from desktop.pages.raft.review_dialog import ReviewDialog
from desktop.state import AssistantState
from desktop.worker import Job
from engine.api import Progress
from engine.types import BuildInfo, DraftingDetail


class RaftPage(RungPage):
    train_requested = Signal(str)  # a RAFT dataset to train on the Fine-tune page
    run_started = Signal(int)  # an evaluation run comparing Levels 3, 4 and 5
    status_message = Signal(str)

    def __init__(self, state: AssistantState, parent=None):
        super().__init__(
            "5 · RAFT",
            "Fine-tune on retrieval-style data, then serve with your knowledge base: the model "
            "learns to find the right passage among distractors and quote it. For high-stakes "
            "questions over documents that change; costs both a training run and retrieval.",
            parent,
        )
        self.state = state
        self.engine = state.engine
        self.job: Job | None = None
        self._infos: dict[str, BuildInfo] = {}  # the builds as last listed

        use = QGroupBox("This assistant")
        f = QFormLayout(use)
        self.use = QCheckBox("Answer with a RAFT adapter and a knowledge base (Level 5)")
        self.use.setObjectName("useRaft")
        self.adapter = QComboBox()
        self.adapter.setObjectName("raftAdapter")
        self.kb = QComboBox()
        self.kb.setObjectName("raftKnowledgeBase")
        self.k = QSpinBox()
        self.k.setRange(1, 50)
        self.k.setToolTip(
            "Passages retrieved per question; RAFT was trained to ignore the wrong ones"
        )
        f.addRow(self.use)
        f.addRow("RAFT adapter", self.adapter)
        f.addRow("Knowledge base", self.kb)
        f.addRow("Passages", self.k)
        f.addRow(self.save_row("RAFT settings changed"))
        self.config_layout.addWidget(use)

        build = QGroupBox("1 · Build training data from a knowledge base")
        b = QVBoxLayout(build)
        self.builds = QTreeWidget()
        self.builds.setObjectName("raftBuilds")
        self.builds.setHeaderLabels(["Dataset", "Knowledge base", "State"])
        self.builds.setRootIsDecorated(False)
        self.builds.setMinimumHeight(90)
        self.builds.setMaximumHeight(150)
        self.builds.setColumnWidth(0, 150)
        self.builds.setColumnWidth(1, 120)
        b.addWidget(self.builds)
        self.new_build = QPushButton("New…")
        self.continue_build = QPushButton("Continue")
        self.review = QPushButton("Review and save…")
        self.delete_build = QPushButton("Delete")
        b.addLayout(
            button_row(self.new_build, self.continue_build, self.review, self.delete_build, None)
        )
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("raftProgress")
        self.stop = QPushButton("Stop")
        self.stop.setEnabled(False)
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.stop)
        b.addLayout(prow)
        self.build_info = QLabel()
        self.build_info.setObjectName("hint")
        self.build_info.setWordWrap(True)
        b.addWidget(self.build_info)
        self.config_layout.addWidget(build)

        train = QGroupBox("2 · Train")
        t = QVBoxLayout(train)
        hint = QLabel(
            "Train an adapter on the saved dataset with the fine-tuning job runner (it runs on "
            "after the window closes). Each example carries k + 1 passages: set the maximum "
            "sequence length so they fit — the data statistics count those over it, and they "
            "are left out. Train one on “… (no documents)” too, to compare with a plain "
            "fine-tune."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        t.addWidget(hint)
        self.train = QPushButton("Train on the Fine-tune page →")
        t.addWidget(self.train, 0, Qt.AlignmentFlag.AlignLeft)
        self.config_layout.addWidget(train)

        compare = QGroupBox("3 · Compare Levels 3, 4 and 5")
        c = QVBoxLayout(compare)
        hint = QLabel(
            "The held-out questions through base + RAG (Level 3), the plain fine-tune (Level 4) "
            "and RAFT + RAG (Level 5), each at several numbers of retrieved passages."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        c.addWidget(hint)
        self.compare = QPushButton("Compare…")
        c.addWidget(self.compare, 0, Qt.AlignmentFlag.AlignLeft)
        self.config_layout.addWidget(compare)
        self.config_layout.addStretch(1)

        for w in (self.use, self.adapter, self.kb):
            signal = w.toggled if w is self.use else w.currentTextChanged
            signal.connect(self._usage_changed)
        self.k.valueChanged.connect(self._usage_changed)
        self.new_build.clicked.connect(self._new_build)
        self.continue_build.clicked.connect(lambda: self.start_drafting(self._selected()))
        self.review.clicked.connect(self._review)
        self.delete_build.clicked.connect(self._delete)
        self.stop.clicked.connect(self._stop)
        self.train.clicked.connect(self._train)
        self.compare.clicked.connect(self._compare)
        self.builds.currentItemChanged.connect(lambda *_: self._show_selected())
        state.changed.connect(self.refresh)

    # -- the assistant's use -----------------------------------------------------------------

    def _raft_adapters(self) -> list[str]:
        d = self.state.draft
        return [
            a.name
            for a in self.engine.list_adapters()
            if a.kind == "raft" and (d is None or a.base_model == d.model)
        ]

    def refresh(self) -> None:
        d = self.state.draft
        widgets = (self.use, self.adapter, self.kb, self.k)
        for w in widgets:
            w.blockSignals(True)
        adapters = self._raft_adapters()
        fill_combo(self.adapter, adapters)
        fill_combo(self.kb, self.engine.list_knowledge_bases())
        if d is not None:
            level5 = d.adapter in adapters and bool(d.knowledge_base)
            self.use.setChecked(level5)
            if d.adapter in adapters:
                self.adapter.setCurrentText(d.adapter)
            if d.knowledge_base:
                self.kb.setCurrentText(d.knowledge_base)
            self.k.setValue(d.retrieval_k)
        ready = bool(adapters) and self.kb.count() > 0
        self.use.setEnabled(ready)
        self.use.setToolTip(
            "" if ready else "Needs a knowledge base and an adapter trained on a RAFT dataset"
        )
        for w in (self.adapter, self.kb, self.k):
            w.setEnabled(ready and self.use.isChecked())
        for w in widgets:
            w.blockSignals(False)
        self.show_dirty()
        if self.isVisible():
            self._fill_builds()

    def _usage_changed(self) -> None:
        on = self.use.isChecked() and self.adapter.currentText() and self.kb.currentText()
        for w in (self.adapter, self.kb, self.k):
            w.setEnabled(self.use.isChecked())
        if on:
            self.state.update(
                adapter=self.adapter.currentText(),
                knowledge_base=self.kb.currentText(),
                retrieval_k=self.k.value(),
            )
        elif not self.use.isChecked() and self.state.level == 5:
            self.state.update(adapter=None)

    # -- builds ------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fill_builds()

    def _fill_builds(self) -> None:
        keep = self._selected()
        self.builds.clear()
        self._infos = {info.name: info for info in self.engine.list_raft_builds()}
        for info in self._infos.values():
            item = QTreeWidgetItem([info.name, info.options.knowledge_base, info.summary])
            item.setData(0, Qt.ItemDataRole.UserRole, info.name)
            self.builds.addTopLevelItem(item)
            if info.name == keep:
                self.builds.setCurrentItem(item)
        if self.builds.currentItem() is None and self.builds.topLevelItemCount():
            self.builds.setCurrentItem(self.builds.topLevelItem(0))
        self._show_selected()

    def _selected(self) -> str | None:
        item = self.builds.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item else None

    def _show_selected(self) -> None:
        name = self._selected()
        busy = self.job is not None and self.job.running
        info = self._infos.get(name) if name else None
        self.continue_build.setEnabled(
            bool(info) and not busy and info.status in ("drafting", "stopped")
        )
        self.review.setEnabled(bool(info) and not busy and info.status == "review")
        self.delete_build.setEnabled(bool(info) and not busy)
        self.new_build.setEnabled(not busy)
        self.train.setEnabled(bool(info) and info.status == "saved")
        if busy:
            return
        if info is None:
            self.build_info.setText(
                "No RAFT data yet. Index a folder on Knowledge, then New… drafts questions about "
                "its passages with a local model (the bigger the better)."
            )
            self.progress.reset()
            return
        o = info.options
        text = (
            f"{info.summary}. Writer {o.writer}; {o.questions_per_chunk} question(s) per passage, "
            f"{o.distractors} {o.negatives} distractors, oracle kept in {o.p_oracle:.0%}."
        )
        if info.status == "saved":
            r = info.result
            text += (
                f" Dropped {r['dropped']} draft(s); {r['extracted']} answers quote the passage's "
                f"own sentence. Evaluation set: {r['eval_set'] or 'none'}."
            )
        self.build_info.setText(text)
        self.progress.setMaximum(max(info.total, 1))
        self.progress.setValue(info.done)
        self.progress.setFormat(f"{info.done}/{info.total} passages")

    def _new_build(self) -> None:
        if not self.engine.list_knowledge_bases():
            show_error(self, "There are no knowledge bases yet: index a folder on Knowledge first.")
            return
        dialog = BuildDialog(self.engine, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self._fill_builds()
        self.start_drafting(dialog.name.text().strip())

    def start_drafting(self, name: str | None) -> None:
        if not name or (self.job is not None and self.job.running):
            return
        engine = self.engine
        self.job = Job(lambda cancel: engine.draft_raft(name, cancel=cancel), self)
        self.job.event.connect(lambda p: self._on_progress(name, p))
        self.job.finished.connect(lambda: self._drafting_finished(name))
        self.stop.setEnabled(True)
        self.build_info.setText(f"Drafting “{name}”: loading the writer model…")
        self.job.start()
        self._show_selected()

    def _on_progress(self, name: str, p: Progress) -> None:
        drafts: DraftingDetail = p.detail
        self.progress.setMaximum(max(p.total, 1))
        self.progress.setValue(p.done)
        self.progress.setFormat(f"%v/%m passages · {drafts.kept} drafts · {drafts.dropped} dropped")
        eta = f" · about {p.eta_s:.0f} s left" if p.eta_s else ""
        latest = next((d for d in drafts.latest if d.question), None)
        self.build_info.setText(
            f"Drafting “{name}”{eta}."
            + (
                f"<br>Latest: <i>{html.escape(latest.question)}</i> → {html.escape(latest.answer)}"
                if latest
                else ""
            )
        )
        self.status_message.emit(f"RAFT “{name}”: {p.done}/{p.total} passages drafted")

    def _drafting_finished(self, name: str) -> None:
        self.stop.setEnabled(False)
        self.job = None
        self._fill_builds()
        info = self._infos.get(name)
        if info is not None and info.status == "review":
            self.status_message.emit(f"RAFT “{name}”: drafted; review and save it.")
            self.build_info.setText(
                f"“{name}” is drafted: <b>Review and save…</b> to read, edit and save it."
            )

    def _stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.build_info.setText("Stopping after this passage; Continue picks up from here.")

    def _review(self) -> None:
        name = self._selected()
        if not name:
            return
        dialog = ReviewDialog(self.engine, name, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._fill_builds()
            self.status_message.emit(f"Saved RAFT dataset “{name}”.")

    def _delete(self) -> None:
        name = self._selected()
        if not name:
            return
        answer = QMessageBox.question(
            self,
            "Delete build",
            f"Delete the drafts of “{name}”? Datasets and evaluation sets already saved stay.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.engine.delete_raft_build(name)
            self._fill_builds()

    def _train(self) -> None:
        name = self._selected()
        if name:
            self.train_requested.emit(name)

    def _compare(self) -> None:
        saved = [i.name for i in self.engine.list_raft_builds() if i.status == "saved"]
        raft_adapters = [a for a in self.engine.list_adapters() if a.kind == "raft"]
        if not saved or not raft_adapters:
            show_error(
                self,
                "Comparing needs a saved RAFT dataset and an adapter trained on it: build the "
                "data (1), then train (2).",
            )
            return
        dialog = LadderDialog(self.engine, saved, self._selected(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.run_id is not None:
            self.run_started.emit(dialog.run_id)
