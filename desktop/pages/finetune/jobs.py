"""The Fine-tune page's jobs: the list of training jobs (with the attached evaluation set's score
before → after training), the selected one's state and loss chart, and Resume, Cancel and Log.
The training process writes the jobs' files; while the page is on screen they are read again
every second, in the background, one read at a time."""

from __future__ import annotations

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from desktop.pages.base import button_row
from desktop.worker import Job
from engine.types import JobInfo


class JobsSection:
    """The "3 · Jobs" group of :class:`desktop.pages.finetune.page.FinetunePage`."""

    def _build_jobs(self) -> QGroupBox:
        self.shown_job: int | None = None
        self._jobs_by_id: dict[int, JobInfo] = {}  # as the last read found them
        self._adapters_seen: list[str] | None = None
        self._polling: Job | None = None

        jobs = QGroupBox("3 · Jobs")
        j = QVBoxLayout(jobs)
        self.jobs = QTreeWidget()
        self.jobs.setObjectName("jobList")
        self.jobs.setHeaderLabels(["Adapter", "Status", "Step", "Loss", "Score"])
        self.jobs.setRootIsDecorated(False)
        self.jobs.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.jobs.setMaximumHeight(110)
        j.addWidget(self.jobs)
        self.resume = QPushButton("Resume")
        self.cancel = QPushButton("Cancel")
        self.show_log = QPushButton("Log")
        j.addLayout(button_row(self.resume, self.cancel, self.show_log, None))
        self.job_status = QLabel("No training jobs yet.")
        self.job_status.setObjectName("jobStatus")
        self.job_status.setWordWrap(True)
        j.addWidget(self.job_status)
        self.chart = QChart()
        self.chart.setTitle("Loss")
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setObjectName("lossChart")
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(230)
        self.train_series = QLineSeries()
        self.train_series.setName("training")
        self.eval_series = QLineSeries()
        self.eval_series.setName("validation")
        self.ax, self.ay = QValueAxis(), QValueAxis()
        self.ax.setTitleText("step")
        self.ax.setLabelFormat("%d")
        self.chart.addAxis(self.ax, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.ay, Qt.AlignmentFlag.AlignLeft)
        for series in (self.train_series, self.eval_series):
            self.chart.addSeries(series)
            series.attachAxis(self.ax)
            series.attachAxis(self.ay)
        j.addWidget(self.chart_view)

        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.poll)
        self.resume.clicked.connect(self._resume)
        self.cancel.clicked.connect(self._cancel)
        self.show_log.clicked.connect(self._log)
        self.jobs.currentItemChanged.connect(lambda *_: self._job_selected())
        return jobs

    @staticmethod
    def jobs_snapshot(engine) -> tuple[list[JobInfo], list[str]]:
        """The jobs and the adapters' names as their files say now (off the Qt thread)."""
        return engine.list_training_jobs(), [a.name for a in engine.list_adapters()]

    def poll(self) -> None:
        """Re-read the jobs' files (the training process writes them) in the background; a
        read still under way is not doubled."""
        if self._polling is not None:
            return
        engine = self.engine
        self._polling = Job(lambda _cancel: self.jobs_snapshot(engine), self)
        self._polling.succeeded.connect(self._show_snapshot)
        self._polling.failed.connect(lambda error: self.job_status.setText(str(error)))
        self._polling.finished.connect(self._poll_finished)
        self._polling.start()

    def _poll_finished(self) -> None:
        self._polling = None

    def _show_snapshot(self, snapshot: tuple[list[JobInfo], list[str]]) -> None:
        jobs, adapters = snapshot
        self._fill_jobs(jobs)
        if self._adapters_seen is not None and adapters != self._adapters_seen:
            self.refresh()  # a job finished: its adapter can be attached now
        self._adapters_seen = adapters

    def _fill_jobs(self, jobs: list[JobInfo]) -> None:
        self._jobs_by_id = {job.id: job for job in jobs}
        keep = self.shown_job if self.shown_job in self._jobs_by_id else None
        self.jobs.blockSignals(True)
        self.jobs.clear()
        for job in jobs:
            loss = f"{job.train_losses[-1][1]:.3f}" if job.train_losses else ""
            steps = f"{job.step}/{job.total_steps}" if job.total_steps else ""
            item = QTreeWidgetItem([job.adapter, job.status, steps, loss, _score_cell(job)])
            item.setData(0, Qt.ItemDataRole.UserRole, job.id)
            if job.message:
                item.setToolTip(1, job.message)
            if job.score is not None:
                item.setToolTip(4, job.score.summary())
            self.jobs.addTopLevelItem(item)
            if keep is None or job.id == keep:
                self.jobs.setCurrentItem(item)
                keep = job.id
        self.jobs.blockSignals(False)
        self.shown_job = keep
        self._show_job()

    def _job_selected(self) -> None:
        item = self.jobs.currentItem()
        self.shown_job = item.data(0, Qt.ItemDataRole.UserRole) if item else None
        self._show_job()

    def _selected_job(self) -> JobInfo | None:
        item = self.jobs.currentItem()
        return self._jobs_by_id.get(item.data(0, Qt.ItemDataRole.UserRole)) if item else None

    def _resume(self) -> None:
        if (job := self._selected_job()) is not None:
            self._act(lambda engine: engine.resume_training(job.id))

    def _cancel(self) -> None:
        if (job := self._selected_job()) is not None:
            self._act(lambda engine: engine.cancel_training(job.id))

    def _act(self, action) -> None:
        """Resume or cancel in the background (a refusal becomes a dialog), then read the jobs
        again."""
        engine = self.engine
        job = Job(lambda _cancel: action(engine), self)
        job.finished.connect(self.poll)
        job.start()

    def _log(self) -> None:
        job = self._selected_job()
        if job is None:
            return
        engine = self.engine
        reading = Job(lambda _cancel: engine.training_log(job.id), self)
        reading.succeeded.connect(lambda text: self._show_log(job, text))
        reading.start()

    def _show_log(self, job: JobInfo, log: str) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Training log: {job.adapter}")
        dialog.resize(900, 560)
        text = QPlainTextEdit()
        text.setReadOnly(True)
        text.setPlainText(log[-200_000:] or "No log yet.")
        QVBoxLayout(dialog).addWidget(text)
        dialog.exec()

    def _show_job(self) -> None:
        job = self._jobs_by_id.get(self.shown_job)
        if job is None:
            self.job_status.setText("No training jobs yet.")
            self.resume.setEnabled(False)
            self.cancel.setEnabled(False)
            self.show_log.setEnabled(False)
            return
        self.job_status.setText(
            job.summary()
            + (f"<br>{job.message}" if job.message and job.status == "running" else "")
        )
        self.resume.setEnabled(job.resumable)
        self.cancel.setEnabled(job.status in ("running", "preparing", "queued"))
        self.show_log.setEnabled(True)
        self.train_series.replace([QPointF(s, v) for s, v in job.train_losses])
        self.eval_series.replace([QPointF(s, v) for s, v in job.eval_losses])
        values = [v for _, v in job.train_losses + job.eval_losses]
        self.ax.setRange(0, max(job.total_steps, job.step, 1))
        self.ay.setRange(0, max(values) * 1.1 if values else 1.0)
        self.chart.setTitle(f"Loss · {job.adapter}")


def _score_cell(job: JobInfo) -> str:
    """The attached set's score in the jobs list: "0.40 → 0.55" (the tooltip names the metric
    and the set), or how far it got."""
    score = job.score
    if score is None:
        return ""
    if score.status == "done":
        return f"{score.before:.2f} → {score.after:.2f}"
    return {"failed": "failed", "stopped": "stopped", "scoring": "scoring…"}.get(score.status, "…")
