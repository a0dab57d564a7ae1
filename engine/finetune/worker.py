"""The training process: ``python -m engine.finetune.worker JOB_FOLDER JOB_ID``.

Started detached by :class:`engine.finetune.jobs.Jobs`; reads ``job.json``, writes its state and
progress into the folder (see that module and :mod:`engine.finetune.job_files`), and on success
registers the adapter. Steps:

1. the base GGUF is dequantised once into a local Hugging Face folder (cached per model);
2. Unsloth loads it (its CPU backend without a GPU, its kernels and 4-bit loading with one) and
   adds LoRA to the attention and MLP projections;
3. TRL's SFTTrainer trains, checkpointing every N steps; a resumed job continues from the newest
   complete checkpoint with the same schedule; SIGTERM or a ``cancel`` file stops it cleanly after
   a checkpoint;
4. the PEFT adapter is saved and written as a GGUF LoRA that llama.cpp applies to the original
   quantised model;
5. with an evaluation set attached, the set is answered by the base model and by the new
   adapter (:mod:`engine.finetune.scoring`); the job is done after that, whatever its outcome.

The computer is kept awake throughout, and a desktop notification tells how the job ended, with
its final loss and the before/after score.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

from engine import power, storage
from engine.finetune.job_files import (
    latest_checkpoint,
    read_json,
    read_progress,
    repair_progress,
    write_json,
)
from engine.finetune.options import TrainOptions
from engine.finetune.scoring import AdapterScore, read_score, system_prompt_of, write_score
from engine.models.runtime import CancelToken


class State:
    def __init__(self, folder: Path):
        self.path = folder / "state.json"
        self.data = read_json(self.path)

    def update(self, **changes) -> None:
        self.data.update(changes)
        write_json(self.path, self.data)


def conversations(path: Path) -> list[list[dict]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["messages"] for line in f if line.strip()]


def to_rows(convs: list[list[dict]], responses_only: bool) -> list[dict]:
    """TRL's formats: prompt/completion (loss on the final assistant turn only) or messages."""
    rows = []
    for turns in convs:
        if responses_only:
            last = max(i for i, t in enumerate(turns) if t["role"] == "assistant")
            rows.append({"prompt": turns[:last], "completion": [turns[last]]})
        else:
            rows.append({"messages": turns})
    return rows


def remove_incomplete_checkpoints(folder: Path) -> None:
    for d in (folder / "checkpoints").glob("checkpoint-*"):
        if not (d / "trainer_state.json").exists():
            shutil.rmtree(d, ignore_errors=True)


