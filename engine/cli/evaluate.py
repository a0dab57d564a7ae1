"""``tailor eval``: evaluation sets, runs against assistants, the scoreboard and the advisor."""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.api import Progress
from engine.cli.common import advice, engine_of
from engine.cli.progress import Printer, follow
from engine.errors import NotFound
from engine.types import (
    METRIC,
    METRICS,
    Answers,
    Case,
    Target,
    format_cell,
    format_change,
    format_value,
    from_answers,
    validate_run_options,
    write_cases_file,
)


@click.group("eval")
def evaluate() -> None:
    """Evaluation sets, runs against assistants, and the scoreboard."""


@evaluate.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def eval_import(ctx, name, file) -> None:
    """Import FILE (.jsonl, .csv, or SQuAD .json) as set NAME (a new version if it exists)."""
    v = engine_of(ctx).import_eval_set(file, name)
    click.echo(f"{v.label}: {len(v.cases)} cases.")


@evaluate.command("from-examples")
@click.argument("name")
@click.argument("example_set")
@click.pass_context
def eval_from_examples(ctx, name, example_set) -> None:
    """Make set NAME from an example set (each example's output is the reference)."""
    v = engine_of(ctx).eval_set_from_examples(name, example_set)
    click.echo(f"{v.label}: {len(v.cases)} cases.")


@evaluate.command("from-dataset")
@click.argument("name")
@click.argument("dataset")
@click.option("--fraction", default=0.1, show_default=True, help="Held-out fraction.")
@click.pass_context
def eval_from_dataset(ctx, name, dataset, fraction) -> None:
    """Make set NAME from the held-out split of a fine-tuning dataset (the rows training with
    the same --validation fraction does not see)."""
    v = engine_of(ctx).eval_set_from_dataset(name, dataset, fraction)
    click.echo(f"{v.label}: {len(v.cases)} cases.")


@evaluate.command("generate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--kb", required=True, help="Knowledge base whose passages to ask about.")
@click.option("--count", "-n", default=20, show_default=True, help="Passages to sample.")
@click.option("--model", "-m", help="Model that writes the questions (default: bundled).")
@click.option("--seed", default=0, show_default=True)
@click.pass_context
def eval_generate(ctx, file, kb, count, model, seed) -> None:
    """Write draft cases about sampled passages of a knowledge base to FILE (.jsonl) for you to
    review and edit; then `tailor eval import NAME FILE`."""
    made = follow(
        engine_of(ctx).write_questions(kb, count, model=model, seed=seed),
        lambda printer, p: printer.update(p.label, p.phase, p.done, p.total, p.eta_s),
    )
    write_cases_file(
        [
            Case(f"g{i + 1}", d.question, (d.answer,), (d.source,))
            for i, d in enumerate(made.drafts)
        ],
        file,
    )
    click.echo(
        f"Wrote {len(made.drafts)} draft cases to {file} ({made.rejected} passages gave "
        "no usable question). Review them, then: tailor eval import NAME " + str(file)
    )


def _print_scoreboard(rows) -> None:
    shown = [x for x in METRICS if any(x.key in r["metrics"] for r in rows)]
    width = max([len(r["label"]) for r in rows] + [13])
    click.echo(
        f"{'configuration':{width}}  {'n':>4}  " + "  ".join(f"{x.label:>14}" for x in shown)
    )
    for r in rows:
        cells = "  ".join(f"{format_cell(x.key, r['metrics'].get(x.key)):>14}" for x in shown)
        click.echo(f"{r['label']:{width}}  {r['n']:>4}  {cells}")


def _check_run(engine, run_id: int) -> None:
    """Refuse an unknown run number, saying where the numbers are listed."""
    with advice(NotFound, "`tailor eval list` shows the runs."):
        engine.get_eval_run(run_id)


def follow_run(engine, run_id: int, as_json: bool) -> None:
    """Run (or finish) evaluation run ``run_id`` with its progress on stderr, then print its
    scoreboard and the advisor's reading, or one JSON line per result."""

    def show(printer: Printer, p: Progress) -> None:
        printer.update(
            f"{p.phase} {p.done}/{p.total} · {p.label}", p.phase, p.done, p.total, p.eta_s
        )

    for host in engine.eval_run_hosts(run_id):
        click.echo(f"Asking {host} …", err=True)  # prompts leave this machine
    follow(engine.evaluate(run_id), show)
    if as_json:
        for r in engine.eval_results(run_id):
            click.echo(
                json.dumps(
                    {
                        "run": run_id,
                        "case": r["case"],
                        "assistant": r["assistant"],
                        "version": r["version"],
                        "level": r["level"],
                        "input": r["input"],
                        "response": r["response"],
                        "sources": [s["source"] for s in r["sources"]],
                        "retrieved": r["retrieved"],
                        "scores": r["scores"],
                        "latency_s": r["stats"]["latency_s"],
                        "ttft_s": r["stats"]["ttft_s"],
                        "tokens_in": r["stats"]["tokens_in"],
                        "tokens_out": r["stats"]["tokens_out"],
                    },
                    ensure_ascii=False,
                )
            )
        return
    click.echo(f"Run {run_id}:")
    _print_scoreboard_and_advice(engine, run_id)


