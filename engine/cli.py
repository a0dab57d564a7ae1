"""The ``tailor`` command line: the same engine as the window, headless.

Every command has ``--help``. An error is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from engine.errors import TailorError


def _engine(ctx: click.Context):
    """Open the workspace once per invocation, on first use."""
    if ctx.obj is None:
        from engine.api import Engine

        ctx.obj = Engine()
        ctx.obj.first_run()
        ctx.call_on_close(ctx.obj.close)
    return ctx.obj


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tailor")
def cli() -> None:
    """Tailor: customise an open LLM with your own data, on your own machine.

    Run without arguments to open the app.
    """


# -- models -----------------------------------------------------------------------------------


@cli.group()
def models() -> None:
    """The model library."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model.")
@click.pass_context
def models_list(ctx, as_json: bool) -> None:
    """List the models in the library."""
    for m in _engine(ctx).models.list():
        if as_json:
            click.echo(json.dumps({"name": m.name, "path": str(m.path), **m.info.to_dict()}))
        else:
            i = m.info
            tag = "  (bundled)" if m.bundled else ""
            click.echo(
                f"{m.name:32} {i.architecture:10} {i.parameters_label:>6} {i.quantization:8} "
                f"ctx {i.context_length:<6}{tag}"
            )


@models.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Name in the library (default: from the file name).")
@click.pass_context
def models_import(ctx, path: Path, name: str | None) -> None:
    """Import a GGUF model file into the library."""
    model = _engine(ctx).models.import_file(path, name)
    click.echo(f"Imported {model.name} ({model.info.architecture}, {model.info.parameters_label}).")


@models.command("info")
@click.argument("name")
@click.pass_context
def models_info(ctx, name: str) -> None:
    """Show what a model's GGUF metadata says."""
    m = _engine(ctx).models.get(name)
    i = m.info
    for label, value in [
        ("name", m.name),
        ("file", m.path),
        ("architecture", i.architecture),
        ("parameters", f"{i.parameters_label} ({i.parameters:,})"),
        ("quantisation", i.quantization),
        ("context length", i.context_length),
        ("layers", i.n_layers),
        ("chat template", "yes" if i.has_chat_template else "no (ChatML is used)"),
        ("size", f"{i.file_size / 1e6:.1f} MB"),
    ]:
        click.echo(f"{label:15} {value}")


@models.command("remove")
@click.argument("name")
@click.pass_context
def models_remove(ctx, name: str) -> None:
    """Remove an imported model (and its copy in the workspace)."""
    _engine(ctx).models.remove(name)
    click.echo(f"Removed {name}.")


# -- chat -------------------------------------------------------------------------------------


