"""``tailor raft``: Level 5, RAFT training data from a knowledge base, and the Level 3/4/5
comparison."""

from __future__ import annotations

import shlex
from collections import Counter

import click

from engine.cli.common import engine_of
from engine.cli.evaluate import follow_run
from engine.cli.progress import follow
from engine.types import DEFAULT_MODEL_NAME, validate_raft_options


@click.group()
def raft() -> None:
    """Level 5: build RAFT training data from a knowledge base, compare Levels 3, 4 and 5."""


def _print_draft(d) -> None:
    click.echo(f"  Q: {d.question}\n  A: {d.answer}  ({d.origin})")
    click.echo("     " + d.reasoning.replace("\n", "\n     "))


@raft.command("build")
@click.option("--kb", required=True, help="The knowledge base to build from.")
@click.option("--name", required=True, help="Name of the dataset to save.")
@click.option("--questions-per-chunk", "-n", default=1, show_default=True)
@click.option("--distractors", "-k", default=4, show_default=True, help="Distractor passages.")
@click.option("--p", "p_oracle", default=0.8, show_default=True, help="Share with the oracle.")
@click.option("--writer", help="Model that writes questions and answers (default: bundled).")
@click.option(
    "--negatives",
    type=click.Choice(["hard", "random"]),
    default="random",
    show_default=True,
    help="hard: the retriever's best passages that are not the oracle.",
)
@click.option(
    "--reasoning",
    type=click.Choice(["writer", "extract", "writer-or-extract"]),
    default="writer-or-extract",
    show_default=True,
    help="Who writes the quoted reasoning: the writer model (drafts whose quotes are not in "
    "the passage are dropped), or assembled from the passage's sentence holding the answer.",
)
@click.option("--chunks", type=int, help="Use this many passages, drawn at random (default all).")
@click.option("--folder", help="Only passages from files under this folder.")
@click.option("--holdout", default=0.1, show_default=True, help="Questions kept for evaluation.")
@click.option("--seed", default=3407, show_default=True)
@click.option("--review", is_flag=True, help="Stop after drafting, for you to review.")
@click.pass_context
def raft_build(ctx, kb, name, questions_per_chunk, distractors, p_oracle, writer, review, **rest):
    """Draft questions and quoted answers for the passages of a knowledge base, then save the
    RAFT dataset NAME, NAME (no documents) and the evaluation set NAME (held out). Stopped or
    killed, the same command continues where it stopped."""
    engine = engine_of(ctx)
    options = validate_raft_options(
        {
            "knowledge_base": kb,
            "writer": writer or DEFAULT_MODEL_NAME,
            "questions_per_chunk": questions_per_chunk,
            "distractors": distractors,
            "p_oracle": p_oracle,
            **rest,
        }
    )
    info = engine.create_raft_build(name, options)
    if info.done:
        click.echo(f"Continuing: {info.done}/{info.total} passages already drafted.", err=True)
    follow(
        engine.draft_raft(name),
        lambda printer, p: printer.update(p.label, p.phase, p.done, p.total, p.eta_s),
    )
    drafts = engine.raft_drafts(name)
    kept = [d for d in drafts if not d.problem]
    click.echo(f"{len(kept)} usable drafts, {len(drafts) - len(kept)} dropped:")
    for reason, n in Counter(d.problem for d in drafts if d.problem).items():
        click.echo(f"  {n} × {reason}")
    for d in kept[:3]:
        _print_draft(d)
    if review:
        click.echo(
            f"Review the drafts in {info.folder / 'drafts.jsonl'} (edit or delete them), then: "
            f"tailor raft save {shlex.quote(name)}"
        )
        return
    _raft_saved(engine.save_raft_build(name))


def _raft_saved(info) -> None:
    r = info.result
    click.echo(
        f"Saved dataset '{info.name}': {r['train']} examples, {r['with_oracle']} with the oracle "
        f"passage, {info.options.distractors} distractors each "
        f"({r['hard_distractors']} hard negatives in all)."
    )
    click.echo(f"Saved dataset '{r['plain_dataset']}' (the same questions, no documents).")
    if r["eval_set"]:
        click.echo(f"Saved evaluation set '{r['eval_set']}': {r['held_out']} held-out questions.")
    q = shlex.quote
    click.echo(
        "Next: tailor train --base MODEL --data "
        f"{q(info.name)} --name ADAPTER, then tailor raft compare {q(info.name)} --adapter ADAPTER"
    )


@raft.command("save")
@click.argument("name")
@click.pass_context
def raft_save(ctx, name) -> None:
    """Save a drafted (and reviewed) build as datasets and a held-out evaluation set."""
    _raft_saved(engine_of(ctx).save_raft_build(name))


@raft.command("list")
@click.pass_context
def raft_list(ctx) -> None:
    """List RAFT builds."""
    for info in engine_of(ctx).list_raft_builds():
        click.echo(f"{info.name:30} {info.options.knowledge_base:20} {info.summary}")


@raft.command("show")
@click.argument("name")
@click.option("--all", "show_all", is_flag=True, help="Every draft, not just a few.")
@click.pass_context
def raft_show(ctx, name, show_all) -> None:
    """A build's settings, state and drafts."""
    engine = engine_of(ctx)
    info = engine.get_raft_build(name)
    click.echo(f"{info.name}: {info.summary}")
    for key, value in info.options.model_dump().items():
        click.echo(f"  {key:20} {value}")
    drafts = engine.raft_drafts(name)
    for d in drafts if show_all else drafts[:5]:
        click.echo(f"- {d.problem or 'ok'}")
        _print_draft(d)


@raft.command("compare")
@click.argument("name")
@click.option("--adapter", required=True, help="The adapter trained on the RAFT dataset.")
@click.option("--plain-adapter", help="An adapter trained on NAME (no documents): Level 4.")
@click.option("--k", "ks", default="2,5,10", show_default=True, help="Passages retrieved.")
@click.option("--max-tokens", default=256, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def raft_compare(ctx, name, adapter, plain_adapter, ks, max_tokens, as_json) -> None:
    """Run the held-out questions through Level 3 (base + RAG), Level 4 and Level 5 (RAFT +
    RAG) at each number of retrieved passages; print the scoreboard."""
    try:
        retrieval_ks = tuple(int(k) for k in ks.split(","))
    except ValueError:
        raise click.BadParameter(f"'{ks}' is not a comma-separated list of numbers.") from None
    engine = engine_of(ctx)
    run_id = engine.compare_raft_build(name, adapter, plain_adapter, retrieval_ks, max_tokens)
    click.echo(f"Run {run_id} started (resume with: tailor eval resume {run_id}).", err=True)
    follow_run(engine, run_id, as_json)


@raft.command("delete")
@click.argument("name")
@click.pass_context
def raft_delete(ctx, name) -> None:
    """Delete a build's drafts (saved datasets and evaluation sets stay)."""
    engine_of(ctx).delete_raft_build(name)
    click.echo(f"Deleted RAFT build '{name}'.")
