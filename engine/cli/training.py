"""``tailor datasets``, ``tailor train``, ``tailor jobs`` and ``tailor adapters``: fine-tuning
(Level 4)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from engine.api import Progress
from engine.cli.common import advice, engine_of
from engine.cli.progress import Printer, follow
from engine.errors import AlreadyExists, NotFound
from engine.types import DEFAULT_MODEL_NAME, length_stats


@click.group()
def datasets() -> None:
    """Training datasets for fine-tuning (Level 4)."""


@datasets.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def datasets_import(ctx, name, file) -> None:
    """Import FILE (.jsonl/.json, .csv or .parquet; chat or instruction form) as NAME."""
    n = engine_of(ctx).import_dataset(file, name)
    click.echo(f"Imported {n} conversations as {name}.")


@datasets.command("from-examples")
@click.argument("name")
@click.argument("example_set")
@click.option("--assistant", "-a", help="Include this assistant's system prompt in every row.")
@click.pass_context
def datasets_from_examples(ctx, name, example_set, assistant) -> None:
    """Make dataset NAME from an example set."""
    n = engine_of(ctx).dataset_from_examples(name, example_set, assistant=assistant)
    click.echo(f"Made {name} with {n} conversations.")


@datasets.command("list")
@click.pass_context
def datasets_list(ctx) -> None:
    """List datasets."""
    for d in engine_of(ctx).dataset_summaries():
        click.echo(f"{d['name']:32} {d['kind']:5} {d['rows']:>7} rows  {d['source']}")


@datasets.command("stats")
@click.argument("name")
@click.option("--model", "-m", help="Count tokens with this model (default: bundled).")
@click.option("--max-seq-length", type=int, default=512, show_default=True)
@click.pass_context
def datasets_stats(ctx, name, model, max_seq_length) -> None:
    """Token lengths of NAME's conversations, and whether it is big enough."""
    lengths = engine_of(ctx).dataset_lengths(name, model or DEFAULT_MODEL_NAME)
    stats = length_stats(lengths, max_seq_length)
    click.echo(stats.summary())
    if stats.warning:
        click.echo(f"Warning: {stats.warning}")


def _train_options(f):
    for option in reversed(
        [
            click.option(
                "--preset",
                type=click.Choice(["cpu", "gpu"]),
                help="Defaults to start from (default: gpu if an NVIDIA GPU is found, else cpu).",
            ),
            click.option("--steps", "max_steps", type=int, help="Train this many steps."),
            click.option("--epochs", type=float, help="Passes over the data (without --steps)."),
            click.option("--rank", type=int, help="LoRA rank."),
            click.option("--alpha", type=int, help="LoRA alpha (scale = alpha / rank)."),
            click.option("--learning-rate", "--lr", "learning_rate", type=float),
            click.option("--batch-size", type=int),
            click.option("--gradient-accumulation", type=int),
            click.option("--max-seq-length", type=int, help="Longer rows are truncated."),
            click.option("--save-every", type=int, help="Checkpoint every N steps."),
            click.option(
                "--validation",
                "validation_fraction",
                type=float,
                help="Fraction held out for validation loss.",
            ),
            click.option(
                "--all-turns",
                is_flag=True,
                help="Learn the whole conversation, not only the assistant's reply.",
            ),
        ]
    ):
        f = option(f)
    return f


def _show(printer: Printer, event: Progress) -> None:
    # The label is the job's summary, which already tells the ETA.
    printer.update(event.label, event.phase, event.done, event.total or None)


def _follow(engine, job_id: int) -> int:
    """Print a job's progress on stderr until it ends; return the exit status."""
    job = follow(engine.follow_training(job_id), show=_show)
    if job.score is not None and job.score.status != "waiting":
        click.echo(f"Evaluation: {job.score.summary()}", err=True)
        if job.score.run_id is not None:
            click.echo(f"Every answer: tailor eval show {job.score.run_id}", err=True)
    if job.status == "done":
        click.echo(
            f"Adapter {job.adapter} is ready. Chat with it: tailor chat --adapter "
            f'{job.adapter} "…"  or attach it: tailor assistants edit NAME --adapter '
            f"{job.adapter}"
        )
        return 0
    click.echo(f"{job.adapter}: {job.status}. {job.message}", err=True)
    return 1


