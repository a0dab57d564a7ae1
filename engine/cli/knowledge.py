"""``tailor kb``: knowledge bases, for answers from your documents (Level 3)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.api import Progress
from engine.cli.common import engine_of
from engine.cli.progress import Printer, follow


@click.group()
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
            click.option("--ocr-max-pages", type=int, help="Pages OCR'd per file (0: no OCR)."),
            # Level 3's answer context (applies at once, no re-index).
            click.option(
                "--context",
                type=click.Choice(["sentences", "chunks"]),
                help="Put the best sentences of the passages in the prompt, or whole chunks.",
            ),
            click.option("--context-tokens", type=int, help="Tokens of best sentences."),
            click.option("--context-neighbours", type=int, help="Sentences kept either side."),
            click.option(
                "--context-paragraph/--no-context-paragraph",
                default=None,
                help="Grow each sentence within its paragraph up to --context-tokens.",
            ),
            click.option("--lexical-weight", type=float, help="BM25 weight beside meaning."),
            click.option(
                "--prompt-style",
                type=click.Choice(["plain", "compact", "sources"]),
                help="The question around plain passages, numbered passages then the question, "
                "or cite-your-sources instructions.",
            ),
            click.option(
                "--reply-start",
                help="Level 3 replies begin with this text and the model continues it "
                "('' to let the model start).",
            ),
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
    engine_of(ctx).create_knowledge_base(
        name, **{k: v for k, v in options.items() if v is not None}
    )
    click.echo(f"Created knowledge base {name}. Add folders with: tailor kb add {name} PATH")


@kb.command("configure")
@click.argument("name")
@_kb_options
@click.pass_context
def kb_configure(ctx, name, **options) -> None:
    """Change settings; a chunking or embedder change builds a new index on the next add."""
    config = engine_of(ctx).configure_knowledge_base(name, **options)
    click.echo(config.model_dump_json(indent=2))


@kb.command("add")
@click.argument("name")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def kb_add(ctx, name, paths) -> None:
    """Add folders or files to NAME and index them (again: only what changed)."""
    engine = engine_of(ctx)
    if paths:
        engine.add_folders(name, list(paths))

    def show(printer: Printer, p: Progress) -> None:
        if p.phase == "waiting":
            printer.note(
                f"{name} is being indexed by another Tailor process (the window?); "
                "waiting for it to finish…"
            )
            return
        now = f" · {p.label}" if p.phase == "indexing" and p.label else ""  # a file, an OCR page
        printer.update(
            f"{p.phase}: {p.done}/{p.total} files · {p.detail.chunks} chunks · "
            f"{p.detail.chunks_per_s:.0f} chunks/s{now}",
            p.phase,
            p.done,
            p.total,
            p.eta_s,
        )

    stats = follow(engine.index(name), show)
    click.echo(
        f"Indexed {stats.files_done} changed file(s), {stats.chunks} chunks; "
        f"{stats.unchanged} unchanged, {stats.removed} removed, {len(stats.failed)} not indexed."
    )
    for path, reason in stats.failed:
        click.echo(f"  not indexed: {path}: {reason}")
    for root, reason in stats.unavailable:
        click.echo(f"  unavailable, its files kept as indexed: {root}: {reason}")


@kb.command("status")
@click.argument("name")
@click.pass_context
def kb_status(ctx, name) -> None:
    """Show folders, counts, settings and every file that was not indexed, with its reason."""
    s = engine_of(ctx).knowledge_base_status(name)
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
    engine = engine_of(ctx)
    for name in engine.list_knowledge_bases():
        s = engine.knowledge_base_status(name)
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
    engine = engine_of(ctx)
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
        hits = engine.search(
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
    engine_of(ctx).delete_knowledge_base(name)
    click.echo(f"Deleted knowledge base {name}.")
