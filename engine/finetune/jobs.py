"""Training jobs that outlive the window: each runs as its own process, with everything about it
in its folder (``<workspace>/training/<label>/``, claimed for it by :mod:`engine.storage` and
stored in its row: the adapter's name is never turned back into a path):

* ``job.json`` — what to train (base model, dataset split, hyper-parameters), written once;
* ``state.json`` — status, step, pid, message; rewritten atomically by the training process;
* ``progress.jsonl`` — one line per logged step: loss, validation loss, tokens/s, ETA;
* ``train.log`` — the process's own output; ``checkpoints/`` — resumable trainer checkpoints;
* ``adapter/`` (PEFT) and ``adapter.gguf`` (llama.cpp LoRA) once it has finished.

Reading and writing those files is :mod:`engine.finetune.job_files`; the options are
:mod:`engine.finetune.options`, the memory check :mod:`engine.finetune.hardware`.

A window or a terminal attaches by reading those files, so closing the window changes nothing,
and a job whose process died (``kill -9``, a reboot) shows as *interrupted* and resumes from
its last checkpoint with the same schedule.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine import storage
from engine.errors import AlreadyExists, ComponentMissing, NotFound, TailorError
from engine.events import Progress
from engine.finetune import datasets as ds
from engine.finetune.adapters import Adapters
from engine.finetune.datasets import Datasets
from engine.finetune.hardware import HardwareCheck, hardware_check
from engine.finetune.job_files import latest_checkpoint, read_json, read_progress, write_json
from engine.finetune.options import TrainOptions
from engine.finetune.scoring import AdapterScore, read_score
from engine.models.library import ModelLibrary
from engine.models.runtime import CancelToken
from engine.runtime import module_command
from engine.workspace import Workspace

FINISHED = ("done", "failed", "cancelled")


@dataclass
class JobInfo:
    id: int
    adapter: str
    base_model: str
    dataset: str
    folder: Path
    status: str  # queued, preparing, running, done, failed, cancelled, interrupted
    step: int = 0
    total_steps: int = 0
    message: str = ""
    pid: int | None = None
    created_at: str = ""
    history: list[dict] = field(default_factory=list)
    too_long: int = 0  # examples left out: longer than the maximum sequence length
    resumable: bool = False  # stopped before the end, with a checkpoint to continue from
    awake: str = ""  # while it runs: the service keeping the computer awake ("" if none)
    score: AdapterScore | None = None  # the attached evaluation set's before/after score

    @property
    def last(self) -> dict:
        return self.history[-1] if self.history else {}

    @property
    def train_losses(self) -> list[tuple[int, float]]:
        return [(h["step"], h["loss"]) for h in self.history if "loss" in h]

    @property
    def eval_losses(self) -> list[tuple[int, float]]:
        return [(h["step"], h["eval_loss"]) for h in self.history if "eval_loss" in h]

    def summary(self) -> str:
        text = f"{self.adapter}: {self.status}"
        if self.total_steps:
            text += f" · step {self.step}/{self.total_steps}"
        last = self.last
        if "loss" in last or self.train_losses:
            text += f" · loss {self.train_losses[-1][1]:.3f}" if self.train_losses else ""
        if self.eval_losses:
            text += f" · val {self.eval_losses[-1][1]:.3f}"
        if last.get("tokens_per_s"):
            text += f" · {last['tokens_per_s']:.0f} tokens/s"
        if self.status == "running" and last.get("eta_s") is not None:
            text += f" · ETA {_duration(last['eta_s'])}"
        score = self.score.status if self.score else "waiting"
        if score != "waiting" and (score != "scoring" or self.status == "running"):
            text += f" · {self.score.summary()}"
        if self.message and self.status != "running":
            text += f" — {self.message}"
        if self.too_long:
            text += f" ({self.too_long} examples over the length limit left out)"
        return text


@dataclass(frozen=True)
class TrainingProgress:
    """The facts of a training job's :class:`engine.events.Progress` (its ``detail``): the
    latest training and validation loss, the speed, and the job's message."""

    job_id: int
    loss: float | None = None
    eval_loss: float | None = None
    tokens_per_s: float | None = None
    message: str = ""


