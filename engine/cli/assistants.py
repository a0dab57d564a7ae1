"""``tailor chat``, ``tailor assistants`` and ``tailor examples``: Levels 1 and 2, and talking
to any level."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.cli.common import engine_of


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
    from engine.api import Loading, Reply, TokenEvent

    for event in engine_of(ctx).chat(
        message, assistant=assistant, model=model, system=system, seed=seed, adapter=adapter
    ):
        if isinstance(event, TokenEvent):
            click.echo(event.text, nl=False)
            sys.stdout.flush()
        elif isinstance(event, Loading):
            click.echo(f"Loading {event.model}…", err=True)
        elif isinstance(event, Reply):
            click.echo()
            if event.sources:
                from engine.knowledge.answering import source_label

                click.echo("\nSources:")
                for s in event.sources:
                    snippet = " ".join(s["text"].split())[:120]
                    click.echo(f"  [{s['n']}] {source_label(s)}  ({s['source']})")
                    click.echo(f"      {snippet}…")
            if stats:
                click.echo(event.stats.summary(), err=True)


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
    from engine.assistants import validate_config

    engine = engine_of(ctx)
    changes = {k: v for k, v in _changes(**options).items() if v is not None}
    changes.setdefault("model", engine.models.ensure_bundled().name)
    _check_references(engine, changes, changes["model"])
    v = engine.assistants.create(name, validate_config(changes), note or "Created")
    click.echo(f"Created {name} {v.label}.")


@assistants.command("edit")
@click.argument("name")
@_assistant_options
@click.pass_context
def assistants_edit(ctx, name, no_examples, no_kb, no_adapter, note, **options) -> None:
    """Change an assistant; each edit is a new version."""
    engine = engine_of(ctx)
    changes = _changes(**options)
    before = engine.assistants.current(name)
    _check_references(engine, changes, changes["model"] or before.config.model)
    if not changes["adapter"] and not no_adapter and changes["model"] and before.config.adapter:
        _check_references(engine, {"adapter": before.config.adapter}, changes["model"])
    v = engine.assistants.edit(
        name,
        note=note,
        detach_examples=no_examples,
        detach_kb=no_kb,
        detach_adapter=no_adapter,
        **changes,
    )
    if v.version == before.version:
        click.echo(f"No change: {name} stays at {v.label}.")
    else:
        click.echo(f"Saved {name} {v.label}.")


def _check_references(engine, changes: dict, model: str) -> None:
    if changes.get("model"):
        engine.models.get(changes["model"])
    if changes.get("adapter"):
        engine.load_options(model, changes["adapter"])  # refuses an adapter of another base
    if changes.get("example_set"):
        engine.examples.get(changes["example_set"])
    if changes.get("knowledge_base"):
        engine.knowledge.config(changes["knowledge_base"])


@assistants.command("list")
@click.pass_context
def assistants_list(ctx) -> None:
    """List assistants with their current version and level."""
    engine = engine_of(ctx)
    for name in engine.assistants.names():
        v = engine.assistants.current(name)
        click.echo(f"{name:32} {v.label:20} {v.config.model}")


@assistants.command("show")
@click.argument("name")
@click.option("--version", "-v", type=int, help="A past version (default: current).")
@click.pass_context
def assistants_show(ctx, name, version) -> None:
    """Show an assistant's configuration."""
    v = engine_of(ctx).assistants.get(name, version)
    click.echo(f"# {name} {v.label} · {v.created_at} · {v.note}")
    click.echo(v.config.as_yaml(), nl=False)


@assistants.command("history")
@click.argument("name")
@click.pass_context
def assistants_history(ctx, name) -> None:
    """List every version, newest first."""
    for v in engine_of(ctx).assistants.history(name):
        click.echo(f"v{v.version:<4} {v.level_label:13}  {v.created_at}  {v.note}")


@assistants.command("diff")
@click.argument("name")
@click.argument("a", type=int)
@click.argument("b", type=int)
@click.pass_context
def assistants_diff(ctx, name, a, b) -> None:
    """Show what changed from version A to version B."""
    lines = engine_of(ctx).assistants.diff(name, a, b)
    click.echo("\n".join(lines) if lines else f"v{a} and v{b} are identical.")


@assistants.command("revert")
@click.argument("name")
@click.argument("version", type=int)
@click.pass_context
def assistants_revert(ctx, name, version) -> None:
    """Make an old version current again (saved as a new version)."""
    v = engine_of(ctx).assistants.revert(name, version)
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
    n = engine_of(ctx).examples.import_file(name, file)
    click.echo(f"Imported {n} examples into {name}.")


@examples.command("export")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def examples_export(ctx, name, file) -> None:
    """Write set NAME to FILE (.jsonl or .csv)."""
    n = engine_of(ctx).examples.export_file(name, file)
    click.echo(f"Wrote {n} examples to {file}.")


@examples.command("list")
@click.pass_context
def examples_list(ctx) -> None:
    """List example sets."""
    for name, n in engine_of(ctx).examples.counts().items():
        click.echo(f"{name:32} {n} examples")


@examples.command("show")
@click.argument("name")
@click.pass_context
def examples_show(ctx, name) -> None:
    """Print a set's examples as JSON lines."""
    for e in engine_of(ctx).examples.get(name):
        click.echo(json.dumps({"input": e.input, "output": e.output}, ensure_ascii=False))