def main(folder: Path, job_id: int) -> int:
    job = read_json(folder / "job.json")
    options = TrainOptions(**job["options"])
    state = State(folder)
    state.update(status="preparing", pid=os.getpid(), message="Preparing the base model…")
    stop = {"requested": False}

    def on_term(_signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_term)
    repair_progress(folder)  # a line the last run left half-written (disk full, killed)
    # Overnight on a workstation: no sleep until the job ends (the lock ends with this process).
    awake = power.keep_awake(f"Training the adapter “{job['adapter']}”")
    state.update(awake=awake.how)
    if not awake.how:
        print(f"Could not keep the computer awake ({awake.why_not}).", flush=True)
    progress_file = (folder / "progress.jsonl").open("a", encoding="utf-8")
    try:
        if adapter_saved(folder, job):  # stopped while scoring it: only the scoring is left
            result = 0
        else:
            result = train(folder, job, options, state, stop, progress_file)
        if result == 0 and state.data.get("status") != "cancelled":
            score(folder, job, state, stop)
            state.update(
                status="done", message=f"Trained {state.data.get('step', 0)} steps; adapter saved."
            )
    except OSError as exc:
        remove_incomplete_checkpoints(folder)
        traceback.print_exc()
        if exc.errno == errno.ENOSPC:
            last = latest_checkpoint(folder)
            kept = f" The last good checkpoint ({last.name}) is kept." if last else ""
            state.update(
                status="failed", message=f"The disk is full. Free some space, then Resume.{kept}"
            )
        else:
            state.update(status="failed", message=f"Could not read or write a file: {exc}")
        return 1
    except MemoryError:
        traceback.print_exc()
        state.update(status="failed", message=_oom_advice())
        return 1
    except Exception as exc:  # shown to the user; the log has the traceback
        traceback.print_exc()
        if type(exc).__name__ == "OutOfMemoryError":
            state.update(status="failed", message=_oom_advice())
        else:
            state.update(status="failed", message=f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        progress_file.close()
        awake.release()
        state.update(awake="")
        tell_the_desktop(folder, job)
    return result


def adapter_saved(folder: Path, job: dict) -> bool:
    """Whether this job's adapter is saved and registered already."""
    if not (folder / "result.json").exists():
        return False
    from engine.finetune.adapters import Adapters
    from engine.workspace import Workspace

    ws = Workspace(Path(job["home"]))
    try:
        return job["adapter"] in Adapters(ws).names()
    finally:
        ws.close()


class StopToken(CancelToken):
    """Set by the job's stop (SIGTERM, or the ``cancel`` file the window and the command line
    write)."""

    def __init__(self, folder: Path, stop: dict):
        super().__init__()
        self._folder, self._stop = folder, stop

    @property
    def cancelled(self) -> bool:
        if not self._stop["requested"] and (self._folder / "cancel").exists():
            self._stop["requested"] = True
        return self._stop["requested"] or super().cancelled


def score(folder: Path, job: dict, state: State, stop: dict) -> None:
    """Score the saved adapter, and its base model, on the job's evaluation set if it has one.
    Whatever happens is recorded in the job's score; it never fails the job."""
    if not job.get("eval_set"):
        return
    name = job["eval_set"]
    write_score(folder, AdapterScore(name, "scoring"))
    state.update(status="running", message=f"Scoring the adapter on “{name}”…")
    _free_training_memory()

    def shown(event) -> None:
        if getattr(event, "total", None):
            state.update(
                message=f"Scoring the adapter on “{name}”: {event.done}/{event.total} answers"
            )

    try:
        from engine.operations.training import score_trained_adapter

        result = score_trained_adapter(
            Path(job["home"]),
            job,
            system_prompt_of(folder / "train.jsonl"),
            StopToken(folder, stop),
            shown,
        )
    except Exception as exc:  # the workspace could not be opened, …: the adapter is kept
        traceback.print_exc()
        result = AdapterScore(name, "failed", message=str(exc) or type(exc).__name__)
    write_score(folder, result)
    print(f"Evaluation: {result.summary()}", flush=True)


def _free_training_memory() -> None:
    """The trained model is gone with :func:`train`'s frame: give its GPU memory back before
    llama.cpp loads the model to answer."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def tell_the_desktop(folder: Path, job: dict) -> None:
    """A desktop notification of how the job ended, with its final loss and, if a set is
    attached, the score before and after training (or why there is none)."""
    state = read_json(folder / "state.json")
    status = state.get("status", "")
    title = {
        "done": "Training finished",
        "failed": "Training failed",
        "cancelled": "Training stopped",
    }.get(status, "Training ended")
    losses = [h["loss"] for h in read_progress(folder) if "loss" in h]
    body = f"{job['adapter']}: step {state.get('step', 0)}/{state.get('total_steps', 0)}"
    if losses:
        body += f", final loss {losses[-1]:.3f}"
    scored = read_score(folder, job)
    if status == "done" and scored is not None:
        body += f" · {scored.summary()}"
    if status != "done" and state.get("message"):
        body += f". {state['message']}"
    power.notify(title, body)


def _oom_advice() -> str:
    return (
        "Out of memory. Lower the maximum sequence length or the batch size (raise gradient "
        "accumulation to keep the same effective batch), or use a smaller rank. Resume "
        "continues from the last checkpoint."
    )


def train(folder: Path, job: dict, options: TrainOptions, state: State, stop, progress) -> int:
    from unsloth import FastLanguageModel  # before transformers/trl/peft: it patches them

    # isort: split
    from engine.errors import TailorError
    from engine.finetune.convert import dequantise, peft_to_gguf

    # The conversion replaces a folder there: only ever one inside the workspace's cache
    # (a job.json from an older version could name "cache/hf/..").
    hf_cache = storage.inside(Path(job["home"]) / "cache" / "hf", Path(job["hf_cache"]))
    hf_dir = dequantise(Path(job["base_path"]), hf_cache, job.get("base_sha256"))
    state.update(message="Loading the model for training…")

    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    gpu = torch.cuda.is_available()
    model, tokenizer = FastLanguageModel.from_pretrained(
        str(hf_dir),
        max_seq_length=options.max_seq_length,
        load_in_4bit=options.load_in_4bit and gpu,
        dtype=None,
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=options.target_modules,
        bias="none",
        use_gradient_checkpointing="unsloth" if gpu else False,
        random_state=options.seed,
    )
    train_rows = to_rows(conversations(folder / "train.jsonl"), options.responses_only)
    val_rows = to_rows(conversations(folder / "validation.jsonl"), options.responses_only)
    checkpoints = folder / "checkpoints"
    args = SFTConfig(
        output_dir=str(checkpoints),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps or -1,
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=options.gradient_accumulation,
        learning_rate=options.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=options.warmup_steps,
        logging_steps=1,
        save_strategy="steps",
        save_steps=options.save_every,
        save_total_limit=2,
        eval_strategy="steps" if val_rows else "no",
        eval_steps=options.save_every,
        report_to="none",
        max_length=options.max_seq_length,
        packing=False,
        completion_only_loss=options.responses_only,
        use_cpu=not gpu,
        bf16=gpu and torch.cuda.is_bf16_supported(),
        fp16=gpu and not torch.cuda.is_bf16_supported(),
        seed=options.seed,
        dataloader_num_workers=0,
        include_num_input_tokens_seen=True,
        disable_tqdm=True,
    )

    class Progress(TrainerCallback):
        def __init__(self):
            self.start = time.monotonic()
            self.first_step = None
            self.tokens0 = 0

        def on_train_begin(self, args, s, control, **kwargs):
            self.first_step = s.global_step
            self.tokens0 = s.num_input_tokens_seen
            self.start = time.monotonic()
            state.update(status="running", total_steps=s.max_steps, step=s.global_step, message="")

        def on_log(self, args, s, control, logs=None, **kwargs):
            logs = logs or {}
            elapsed = time.monotonic() - self.start
            done = s.global_step - (self.first_step or 0)
            row = {"step": s.global_step, "time": time.time()}
            if "loss" in logs:
                row["loss"] = float(logs["loss"])
            if "eval_loss" in logs:
                row["eval_loss"] = float(logs["eval_loss"])
            if "learning_rate" in logs:
                row["learning_rate"] = float(logs["learning_rate"])
            if done and elapsed > 0:
                row["tokens_per_s"] = (s.num_input_tokens_seen - self.tokens0) / elapsed
                row["eta_s"] = elapsed / done * (s.max_steps - s.global_step)
            row["tokens_seen"] = s.num_input_tokens_seen
            progress.write(json.dumps(row) + "\n")
            progress.flush()

        def on_step_end(self, args, s, control, **kwargs):
            state.update(step=s.global_step)
            if stop["requested"] or (folder / "cancel").exists():
                stop["requested"] = True
                control.should_save = True  # keep this step's work: Resume starts here
                control.should_training_stop = True

    trainer = SFTTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
        args=args,
        callbacks=[Progress()],
    )
    remove_incomplete_checkpoints(folder)
    resume = latest_checkpoint(folder)
    if resume:
        print(f"Resuming from {resume.name}", flush=True)
        state.update(message=f"Resuming from {resume.name}…")
    output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if stop["requested"]:
        state.update(
            status="cancelled",
            message=f"Cancelled at step {output.global_step}; the "
            "checkpoint is kept, so Resume continues from there.",
        )
        return 0

    state.update(message="Saving the adapter…")
    adapter_dir = folder / "adapter"
    model.save_pretrained(str(adapter_dir))
    tokenizer.save_pretrained(str(adapter_dir))
    peft_to_gguf(adapter_dir, Path(job["base_path"]), folder / "adapter.gguf")
    history = read_progress(folder)
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    results = {
        "steps": output.global_step,
        "final_train_loss": losses[-1] if losses else None,
        "final_validation_loss": evals[-1] if evals else None,
        "train_rows": job["train_rows"],
        "validation_rows": job["validation_rows"],
        "device": torch.cuda.get_device_name(0) if gpu else "cpu",
        "peak_gpu_bytes": torch.cuda.max_memory_allocated() if gpu else None,
        "tokens_per_s": next(
            (h["tokens_per_s"] for h in reversed(history) if "tokens_per_s" in h), None
        ),
    }
    write_json(folder / "result.json", results)

    try:
        register_adapter(folder, job, results, int(sys.argv[2]) if len(sys.argv) > 2 else None)
    except TailorError as exc:
        state.update(status="failed", message=str(exc))
        return 1
    state.update(step=output.global_step, message="Adapter saved.")
    return 0  # done once the adapter is scored (main)


def register_adapter(folder: Path, job: dict, results: dict, job_id: int | None) -> None:
    """Record the finished adapter in ``<folder>`` (``adapter/``, ``adapter.gguf``) with the
    base it belongs to — by name, size and content hash — and how it was trained."""
    from engine.finetune.adapters import Adapter, Adapters
    from engine.workspace import Workspace

    ws = Workspace(Path(job["home"]))
    try:
        Adapters(ws).register(
            Adapter(
                name=job["adapter"],
                base_model=job["base_model"],
                base_size=job["base_size"],
                dataset=job["dataset"],
                peft_path=folder / "adapter",
                gguf_path=folder / "adapter.gguf",
                kind=job.get("kind", "lora"),
                hyperparameters=TrainOptions(**job["options"]).model_dump(),
                results=results,
                created_at="",
                # None for a job started before content hashes: matched by name and size.
                base_sha256=job.get("base_sha256"),
            ),
            job_id=job_id,
        )
    finally:
        ws.close()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2])))
