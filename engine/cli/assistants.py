"""``tailor chat``, ``tailor assistants`` and ``tailor examples``: Levels 1 and 2, and talking
to any level."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.api import Loading, TokenEvent, run
from engine.cli.common import engine_of
from engine.types import DEFAULT_MODEL_NAME, source_label, validate_config


@click.command()
@click.argument("message")
@click.option("--assistant", "-a", help="Answer as this assistant (its current version).")
@click.option("--model", "-m", help="Use this model (default: the bundled one).")
@click.option("--system", "-s", help="System prompt.")
@click.option("--seed", type=int, help="Sampling seed, for repeatable answers.")
@click.option("--adapter", help="Apply this LoRA adapter (trained on the model).")
@click.option("--stats", is_flag=True, help="Print token counts and speed on stderr.")
@click.pass_context
def chat(ctx, message, assistant, model, system, seed, adapter, stats) -> None:
    """Send MESSAGE and stream the reply to stdout."""

    def show(event) -> None:
        if isinstance(event, TokenEvent):
            click.echo(event.text, nl=False)
            sys.stdout.flush()
        elif isinstance(event, Loading):
            click.echo(f"Loading {event.model}…", err=True)

    engine = engine_of(ctx)
    named = model or (engine.get_assistant(assistant).config.model if assistant else None)
    if named and (host := engine.model_host(named)):
        click.echo(f"Asking {host} …", err=True)  # the prompt leaves this machine
    reply = run(
        engine.chat(
            message, assistant=assistant, model=model, system=system, seed=seed, adapter=adapter
        ),
        show,
    )
    click.echo()
    if reply.sources:
        click.echo("\nSources:")
        for s in reply.sources:
            snippet = " ".join(s["text"].split())[:120]
            click.echo(f"  [{s['n']}] {source_label(s)}  ({s['source']})")
            click.echo(f"      {snippet}…")
    if stats:
        click.echo(reply.stats.summary(), err=True)


def _assistant_options(f):
    for option in reversed(
        [
            click.option("--model", "-m", help="Model name from the library."),
            click.option("--system", "-s", help="System prompt."),
            click.option("--temperature", type=float),
            click.option("--top-p", type=float),
            click.option("--max-tokens", type=int),
            click.option("--examples", help="Attach this example set (Level 2)."),
            click.option("--no-examples", is_flag=True, help="Detach the example set."),
            click.option("--k", "few_shot_k", type=int, help="Use the k most similar examples."),
            click.option("--kb", "knowledge_base", help="Attach this knowledge base (Level 3)."),
            click.option("--no-kb", is_flag=True, help="Detach the knowledge base."),
            click.option("--retrieval-k", type=int, help="Passages retrieved per question."),
            click.option("--adapter", help="Apply this LoRA adapter (Level 4)."),
            click.option("--no-adapter", is_flag=True, help="Remove the adapter."),
            click.option("--note", default="", help="What this version changes."),
        ]
    ):
        f = option(f)
    return f


def _changes(
    model,
    system,
    temperature,
    top_p,
    max_tokens,
    examples,
    few_shot_k,
    knowledge_base,
    retrieval_k,
    adapter,
) -> dict:
    return {
        "adapter": adapter,
        "knowledge_base": knowledge_base,
        "retrieval_k": retrieval_k,
        "model": model,
        "system_prompt": system,
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_tokens,
        "example_set": examples,
        "few_shot_k": few_shot_k,
    }


@click.group()
def assistants() -> None:
    """Assistants and their versions."""


@assistants.command("create")
@click.argument("name")
@_assistant_options
@click.pass_context
def assistants_create(ctx, name, no_examples, no_kb, no_adapter, note, **options) -> None:
    """Create an assistant (version 1)."""
    changes = {k: v for k, v in _changes(**options).items() if v is not None}
    changes.setdefault("model", DEFAULT_MODEL_NAME)
    v = engine_of(ctx).create_assistant(name, validate_config(changes), note or "Created")
    click.echo(f"Created {name} {v.label}.")


@assistants.command("edit")
@click.argument("name")
@_assistant_options
@click.pass_context
def assistants_edit(ctx, name, no_examples, no_kb, no_adapter, note, **options) -> None:
    """Change an assistant; each edit is a new version."""
    engine = engine_of(ctx)
    before = engine.get_assistant(name)
    v = engine.edit_assistant(
        name,
        note=note,
        detach_examples=no_examples,
        detach_kb=no_kb,
        detach_adapter=no_adapter,
        **_changes(**options),
    )
    if v.version == before.version:
        click.echo(f"No change: {name} stays at {v.label}.")
    else:
        click.echo(f"Saved {name} {v.label}.")


@assistants.command("list")
@click.pass_context
def assistants_list(ctx) -> None:
    """List assistants with their current version and level."""
    engine = engine_of(ctx)
    for name in engine.list_assistants():
        v = engine.get_assistant(name)
        click.echo(f"{name:32} {v.label:20} {v.config.model}")


@assistants.command("show")
@click.argument("name")
@click.option("--version", "-v", type=int, help="A past version (default: current).")
@click.pass_context
def assistants_show(ctx, name, version) -> None:
    """Show an assistant's configuration."""
    v = engine_of(ctx).get_assistant(name, version)
    click.echo(f"# {name} {v.label} · {v.created_at} · {v.note}")
    click.echo(v.config.as_yaml(), nl=False)


@assistants.command("history")
@click.argument("name")
@click.pass_context
def assistants_history(ctx, name) -> None:
    """List every version, newest first."""
    for v in engine_of(ctx).assistant_history(name):
        click.echo(f"v{v.version:<4} {v.level_label:13}  {v.created_at}  {v.note}")


@assistants.command("diff")
@click.argument("name")
@click.argument("a", type=int)
@click.argument("b", type=int)
@click.pass_context
def assistants_diff(ctx, name, a, b) -> None:
    """Show what changed from version A to version B."""
    lines = engine_of(ctx).assistant_diff(name, a, b)
    click.echo("\n".join(lines) if lines else f"v{a} and v{b} are identical.")


@assistants.command("revert")
@click.argument("name")
@click.argument("version", type=int)
@click.pass_context
def assistants_revert(ctx, name, version) -> None:
    """Make an old version current again (saved as a new version)."""
    v = engine_of(ctx).revert_assistant(name, version)
    click.echo(f"{name} is now {v.label} (the configuration of v{version}).")


@click.group()
def examples() -> None:
    """Example sets for few-shot prompting (Level 2)."""


@examples.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def examples_import(ctx, name, file) -> None:
    """Import FILE (.jsonl or .csv with input/output) into set NAME (created or appended)."""
    n = engine_of(ctx).import_examples(file, name)
    click.echo(f"Imported {n} examples into {name}.")


@examples.command("export")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def examples_export(ctx, name, file) -> None:
    """Write set NAME to FILE (.jsonl or .csv)."""
    n = engine_of(ctx).export_examples(name, file)
    click.echo(f"Wrote {n} examples to {file}.")


@examples.command("list")
@click.pass_context
def examples_list(ctx) -> None:
    """List example sets."""
    for name, n in engine_of(ctx).example_counts().items():
        click.echo(f"{name:32} {n} examples")


@examples.command("show")
@click.argument("name")
@click.pass_context
def examples_show(ctx, name) -> None:
    """Print a set's examples as JSON lines."""
    for e in engine_of(ctx).get_example_set(name):
        click.echo(json.dumps({"input": e.input, "output": e.output}, ensure_ascii=False))