def _print_scoreboard_and_advice(engine, run_id: int) -> None:
    board = engine.scoreboard(run_id)
    _print_scoreboard(board)
    advice = engine.eval_advice(board)
    if advice:
        click.echo("\n" + advice.text())


@evaluate.command("run")
@click.argument("name")
@click.option(
    "--assistant",
    "-a",
    "assistants",
    multiple=True,
    required=True,
    help="An assistant to evaluate, NAME or NAME@VERSION; repeat for several.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per case and assistant.")
@click.option("--judge", help="Also score with this local judge model (rubric 1–5).")
@click.option("--max-tokens", type=int, help="Cap each answer (default: the assistant's).")
@click.option("--temperature", type=float, help="Override every assistant's temperature.")
@click.option("--price", type=float, help="A paid API's price per 1K tokens, for comparison.")
@click.option("--set-version", type=int, help="A past version of the set (default: current).")
@click.pass_context
def eval_run(
    ctx, name, assistants, as_json, judge, max_tokens, temperature, price, set_version
) -> None:
    """Run set NAME against one or more assistants; print the scoreboard (or --json)."""
    engine = engine_of(ctx)
    options = validate_run_options(
        {
            k: v
            for k, v in {
                "judge_model": judge,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "price_per_1k_tokens": price,
            }.items()
            if v is not None
        }
    )
    targets = [Target.parse(a) for a in assistants]
    run_id = engine.create_eval_run(name, targets, options, set_version)
    click.echo(f"Run {run_id} started (resume with: tailor eval resume {run_id}).", err=True)
    follow_run(engine, run_id, as_json)


@evaluate.command("resume")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def eval_resume(ctx, run_id, as_json) -> None:
    """Finish an interrupted run: only the cases it had not done are run."""
    engine = engine_of(ctx)
    _check_run(engine, run_id)
    follow_run(engine, run_id, as_json)


@evaluate.command("list")
@click.pass_context
def eval_list(ctx) -> None:
    """List evaluation sets and runs."""
    engine = engine_of(ctx)
    click.echo("Sets:")
    for s in engine.eval_set_summary():
        click.echo(f"  {s['name']:30} v{s['version']:<3} {s['cases']} cases")
    click.echo("Runs:")
    for r in engine.list_eval_runs():
        click.echo(
            f"  {r['id']:>4}  {r['created_at']}  {r['set_name']} v{r['set_version']}  "
            f"{r['status']:8} {r['results']}/{r['cases'] * r['configs']}  "
            + ", ".join(r["assistants"])
        )


@evaluate.command("show")
@click.argument("run_id", type=int)
@click.pass_context
def eval_show(ctx, run_id) -> None:
    """Print a run's scoreboard and the advisor's reading of it."""
    engine = engine_of(ctx)
    _check_run(engine, run_id)
    _print_scoreboard_and_advice(engine, run_id)


@evaluate.command("compare")
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@click.pass_context
def eval_compare(ctx, run_a, run_b) -> None:
    """Compare two runs: B's scoreboard with the change from A in every metric."""
    engine = engine_of(ctx)
    _check_run(engine, run_a)
    _check_run(engine, run_b)
    for row in engine.compare_runs(run_a, run_b):
        a = row["a"]["label"] if row["a"] else "(no match)"
        click.echo(f"{row['b']['label']}  vs  {a}")
        for key, delta in row["delta"].items():
            old = row["a"]["metrics"][key]["value"]
            new = row["b"]["metrics"][key]["value"]
            click.echo(
                f"  {METRIC[key].label:16} {format_value(key, old):>9} → "
                f"{format_value(key, new):>9}  ({format_change(key, delta)})"
            )


@evaluate.command("advise")
@click.option("--no-general-knowledge", is_flag=True, help="The model lacks the domain.")
@click.option("--specific-format", is_flag=True, help="Answers need a set format or style.")
@click.option("--private-documents", is_flag=True, help="Answers come from your documents.")
@click.option("--examples", "labelled", type=int, default=0, help="Labelled examples you have.")
@click.option("--changing-domain", is_flag=True, help="The domain changes often.")
@click.option("--high-stakes", is_flag=True, help="Wrong answers are costly.")
def eval_advise(
    no_general_knowledge, specific_format, private_documents, labelled, changing_domain, high_stakes
) -> None:
    """Which rung to start from, from your answers to the advisor's questions."""
    advice = from_answers(
        Answers(
            general_knowledge=not no_general_knowledge,
            specific_format=specific_format,
            private_documents=private_documents,
            labelled_examples=labelled,
            stable_domain=not changing_domain,
            high_stakes=high_stakes,
        )
    )
    click.echo(advice.text())
