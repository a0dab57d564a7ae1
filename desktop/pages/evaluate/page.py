"""The Evaluate page: its four tabs (Run, Scoreboard, Cases, Advisor) and what passes between
them. A run opened or finished on the Run tab is shown on the Scoreboard and Cases tabs and read
by the Advisor, whose reading of the numbers also appears beside the scoreboard."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from desktop.pages.base import page_header
from desktop.pages.evaluate.advisor import AdvisorTab
from desktop.pages.evaluate.cases import CasesTab
from desktop.pages.evaluate.run import RunTab
from desktop.pages.evaluate.scoreboard import ScoreboardTab
from desktop.worker import Job

RUN, SCOREBOARD = 0, 1  # tab indices


class EvaluatePage(QWidget):
    """Evaluation sets, runs against several assistants at once, their results and advice."""

    status_message = Signal(str)

    def __init__(self, engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.run_id: int | None = None  # the run the Scoreboard and Cases tabs show
        self.reading: Job | None = None  # that run, being read in the background
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.addWidget(
            page_header(
                "Evaluate",
                "Run one evaluation set against several assistants at once and compare accuracy, "
                "latency and cost side by side. Climb the ladder only when the numbers say so.",
            )
        )
        self.run_tab = RunTab(engine)
        self.board_tab = ScoreboardTab()
        self.cases_tab = CasesTab(engine)
        self.advisor_tab = AdvisorTab(engine)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evalTabs")
        self.tabs.addTab(self.run_tab, "Run")
        self.tabs.addTab(self.board_tab, "Scoreboard")
        self.tabs.addTab(self.cases_tab, "Cases")
        self.tabs.addTab(self.advisor_tab, "Advisor")
        layout.addWidget(self.tabs, 1)
        self.run_tab.status_message.connect(self.status_message)
        self.run_tab.sets_changed.connect(self.refresh)
        self.run_tab.run_opened.connect(self._open)
        self.run_tab.run_finished.connect(self._finished)
        self.advisor_tab.numbers_advice.connect(self.board_tab.show_advice)

    def refresh(self) -> None:
        """Reload what the engine may have changed while the page was hidden."""
        self.run_tab.refresh()
        self.advisor_tab.refresh()

    def show_run(self, run_id: int, tab: int | None = None) -> None:
        """Show ``run_id`` on the Scoreboard and Cases tabs and have the Advisor read it, once
        it is read (in the background); then bring ``tab`` to the front, if given."""
        self.run_id = run_id
        engine, metric = self.engine, self.cases_tab.metric.currentData()

        def read(_cancel):
            run = engine.get_eval_run(run_id)
            return run, engine.scoreboard(run_id), engine.eval_per_case(run_id, metric)

        def show(result) -> None:
            run, rows, cases = result
            if run_id != self.run_id:
                return  # another run was asked for meanwhile
            self.board_tab.show_run(run, rows)
            self.cases_tab.show_run(run_id, run["assistants"], cases, metric)
            self.advisor_tab.show_rows(rows)
            if tab is not None:
                self.tabs.setCurrentIndex(tab)

        self.reading = Job(read, self, "Evaluation run")
        self.reading.succeeded.connect(show)
        self.reading.start()

    def start_existing(self, run_id: int) -> None:
        """Run (or finish) a run created elsewhere, e.g. the RAFT page's comparison."""
        self.refresh()
        self.tabs.setCurrentIndex(RUN)
        self.run_tab.start(run_id)

    def import_path(self, path: Path) -> None:
        """Import a file dropped on the window as an evaluation set."""
        self.run_tab.sets.import_path(path)

    @property
    def job(self) -> Job | None:
        """The evaluation running in the background, if any (the window cancels it on close)."""
        return self.run_tab.job

    @property
    def running(self) -> bool:
        """Whether an evaluation is running."""
        return self.run_tab.running

    def _open(self, run_id: int) -> None:
        self.show_run(run_id, SCOREBOARD)

    def _finished(self, run_id: int, status: str) -> None:
        self.show_run(run_id, SCOREBOARD if status == "done" else None)
