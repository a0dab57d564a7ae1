"""The training operations of :class:`engine.api.Engine`: datasets, LoRA training jobs (each
runs as its own process and outlives the window) and the adapters they leave."""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from engine.events import CancelToken, Progress, operation
from engine.finetune.adapters import Adapter
from engine.finetune.hardware import HardwareCheck, nvidia_gpu
from engine.finetune.jobs import JobInfo, progress_of
from engine.finetune.options import PRESETS, TrainOptions, validate_options
from engine.finetune.scoring import AdapterScore, before_after, check_scorable
from engine.services import Services


class TrainingOperations:
    services: Services

    # -- datasets ----------------------------------------------------------------------------

    def list_datasets(self) -> list[str]:
        """The training datasets' names."""
        return self.services.datasets.names()

    def dataset_summaries(self) -> list[dict]:
        """Each dataset's name, rows, source, kind ("chat" or "raft") and creation time."""
        return self.services.datasets.summary()

    def get_dataset(self, name: str) -> list[list[dict]]:
        """A dataset's conversations (each a list of ``{role, content}`` messages)."""
        return self.services.datasets.get(name)

    def dataset_kind(self, name: str) -> str:
        """ "chat", or "raft" for retrieval-style examples (an adapter trained on one is served
        with its documents)."""
        return self.services.datasets.kind(name)

    def save_dataset(
        self, name: str, conversations: list[list[dict]], source: str = "", kind: str = "chat"
    ) -> Path:
        """Save conversations as a new dataset."""
        return self.services.datasets.save(name, conversations, source, kind)

    def dataset_from_examples(
        self,
        name: str,
        example_set: str,
        *,
        system_prompt: str = "",
        assistant: str | None = None,
    ) -> int:
        """Make dataset ``name`` from an example set; every row starts with ``system_prompt``
        (or, given ``assistant``, that assistant's current one). Returns the rows made."""
        if assistant:
            system_prompt = self.services.assistants.current(assistant).config.system_prompt
        examples = self.services.examples.get(example_set)
        return self.services.datasets.from_examples(name, examples, system_prompt)

    def dataset_from_cases(
        self, name: str, cases: list, source: str = "Generated from a knowledge base"
    ) -> int:
        """Make dataset ``name`` of question → reference answer pairs from evaluation cases
        (e.g. pairs a model wrote about a knowledge base). Returns the rows made."""
        return self.services.datasets.from_cases(name, cases, source)

    def import_dataset(self, path: Path, name: str) -> int:
        """Import a .jsonl/.json, .csv or .parquet file (chat or instruction form) as dataset
        ``name``; every bad row is reported and nothing is saved unless all are good. Returns
        the conversations imported."""
        return self.services.datasets.import_file(name, Path(path))

    def dataset_lengths(self, name: str, base_model: str) -> list[int]:
        """Each conversation's length in ``base_model``'s tokens (seconds on a large dataset:
        loads the tokenizer, counts every row)."""
        count = self.services.generation.token_counter(base_model)
        return [count(c) for c in self.services.datasets.get(name)]

    # -- training ----------------------------------------------------------------------------

    def training_preset(self) -> str:
        """The preset that suits this machine: "gpu" with an NVIDIA GPU, else "cpu"."""
        return "gpu" if nvidia_gpu() else "cpu"

    def training_options(self, preset: str | None = None, **changes: Any) -> TrainOptions:
        """A preset's options (by default the one that suits this machine) with ``changes``
        (None leaves a value as the preset has it); every problem reported at once."""
        base = PRESETS[preset or self.training_preset()].model_dump()
        return validate_options(base | {k: v for k, v in changes.items() if v is not None})

    def check_training(self, base_model: str, options: TrainOptions) -> HardwareCheck:
        """Whether training ``base_model`` with ``options`` fits this machine's memory, with
        advice (runs nvidia-smi and reads the model file)."""
        return self.services.jobs.check(base_model, options)

    def start_training(
        self,
        adapter: str,
        base_model: str,
        dataset: str,
        options: TrainOptions | None = None,
        *,
        force: bool = False,
        eval_set: str | None = None,
    ) -> JobInfo:
        """Check all that can be checked (the name, the model's family, each example's length,
        the memory unless ``force``), then start the training process. Counts every example's
        tokens first: seconds on a large dataset. With ``eval_set``, its current version is
        scored on the base model and on the new adapter when training ends (the job's
        ``score``, and its notification)."""
        attached = None
        if eval_set:
            version = self.services.eval_sets.get(eval_set)
            check_scorable(version)
            attached = (version.name, version.version)
        return self.services.jobs.start(
            adapter, base_model, dataset, options, force=force, eval_set=attached
        )

    def resume_training(self, job: int | str) -> JobInfo:
        """Start an interrupted, cancelled or failed job again (``job``: its id, or its
        adapter's name); it continues from its last checkpoint."""
        jobs = self.services.jobs
        return jobs.resume(jobs.find(job).id if isinstance(job, str) else job)

    def cancel_training(self, job_id: int) -> JobInfo:
        """Stop a job at its next step, after saving a checkpoint (resume continues there)."""
        return self.services.jobs.cancel(job_id)

    @operation
    def follow_training(
        self, job_id: int, *, cancel: CancelToken | None = None
    ) -> Generator[Progress, None, JobInfo]:
        """Follow a job until it ends: a :class:`Progress` whenever its state changes (the phase
        is the job's status; ``detail`` a ``TrainingProgress`` with the losses), then the job's
        final state. ``cancel`` stops following, never the job (it runs on)."""
        job = None
        for job in self.services.jobs.follow(job_id, cancel=cancel):
            yield progress_of(job)
        return job

    def list_training_jobs(self) -> list[JobInfo]:
        """Every training job, newest first, as its files say now."""
        return self.services.jobs.list()

    def get_training_job(self, job_id: int) -> JobInfo:
        return self.services.jobs.get(job_id)

    def delete_training_job(self, job_id: int) -> None:
        """Forget a finished, failed or cancelled job and delete its folder — its checkpoints
        and log — unless the adapter it trained is kept (the adapter's files live there)."""
        self.services.jobs.delete(job_id)

    def training_log(self, job_id: int) -> str:
        """A job's training process output so far."""
        return self.services.jobs.log(job_id)

    # -- adapters ----------------------------------------------------------------------------

    def list_adapters(self) -> list[Adapter]:
        """The trained adapters, by name."""
        return self.services.adapters.list()


def score_trained_adapter(
    home: Path,
    job: dict,
    system_prompt: str = "",
    cancel: CancelToken | None = None,
    on_event: Callable[[object], None] | None = None,
) -> AdapterScore:
    """For the training process, which holds no Engine (the window may be closed): the
    workspace's services, to score the adapter it saved on the job's evaluation set
    (:func:`engine.finetune.scoring.before_after`)."""
    services = Services(home)
    try:
        return before_after(services.evals, job, system_prompt, cancel, on_event)
    finally:
        services.close()
