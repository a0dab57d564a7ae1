"""Level 3 prompts: retrieved passages as numbered, delimited sources, packed to fit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.knowledge.store import Hit

INSTRUCTIONS = (
    "Answer the question using only the numbered sources below. Cite the sources you use "
    "like [1] or [2]. If the sources do not contain the answer, say that the documents do "
    "not say."
)


def not_found_message(kb: str) -> str:
    return (
        f"I couldn't find anything about that in the knowledge base “{kb}”, so I can't answer "
        "it from your documents."
    )


def source_label(hit: Hit | dict) -> str:
    h = hit if isinstance(hit, dict) else hit.to_dict()
    where = Path(h["source"]).name
    if h.get("page"):
        where += f", page {h['page']}"
    elif h.get("heading"):
        where += f" — {h['heading']}"
    return where


def question_with_sources(question: str, hits: list[Hit]) -> str:
    blocks = [f"[{n}] ({source_label(h)})\n<<<\n{h.text}\n>>>" for n, h in enumerate(hits, 1)]
    return f"{INSTRUCTIONS}\n\nSources:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"


def pack(
    question: str,
    hits: list[Hit],
    count_tokens: Callable[[str], int],
    budget: int,
    render: Callable[[str, list[Hit]], str] = question_with_sources,
) -> list[Hit]:
    """The best-ranked hits that fit in ``budget`` tokens (as ``render`` lays them out), in
    rank order."""
    kept: list[Hit] = []
    for hit in hits:
        if count_tokens(render(question, [*kept, hit])) > budget:
            break
        kept.append(hit)
    return kept