@cli.command()
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

    for event in _engine(ctx).chat(
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


# -- assistants -------------------------------------------------------------------------------


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


@cli.group()
def assistants() -> None:
    """Assistants and their versions."""


@assistants.command("create")
@click.argument("name")
@_assistant_options
@click.pass_context
def assistants_create(ctx, name, no_examples, no_kb, no_adapter, note, **options) -> None:
    """Create an assistant (version 1)."""
    from engine.assistants import validate_config

    engine = _engine(ctx)
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
    engine = _engine(ctx)
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
    engine = _engine(ctx)
    for name in engine.assistants.names():
        v = engine.assistants.current(name)
        click.echo(f"{name:32} {v.label:20} {v.config.model}")


@assistants.command("show")
@click.argument("name")
@click.option("--version", "-v", type=int, help="A past version (default: current).")
@click.pass_context
def assistants_show(ctx, name, version) -> None:
    """Show an assistant's configuration."""
    v = _engine(ctx).assistants.get(name, version)
    click.echo(f"# {name} {v.label} · {v.created_at} · {v.note}")
    click.echo(v.config.as_yaml(), nl=False)


@assistants.command("history")
@click.argument("name")
@click.pass_context
def assistants_history(ctx, name) -> None:
    """List every version, newest first."""
    for v in _engine(ctx).assistants.history(name):
        click.echo(f"v{v.version:<4} {v.level_label:13}  {v.created_at}  {v.note}")


@assistants.command("diff")
@click.argument("name")
@click.argument("a", type=int)
@click.argument("b", type=int)
@click.pass_context
def assistants_diff(ctx, name, a, b) -> None:
    """Show what changed from version A to version B."""
    lines = _engine(ctx).assistants.diff(name, a, b)
    click.echo("\n".join(lines) if lines else f"v{a} and v{b} are identical.")


@assistants.command("revert")
@click.argument("name")
@click.argument("version", type=int)
@click.pass_context
def assistants_revert(ctx, name, version) -> None:
    """Make an old version current again (saved as a new version)."""
    v = _engine(ctx).assistants.revert(name, version)
    click.echo(f"{name} is now {v.label} (the configuration of v{version}).")


# -- examples ---------------------------------------------------------------------------------


@cli.group()
def examples() -> None:
    """Example sets for few-shot prompting (Level 2)."""


@examples.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def examples_import(ctx, name, file) -> None:
    """Import FILE (.jsonl or .csv with input/output) into set NAME (created or appended)."""
    n = _engine(ctx).examples.import_file(name, file)
    click.echo(f"Imported {n} examples into {name}.")


@examples.command("export")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def examples_export(ctx, name, file) -> None:
    """Write set NAME to FILE (.jsonl or .csv)."""
    n = _engine(ctx).examples.export_file(name, file)
    click.echo(f"Wrote {n} examples to {file}.")


@examples.command("list")
@click.pass_context
def examples_list(ctx) -> None:
    """List example sets."""
    for name, n in _engine(ctx).examples.counts().items():
        click.echo(f"{name:32} {n} examples")


@examples.command("show")
@click.argument("name")
@click.pass_context
def examples_show(ctx, name) -> None:
    """Print a set's examples as JSON lines."""
    for e in _engine(ctx).examples.get(name):
        click.echo(json.dumps({"input": e.input, "output": e.output}, ensure_ascii=False))


# -- knowledge bases --------------------------------------------------------------------------


@cli.group()
def kb() -> None:
    """Knowledge bases for answers from your documents (Level 3)."""


def _kb_options(f):
    for option in reversed(
        [
            click.option("--chunk-tokens", type=int, help="Chunk size in embedder tokens."),
            click.option("--chunk-overlap", type=int, help="Tokens shared by adjacent chunks."),
            click.option("--embedder-path", help="A local sentence-transformers folder."),
            click.option("--max-file-mb", type=float, help="Skip files larger than this."),
            click.option("--min-similarity", type=float, help="Below it: 'not in the documents'."),
            click.option("--embed-batch", type=int, help="Chunks embedded (and saved) at a time."),
        ]
    ):
        f = option(f)
    return f


@kb.command("create")
@click.argument("name")
@_kb_options
@click.pass_context
def kb_create(ctx, name, **options) -> None:
    """Create an empty knowledge base."""
    _engine(ctx).knowledge.create(name, **{k: v for k, v in options.items() if v is not None})
    click.echo(f"Created knowledge base {name}. Add folders with: tailor kb add {name} PATH")


@kb.command("configure")
@click.argument("name")
@_kb_options
@click.pass_context
def kb_configure(ctx, name, **options) -> None:
    """Change settings; a chunking or embedder change builds a new index on the next add."""
    config = _engine(ctx).knowledge.configure(name, **options)
    click.echo(config.model_dump_json(indent=2))


def _print_progress(p) -> None:
    eta = f" · ETA {p.eta_s:.0f} s" if p.eta_s else ""
    click.echo(
        f"\r{p.phase}: {p.files_done}/{p.files_total} files · {p.chunks} chunks · "
        f"{p.chunks_per_s:.0f} chunks/s{eta}   ",
        nl=False,
        err=True,
    )


@kb.command("add")
@click.argument("name")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def kb_add(ctx, name, paths) -> None:
    """Add folders or files to NAME and index them (again: only what changed)."""
    engine = _engine(ctx)
    if paths:
        engine.knowledge.add_roots(name, list(paths))
    last = None
    for last in engine.knowledge.index(name):
        if last.phase == "waiting":
            click.echo(
                f"{name} is being indexed by another Tailor process (the window?); "
                "waiting for it to finish…",
                err=True,
            )
            continue
        _print_progress(last)
    click.echo("", err=True)
    if last is not None:
        click.echo(
            f"Indexed {last.files_done} changed file(s), {last.chunks} chunks; "
            f"{last.unchanged} unchanged, {last.removed} removed, {len(last.failed)} not indexed."
        )
        for path, reason in last.failed:
            click.echo(f"  not indexed: {path}: {reason}")
        for root, reason in last.unavailable:
            click.echo(f"  unavailable, its files kept as indexed: {root}: {reason}")


@kb.command("status")
@click.argument("name")
@click.pass_context
def kb_status(ctx, name) -> None:
    """Show folders, counts, settings and every file that was not indexed, with its reason."""
    s = _engine(ctx).knowledge.status(name)
    click.echo(
        f"{s.name}: {s.files} files, {s.chunks} chunks"
        + (" (rebuilding)" if s.building else "")
        + (" (being indexed by another Tailor process)" if s.indexing else "")
    )
    missing = dict(s.unavailable)
    for root in s.roots:
        click.echo(f"  folder: {root}")
        if root in missing:
            click.echo(f"    unavailable: {missing[root]}; its files stay indexed until it is back")
    c = s.config
    click.echo(
        f"  chunks of {c.chunk_tokens} tokens, {c.chunk_overlap} overlap · embedder {c.embedder}"
    )
    for path, reason in s.skipped + s.failed:
        click.echo(f"  not indexed: {path}: {reason}")


@kb.command("list")
@click.pass_context
def kb_list(ctx) -> None:
    """List knowledge bases."""
    engine = _engine(ctx)
    for name in engine.knowledge.names():
        s = engine.knowledge.status(name)
        click.echo(f"{name:32} {s.files} files  {s.chunks} chunks")


@kb.command("search")
@click.argument("name")
@click.argument("query", required=False)
@click.option("--k", default=10, show_default=True, help="Results per query.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--queries", type=click.Path(path_type=Path), help="JSONL of {_id, text}: batch.")
@click.option("--mode", type=click.Choice(["hybrid", "vector", "fts"]), default="hybrid")
@click.option("--folder", help="Only files under this folder.")
@click.option("--type", "file_types", multiple=True, help="Only these file types (pdf, md…).")
@click.pass_context
def kb_search(ctx, name, query, k, as_json, queries, mode, folder, file_types) -> None:
    """Search NAME for QUERY (or every line of --queries), best first."""
    engine = _engine(ctx)
    if queries:
        items = []
        for number, line in enumerate(queries.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                    items.append((row["_id"], row["text"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise click.ClickException(
                        f'{queries.name} line {number}: expected {{"_id": …, "text": …}}'
                    ) from None
    elif query:
        items = [(None, query)]
    else:
        raise click.UsageError("Give a QUERY or --queries FILE.")
    for qid, text in items:
        hits = engine.knowledge.search(
            name, text, k, folder=folder, file_types=list(file_types) or None, mode=mode
        )
        results = [
            {"source": h.source, "score": h.score, "text": h.text, "page": h.page} for h in hits
        ]
        if as_json or queries:
            click.echo(json.dumps({"query_id": qid, "results": results}, ensure_ascii=False))
        else:
            for n, h in enumerate(hits, 1):
                where = f" p.{h.page}" if h.page else ""
                click.echo(f"[{n}] {h.score:.4f}  {h.source}{where}")
                click.echo(f"    {' '.join(h.text.split())[:160]}")


@kb.command("delete")
@click.argument("name")
@click.pass_context
def kb_delete(ctx, name) -> None:
    """Delete a knowledge base and its index (your files are not touched)."""
    _engine(ctx).knowledge.delete(name)
    click.echo(f"Deleted knowledge base {name}.")


# -- evaluation -------------------------------------------------------------------------------


@cli.group("eval")
def evaluate() -> None:
    """Evaluation sets, runs against assistants, and the scoreboard."""


@evaluate.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def eval_import(ctx, name, file) -> None:
    """Import FILE (.jsonl, .csv, or SQuAD .json) as set NAME (a new version if it exists)."""
    v = _engine(ctx).eval_sets.import_file(name, file)
    click.echo(f"{v.label}: {len(v.cases)} cases.")


@evaluate.command("from-examples")
@click.argument("name")
@click.argument("example_set")
@click.pass_context
def eval_from_examples(ctx, name, example_set) -> None:
    """Make set NAME from an example set (each example's output is the reference)."""
    engine = _engine(ctx)
    v = engine.eval_sets.from_examples(name, engine.examples.get(example_set))
    click.echo(f"{v.label}: {len(v.cases)} cases.")


@evaluate.command("from-dataset")
@click.argument("name")
@click.argument("dataset")
@click.option("--fraction", default=0.1, show_default=True, help="Held-out fraction.")
@click.pass_context
def eval_from_dataset(ctx, name, dataset, fraction) -> None:
    """Make set NAME from the held-out split of a fine-tuning dataset (the rows training with
    the same --validation fraction does not see)."""
    engine = _engine(ctx)
    v = engine.eval_sets.from_dataset(name, engine.datasets.get(dataset), fraction)
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
    from engine import bundled
    from engine.evaluation.sets import Case, write_file
    from engine.synthetic import write_questions

    engine = _engine(ctx)
    passages = engine.knowledge.sample(kb, count, seed)
    last = None
    for last in write_questions(engine, passages, model or bundled.DEFAULT_MODEL_NAME, seed=seed):
        click.echo(
            f"\r{last.done}/{last.total} passages · {len(last.drafts)} questions",
            nl=False,
            err=True,
        )
    click.echo("", err=True)
    drafts = last.drafts if last else []
    write_file(
        [Case(f"g{i + 1}", d.question, (d.answer,), (d.source,)) for i, d in enumerate(drafts)],
        file,
    )
    click.echo(
        f"Wrote {len(drafts)} draft cases to {file} ({last.rejected if last else 0} passages gave "
        "no usable question). Review them, then: tailor eval import NAME " + str(file)
    )


def _print_scoreboard(rows) -> None:
    from engine.evaluation.formatting import format_cell
    from engine.evaluation.runs import METRICS

    shown = [x for x in METRICS if any(x.key in r["metrics"] for r in rows)]
    width = max([len(r["label"]) for r in rows] + [13])
    click.echo(
        f"{'configuration':{width}}  {'n':>4}  " + "  ".join(f"{x.label:>14}" for x in shown)
    )
    for r in rows:
        cells = "  ".join(f"{format_cell(x.key, r['metrics'].get(x.key)):>14}" for x in shown)
        click.echo(f"{r['label']:{width}}  {r['n']:>4}  {cells}")


def _run(engine, run_id: int, as_json: bool) -> None:
    from engine.evaluation.advisor import from_scoreboard

    for p in engine.evals.run(run_id):
        eta = f" · ETA {p.eta_s:.0f} s" if p.eta_s else ""
        click.echo(f"\r{p.phase} {p.done}/{p.total} · {p.label}{eta}\033[K", nl=False, err=True)
    click.echo("", err=True)
    if as_json:
        for r in engine.evals.results(run_id):
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
    board = engine.evals.scoreboard(run_id)
    click.echo(f"Run {run_id}:")
    _print_scoreboard(board)
    advice = from_scoreboard(
        board, examples_available=max(engine.examples.counts().values(), default=0)
    )
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
    from engine.evaluation.runs import Target, validate_options

    engine = _engine(ctx)
    options = validate_options(
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
    run_id = engine.evals.create(name, [Target.parse(a) for a in assistants], options, set_version)
    click.echo(f"Run {run_id} started (resume with: tailor eval resume {run_id}).", err=True)
    _run(engine, run_id, as_json)


@evaluate.command("resume")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def eval_resume(ctx, run_id, as_json) -> None:
    """Finish an interrupted run: only the cases it had not done are run."""
    _run(_engine(ctx), run_id, as_json)


@evaluate.command("list")
@click.pass_context
def eval_list(ctx) -> None:
    """List evaluation sets and runs."""
    engine = _engine(ctx)
    click.echo("Sets:")
    for s in engine.eval_sets.summary():
        click.echo(f"  {s['name']:30} v{s['version']:<3} {s['cases']} cases")
    click.echo("Runs:")
    for r in engine.evals.list():
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
    engine = _engine(ctx)
    from engine.evaluation.advisor import from_scoreboard

    engine.evals.get(run_id)
    board = engine.evals.scoreboard(run_id)
    _print_scoreboard(board)
    advice = from_scoreboard(
        board, examples_available=max(engine.examples.counts().values(), default=0)
    )
    if advice:
        click.echo("\n" + advice.text())


@evaluate.command("compare")
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@click.pass_context
def eval_compare(ctx, run_a, run_b) -> None:
    """Compare two runs: B's scoreboard with the change from A in every metric."""
    from engine.evaluation.formatting import format_change, format_value
    from engine.evaluation.runs import METRIC

    engine = _engine(ctx)
    engine.evals.get(run_a)
    engine.evals.get(run_b)
    for row in engine.evals.compare(run_a, run_b):
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
    from engine.evaluation.advisor import Answers, from_answers

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


# -- fine-tuning ------------------------------------------------------------------------------


@cli.group()
def datasets() -> None:
    """Training datasets for fine-tuning (Level 4)."""


@datasets.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def datasets_import(ctx, name, file) -> None:
    """Import FILE (.jsonl/.json, .csv or .parquet; chat or instruction form) as NAME."""
    n = _engine(ctx).datasets.import_file(name, file)
    click.echo(f"Imported {n} conversations as {name}.")


@datasets.command("from-examples")
@click.argument("name")
@click.argument("example_set")
@click.option("--assistant", "-a", help="Include this assistant's system prompt in every row.")
@click.pass_context
def datasets_from_examples(ctx, name, example_set, assistant) -> None:
    """Make dataset NAME from an example set."""
    engine = _engine(ctx)
    system = engine.assistants.current(assistant).config.system_prompt if assistant else ""
    n = engine.datasets.from_examples(name, engine.examples.get(example_set), system)
    click.echo(f"Made {name} with {n} conversations.")


@datasets.command("list")
@click.pass_context
def datasets_list(ctx) -> None:
    """List datasets."""
    for d in _engine(ctx).datasets.summary():
        click.echo(f"{d['name']:32} {d['kind']:5} {d['rows']:>7} rows  {d['source']}")


@datasets.command("stats")
@click.argument("name")
@click.option("--model", "-m", help="Count tokens with this model (default: bundled).")
@click.option("--max-seq-length", type=int, default=512, show_default=True)
@click.pass_context
def datasets_stats(ctx, name, model, max_seq_length) -> None:
    """Token lengths of NAME's conversations, and whether it is big enough."""
    from engine import bundled
    from engine.finetune.datasets import length_stats

    engine = _engine(ctx)
    counter = engine.token_counter(model or bundled.DEFAULT_MODEL_NAME)
    stats = length_stats([counter(c) for c in engine.datasets.get(name)], max_seq_length)
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


def _follow(engine, job_id: int) -> int:
    """Print a job's progress on stderr until it ends; return the exit status."""
    for job in engine.jobs.follow(job_id):
        click.echo(f"\r{job.summary()}\033[K", nl=False, err=True)
    click.echo("", err=True)
    job = engine.jobs.get(job_id)
    if job.status == "done":
        click.echo(
            f"Adapter {job.adapter} is ready. Chat with it: tailor chat --adapter "
            f'{job.adapter} "…"  or attach it: tailor assistants edit NAME --adapter '
            f"{job.adapter}"
        )
        return 0
    click.echo(f"{job.adapter}: {job.status}. {job.message}", err=True)
    return 1


@cli.command()
@click.option("--base", "base_model", help="Base model (a GGUF in the library).")
@click.option("--data", "dataset", help="Dataset name, or a file to import first.")
@click.option("--name", "adapter", help="Name of the adapter to train.")
@click.option("--resume", "resume", help="Resume the named adapter's interrupted job.")
@click.option("--detach", is_flag=True, help="Start it and return; follow with tailor jobs.")
@click.option("--force", is_flag=True, help="Start even if the memory check says it won't fit.")
@_train_options
@click.pass_context
def train(
    ctx, base_model, dataset, adapter, resume, detach, force, preset, all_turns, **options
) -> None:
    """Train a LoRA adapter on a base model you have as GGUF; progress on stderr.

    The job runs in its own process: Ctrl+C here (or closing the terminal) leaves it running;
    `tailor jobs attach ID` follows it again.
    """
    from engine.finetune.hardware import hardware_check
    from engine.finetune.options import PRESETS, validate_options

    engine = _engine(ctx)
    if resume:
        job = engine.jobs.resume(resume)
        click.echo(f"Resumed job {job.id} ({job.adapter}).", err=True)
    else:
        if not (base_model and dataset and adapter):
            raise click.UsageError("Give --base, --data and --name (or --resume ADAPTER).")
        if Path(dataset).suffix and Path(dataset).exists():
            name = Path(dataset).stem
            if name not in engine.datasets.names():
                n = engine.datasets.import_file(name, Path(dataset))
                click.echo(f"Imported {n} conversations as dataset {name}.", err=True)
            dataset = name
        if preset is None:
            preset = "gpu" if hardware_check(1, 1, PRESETS["cpu"]).gpu else "cpu"
        values = PRESETS[preset].model_dump() | {k: v for k, v in options.items() if v is not None}
        if all_turns:
            values["responses_only"] = False
        opts = validate_options(values)
        check = engine.jobs.check(base_model, opts)
        click.echo(f"{check.summary()}. {check.advice}".strip(), err=True)
        job = engine.jobs.start(adapter, base_model, dataset, opts, force=force)
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


@cli.group()
def jobs() -> None:
    """Training jobs (they run on after the window or terminal closes)."""


@jobs.command("list")
@click.pass_context
def jobs_list(ctx) -> None:
    """List training jobs with their state."""
    for job in _engine(ctx).jobs.list():
        click.echo(f"{job.id:>4}  {job.created_at}  {job.summary()}")


@jobs.command("attach")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_attach(ctx, job_id) -> None:
    """Follow a job's progress until it ends."""
    ctx.exit(_follow(_engine(ctx), job_id))


@jobs.command("cancel")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_cancel(ctx, job_id) -> None:
    """Stop a job after saving a checkpoint (resume later with tailor train --resume)."""
    job = _engine(ctx).jobs.cancel(job_id)
    click.echo(f"Cancelling {job.adapter}: it stops after saving a checkpoint.")


@jobs.command("log")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_log(ctx, job_id) -> None:
    """Print a job's log."""
    job = _engine(ctx).jobs.get(job_id)
    click.echo((job.folder / "train.log").read_text(encoding="utf-8", errors="replace"))


@cli.group()
def adapters() -> None:
    """Trained LoRA adapters."""


@adapters.command("list")
@click.pass_context
def adapters_list(ctx) -> None:
    """List adapters with their base model and final losses."""
    for a in _engine(ctx).adapters.list():
        r = a.results
        val = r.get("final_validation_loss")
        losses = f"loss {r.get('final_train_loss') or 0:.3f}" + (
            f", val {val:.3f}" if val is not None else ""
        )
        click.echo(
            f"{a.name:28} {a.kind:5} base {a.base_model:24} data {a.dataset:20} "
            f"{r.get('steps', 0)} steps, {losses}"
        )


# -- settings ---------------------------------------------------------------------------------


@cli.command()
@click.option("--threads", type=int, help="CPU threads llama.cpp uses.")
@click.option("--gpu-layers", type=int, help="Layers offloaded to the GPU (-1 all, 0 none).")
@click.option("--context-size", type=int, help="Context window in tokens.")
@click.pass_context
def settings(ctx, threads, gpu_layers, context_size) -> None:
    """Show the runtime settings, or change them."""
    engine = _engine(ctx)
    s = engine.save_settings(threads=threads, gpu_layers=gpu_layers, context_size=context_size)
    click.echo(f"workspace     {engine.workspace.home}")
    for key, value in s.model_dump().items():
        click.echo(f"{key:13} {value}")
    click.echo(f"gpu backend   {'yes' if engine.gpu_available() else 'no (CPU only)'}")


@cli.group()
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
    from engine import bundled
    from engine.raft.options import validate_options

    engine = _engine(ctx)
    options = validate_options(
        {
            "knowledge_base": kb,
            "writer": writer or bundled.DEFAULT_MODEL_NAME,
            "questions_per_chunk": questions_per_chunk,
            "distractors": distractors,
            "p_oracle": p_oracle,
            **rest,
        }
    )
    info = engine.raft.create(name, options)
    if info.done:
        click.echo(f"Continuing: {info.done}/{info.total} passages already drafted.", err=True)
    last = None
    for last in engine.raft.draft(name):
        eta = f" · ETA {last.eta:.0f} s" if last.eta else ""
        click.echo(
            f"\r{last.done}/{last.total} passages · {last.kept} drafts kept · {last.dropped} "
            f"dropped{eta}\033[K",
            nl=False,
            err=True,
        )
    click.echo("", err=True)
    drafts = engine.raft.drafts(name)
    kept = [d for d in drafts if not d.problem]
    click.echo(f"{len(kept)} usable drafts, {len(drafts) - len(kept)} dropped:")
    for reason, n in (last.reasons if last else {}).items():
        click.echo(f"  {n} × {reason}")
    for d in kept[:3]:
        _print_draft(d)
    if review:
        click.echo(
            f"Review the drafts in {info.folder / 'drafts.jsonl'} (edit or delete them), then: "
            f"tailor raft save {shlex.quote(name)}"
        )
        return
    _raft_saved(engine.raft.save(name))


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
    _raft_saved(_engine(ctx).raft.save(name))


@raft.command("list")
@click.pass_context
def raft_list(ctx) -> None:
    """List RAFT builds."""
    for info in _engine(ctx).raft.list():
        click.echo(f"{info.name:30} {info.options.knowledge_base:20} {info.summary}")


@raft.command("show")
@click.argument("name")
@click.option("--all", "show_all", is_flag=True, help="Every draft, not just a few.")
@click.pass_context
def raft_show(ctx, name, show_all) -> None:
    """A build's settings, state and drafts."""
    engine = _engine(ctx)
    info = engine.raft.get(name)
    click.echo(f"{info.name}: {info.summary}")
    for key, value in info.options.model_dump().items():
        click.echo(f"  {key:20} {value}")
    drafts = engine.raft.drafts(name)
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
    engine = _engine(ctx)
    run_id = engine.raft.compare(name, adapter, plain_adapter, retrieval_ks, max_tokens)
    click.echo(f"Run {run_id} started (resume with: tailor eval resume {run_id}).", err=True)
    _run(engine, run_id, as_json)


@raft.command("delete")
@click.argument("name")
@click.pass_context
def raft_delete(ctx, name) -> None:
    """Delete a build's drafts (saved datasets and evaluation sets stay)."""
    _engine(ctx).raft.delete(name)
    click.echo(f"Deleted RAFT build '{name}'.")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors become one line on stderr."""
    try:
        cli.main(args=argv, prog_name="tailor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except TailorError as exc:
        click.echo(f"tailor: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