@click.command()
@click.option("--base", "base_model", help="Base model (a GGUF in the library).")
@click.option("--data", "dataset", help="Dataset name, or a file to import first.")
@click.option("--name", "adapter", help="Name of the adapter to train.")
@click.option("--resume", "resume", help="Resume the named adapter's interrupted job.")
@click.option("--detach", is_flag=True, help="Start it and return; follow with tailor jobs.")
@click.option("--force", is_flag=True, help="Start even if the memory check says it won't fit.")
@click.option(
    "--eval-set",
    help="Score this evaluation set on the base model and on the adapter when training ends.",
)
@_train_options
@click.pass_context
def train(
    ctx, base_model, dataset, adapter, resume, detach, force, eval_set, preset, all_turns, **options
) -> None:
    """Train a LoRA adapter on a base model you have as GGUF; progress on stderr.

    The job runs in its own process: Ctrl+C here (or closing the terminal) leaves it running;
    `tailor jobs attach ID` follows it again.
    """
    engine = engine_of(ctx)
    if resume:
        job = engine.resume_training(resume)
        click.echo(f"Resumed job {job.id} ({job.adapter}).", err=True)
    else:
        if not (base_model and dataset and adapter):
            raise click.UsageError("Give --base, --data and --name (or --resume ADAPTER).")
        if Path(dataset).suffix and Path(dataset).exists():
            name = Path(dataset).stem
            if name not in engine.list_datasets():
                n = engine.import_dataset(Path(dataset), name)
                click.echo(f"Imported {n} conversations as dataset {name}.", err=True)
            dataset = name
        if all_turns:
            options["responses_only"] = False
        opts = engine.training_options(preset, **options)
        check = engine.check_training(base_model, opts)
        click.echo(f"{check.summary()}. {check.advice}".strip(), err=True)
        with advice(AlreadyExists, f"To resume it: tailor train --resume {shlex.quote(adapter)}"):
            job = engine.start_training(
                adapter, base_model, dataset, opts, force=force, eval_set=eval_set
            )
        click.echo(
            f"Started job {job.id}: {adapter} on {base_model} with {dataset} "
            f"(log: {job.folder / 'train.log'}).",
            err=True,
        )
    if detach:
        click.echo(job.id)
        return
    try:
        ctx.exit(_follow(engine, job.id))
    except KeyboardInterrupt:
        click.echo(f"\nStill training in the background: tailor jobs attach {job.id}", err=True)


JOBS_LISTED = "`tailor jobs list` shows them."


@click.group()
def jobs() -> None:
    """Training jobs (they run on after the window or terminal closes)."""


@jobs.command("list")
@click.pass_context
def jobs_list(ctx) -> None:
    """List training jobs with their state."""
    for job in engine_of(ctx).list_training_jobs():
        click.echo(f"{job.id:>4}  {job.created_at}  {job.summary()}")


@jobs.command("attach")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_attach(ctx, job_id) -> None:
    """Follow a job's progress until it ends."""
    with advice(NotFound, JOBS_LISTED):
        status = _follow(engine_of(ctx), job_id)
    ctx.exit(status)


@jobs.command("cancel")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_cancel(ctx, job_id) -> None:
    """Stop a job after saving a checkpoint (resume later with tailor train --resume)."""
    with advice(NotFound, JOBS_LISTED):
        job = engine_of(ctx).cancel_training(job_id)
    click.echo(f"Cancelling {job.adapter}: it stops after saving a checkpoint.")


@jobs.command("log")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_log(ctx, job_id) -> None:
    """Print a job's log."""
    with advice(NotFound, JOBS_LISTED):
        click.echo(engine_of(ctx).training_log(job_id))


@jobs.command("delete")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_delete(ctx, job_id) -> None:
    """Delete a job that is not running, with its checkpoints and log (not its adapter)."""
    with advice(NotFound, JOBS_LISTED):
        engine_of(ctx).delete_training_job(job_id)
    click.echo(f"Deleted job {job_id}.")


@click.group()
def adapters() -> None:
    """Trained LoRA adapters."""


@adapters.command("list")
@click.pass_context
def adapters_list(ctx) -> None:
    """List adapters with their base model and final losses."""
    for a in engine_of(ctx).list_adapters():
        r = a.results
        val = r.get("final_validation_loss")
        losses = f"loss {r.get('final_train_loss') or 0:.3f}" + (
            f", val {val:.3f}" if val is not None else ""
        )
        click.echo(
            f"{a.name:28} {a.kind:5} base {a.base_model:24} data {a.dataset:20} "
            f"{r.get('steps', 0)} steps, {losses}"
        )