def progress_of(job: JobInfo) -> Progress:
    """A job's state as the one progress event of every operation."""
    last = job.last
    return Progress(
        phase=job.status,
        done=job.step,
        total=job.total_steps,
        eta_s=last.get("eta_s") if job.status == "running" else None,
        label=job.summary(),
        detail=TrainingProgress(
            job_id=job.id,
            loss=job.train_losses[-1][1] if job.train_losses else None,
            eval_loss=job.eval_losses[-1][1] if job.eval_losses else None,
            tokens_per_s=last.get("tokens_per_s"),
            message=job.message,
        ),
    )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def pid_alive(pid: int | None) -> bool:
    """Whether ``pid`` is a training process that is still running."""
    if not pid:
        return False
    try:
        import psutil

        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and any(
            "engine.finetune.worker" in part for part in proc.cmdline()
        )
    except Exception:  # no such process, or not ours to inspect
        return False


class Jobs:
    """The training jobs of one workspace: starting, resuming and cancelling their processes,
    and reading their folders. ``token_counter(model)`` gives a function counting a
    conversation's tokens with that model (examples over the length limit are left out)."""

    def __init__(
        self,
        workspace: Workspace,
        models: ModelLibrary,
        datasets: Datasets,
        adapters: Adapters,
        token_counter: Callable[[str], Callable[[object], int]],
    ):
        self.ws = workspace
        self._models = models
        self._datasets = datasets
        self._adapters = adapters
        self._token_counter = token_counter
        self.folder = self.ws.home / "training"
        self._children: list[subprocess.Popen] = []  # kept so they are reaped, not zombies

    # -- starting ----------------------------------------------------------------------------

    def check(self, base_model: str, options: TrainOptions) -> HardwareCheck:
        info = self._models.get(base_model).info
        return hardware_check(info.parameters, info.n_layers, options)

    def start(
        self,
        adapter: str,
        base_model: str,
        dataset: str,
        options: TrainOptions | None = None,
        force: bool = False,
        eval_set: tuple[str, int] | None = None,
    ) -> JobInfo:
        """Check everything that can be checked now, then start the training process.
        ``eval_set`` (name, version): scored before and after training when it ends."""
        options = options or TrainOptions()
        _need_training_component()
        adapter = storage.check_name(adapter, "An adapter")
        if self._row_by_adapter(adapter, missing_ok=True) or adapter in self._adapters.names():
            raise AlreadyExists(
                f"An adapter or training job named '{adapter}' already exists; pick another "
                "name, or resume that job if it was interrupted."
            )
        self._refuse_if_busy()
        model = self._models.get(base_model)
        from engine.finetune.convert import check_supported

        check_supported(model.info.architecture)
        rows = self._datasets.get(dataset)
        train, validation = ds.split(rows, options.validation_fraction, options.seed)
        # An example longer than the limit would be cut off at the end — where the answer the
        # model should learn is — so it is left out (and counted) instead.
        count = self._token_counter(base_model)
        limit = options.max_seq_length
        fits = [c for c in train if count(c) <= limit]
        validation = [c for c in validation if count(c) <= limit]
        too_long = len(train) - len(fits)
        if train and not fits:
            raise TailorError(
                f"Every training example of '{dataset}' is longer than the maximum sequence "
                f"length ({limit} tokens), so each would lose its answer. Raise the maximum "
                "sequence length (or, for RAFT data, use fewer distractors or smaller chunks)."
            )
        train = fits
        if not train:
            raise TailorError(f"Dataset '{dataset}' has no rows left to train on.")
        hw = hardware_check(model.info.parameters, model.info.n_layers, options)
        if not hw.ok and not force:
            raise TailorError(f"{hw.summary()}. {hw.advice}")
        # A fresh folder of its own: a folder left by a deleted job, or one another name
        # would have mapped to, is never reused or emptied.
        folder = storage.claim_folder(self.folder, adapter, "adapter")
        try:
            for name, part in (("train.jsonl", train), ("validation.jsonl", validation)):
                with (folder / name).open("w", encoding="utf-8") as f:
                    for conversation in part:
                        f.write(json.dumps({"messages": conversation}, ensure_ascii=False) + "\n")
            write_json(
                folder / "job.json",
                {
                    "adapter": adapter,
                    "base_model": base_model,
                    "base_path": str(model.path),
                    "base_size": model.info.file_size,
                    "base_sha256": model.sha256,
                    "architecture": model.info.architecture,
                    "dataset": dataset,
                    "train_rows": len(train),
                    "too_long": too_long,
                    "validation_rows": len(validation),
                    "options": options.model_dump(),
                    # Keyed by the file's content: another GGUF imported later under the same
                    # name (and size) gets its own dequantised copy, never this one's weights.
                    "hf_cache": str(self.ws.home / "cache" / "hf" / model.sha256),
                    "home": str(self.ws.home),
                    # An adapter trained on retrieval-style data is served with its documents.
                    "kind": "raft" if self._datasets.kind(dataset) == "raft" else "lora",
                    "eval_set": eval_set[0] if eval_set else None,
                    "eval_set_version": eval_set[1] if eval_set else None,
                },
            )
            write_json(folder / "state.json", {"status": "queued", "step": 0, "total_steps": 0})
            job_id = self.ws.db.execute(
                "INSERT INTO training_jobs(adapter, base_model, dataset, folder) "
                "VALUES (?, ?, ?, ?)",
                (adapter, base_model, dataset, str(folder)),
            ).lastrowid
        except BaseException:
            storage.remove(self.folder, folder)  # claimed above: nobody else's
            raise
        self._spawn(folder, job_id)
        return self.get(job_id)

    def resume(self, job_id: int) -> JobInfo:
        """Start an interrupted, cancelled or failed job's process again; it continues from its
        last checkpoint with the same schedule."""
        job = self.get(job_id)
        if job.status in ("running", "preparing", "queued"):
            raise TailorError(f"'{job.adapter}' is already running (step {job.step}).")
        if job.status == "done":
            raise TailorError(f"'{job.adapter}' has finished; there is nothing to resume.")
        _need_training_component()
        self._refuse_if_busy()
        (job.folder / "cancel").unlink(missing_ok=True)
        self._spawn(job.folder, job.id)
        return self.get(job.id)

    def cancel(self, job_id: int) -> JobInfo:
        """Stop at the next step, saving a checkpoint first (Resume continues from it)."""
        job = self.get(job_id)
        if job.status not in ("running", "preparing", "queued"):
            raise TailorError(f"Job {job_id} is not running ({job.status}).")
        (job.folder / "cancel").write_text("cancel requested\n")
        # On Windows os.kill is TerminateProcess, no clean stop: the worker sees the file.
        if job.pid and pid_alive(job.pid) and sys.platform != "win32":
            os.kill(job.pid, signal.SIGTERM)  # the worker turns this into a clean stop
        return job

    def _spawn(self, folder: Path, job_id: int) -> None:
        state = read_json(folder / "state.json")
        write_json(
            folder / "state.json", state | {"status": "preparing", "message": "", "pid": None}
        )
        env = dict(
            os.environ,
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            TAILOR_HOME=str(self.ws.home),
            PYTHONUNBUFFERED="1",
            UNSLOTH_DISABLE_STATISTICS="1",
        )
        with (folder / "train.log").open("ab") as log:
            proc = subprocess.Popen(
                module_command("engine.finetune.worker", str(folder), str(job_id)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the window (and its terminal) closing
                # The same on Windows (where start_new_session does nothing): no console, so
                # closing the terminal of tailor-cli does not end it. 0 elsewhere.
                creationflags=getattr(subprocess, "DETACHED_PROCESS", 0)
                | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
                env=env,
                cwd=str(Path(__file__).resolve().parents[2]),
            )
        state = read_json(folder / "state.json")
        if not state.get("pid"):
            write_json(folder / "state.json", state | {"pid": proc.pid})
        self._children = [p for p in self._children if p.poll() is None] + [proc]

    def _refuse_if_busy(self) -> None:
        for job in self.list():
            if job.status in ("running", "preparing", "queued"):
                raise TailorError(
                    f"A training job is already running ({job.summary()}). One job at a time: "
                    "wait for it to finish, or cancel it."
                )

    # -- reading -----------------------------------------------------------------------------

    def list(self) -> list[JobInfo]:
        rows = self.ws.db.execute("SELECT * FROM training_jobs ORDER BY id DESC").fetchall()
        return [self._info(r) for r in rows]

    def get(self, job_id: int) -> JobInfo:
        row = self.ws.db.execute("SELECT * FROM training_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"No training job {job_id}.")
        return self._info(row)

    def find(self, adapter: str) -> JobInfo:
        """The job training the adapter named ``adapter``."""
        return self.get(self._row_by_adapter(adapter)["id"])

    def follow(
        self, job_id: int, interval: float = 1.0, cancel: CancelToken | None = None
    ) -> Iterator[JobInfo]:
        """Yield the job whenever its state changes, until it ends (attach), or until
        ``cancel`` is set: that stops following, never the job."""
        seen = None
        while True:
            job = self.get(job_id)
            key = (job.status, job.step, len(job.history), job.message)
            if key != seen:
                seen = key
                yield job
            if job.status in FINISHED or job.status == "interrupted":
                return
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline:
                if cancel is not None and cancel.cancelled:
                    return
                time.sleep(min(0.1, interval))

    def log(self, job_id: int) -> str:
        """The training process's own output so far."""
        try:
            return (self.get(job_id).folder / "train.log").read_text(
                encoding="utf-8", errors="replace"
            )
        except FileNotFoundError:
            return ""

    def delete(self, job_id: int) -> None:
        """Delete a job and its folder — unless its adapter (whose files live there) is kept,
        or another record's files are in it (rows from older versions could share one)."""
        job = self.get(job_id)
        if job.status in ("running", "preparing"):
            raise TailorError("Cancel the job before deleting it.")
        self.ws.db.execute("DELETE FROM training_jobs WHERE id = ?", (job_id,))
        if job.adapter not in self._adapters.names():
            others = [r["folder"] for r in self.ws.db.execute("SELECT folder FROM training_jobs")]
            others += [path for a in self._adapters.list() for path in (a.peft_path, a.gguf_path)]
            storage.remove(self.folder, job.folder, others)

    def _row_by_adapter(self, adapter: str, missing_ok: bool = False):
        row = self.ws.db.execute(
            "SELECT * FROM training_jobs WHERE adapter = ?", (adapter,)
        ).fetchone()
        if row is None and not missing_ok:
            raise NotFound(f"No training job for an adapter named '{adapter}'.")
        return row

    def _info(self, row) -> JobInfo:
        folder = Path(row["folder"])
        state = read_json(folder / "state.json")
        status = state.get("status", "interrupted")
        if status in ("running", "preparing") and not pid_alive(state.get("pid")):
            # Give a process that is just starting a moment to write its pid.
            started = (folder / "state.json").stat().st_mtime if folder.exists() else 0
            if time.time() - started > 20 or state.get("pid"):
                status = "interrupted"
        history = read_progress(folder)
        message = state.get("message", "")
        if status == "interrupted" and not message:
            message = (
                "The training process stopped unexpectedly (closed, killed or the "
                "machine restarted). Resume continues from the last checkpoint."
            )
        job = read_json(folder / "job.json")
        return JobInfo(
            id=row["id"],
            adapter=row["adapter"],
            base_model=row["base_model"],
            dataset=row["dataset"],
            folder=folder,
            status=status,
            step=state.get("step", 0),
            total_steps=state.get("total_steps", 0),
            message=message,
            pid=state.get("pid"),
            created_at=row["created_at"],
            history=history,
            too_long=job.get("too_long", 0),
            resumable=status in ("interrupted", "cancelled", "failed")
            # (an adapter saved, its scoring cut short, is resumed too: only the scoring runs)
            and (latest_checkpoint(folder) is not None or (folder / "result.json").exists()),
            awake=state.get("awake", "") if status in ("preparing", "running") else "",
            score=read_score(folder, job),
        )


def _need_training_component() -> None:
    """Training runs on the training component (torch, Unsloth): the installed app adds it when
    first asked for; a checkout's set-up has it built in."""
    from engine import components

    status = components.status("training")
    if not status.ready:
        raise ComponentMissing(
            "Fine-tuning needs the training component (PyTorch and Unsloth), which is not "
            + ("installed completely yet" if status.state == "partial" else "installed")
            + ". Install it first (Fine-tune page: Install)."
        )
