"""Level 3 prompts: retrieved passages as numbered, delimited sources, packed to fit."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from engine.knowledge.context import terms
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


# How the passages are laid out in the user's turn (the knowledge base's ``prompt_style``):
# "plain" — the question, the passages as plain text, the question again (the default: on 300
# held-out SQuAD questions the bundled 135M model answered 0.35 this way against 0.23 with
# "compact", bench/context_ablation.py); "compact" — the passages first, each one a numbered
# line with its file's name, the question last; "sources" — the cite-your-sources instructions,
# then each passage fenced by <<< >>>. The engine attributes citations itself
# (:func:`attribute`), so no style needs the model to write markers.
PROMPT_STYLES = ("plain", "compact", "sources")


def question_with_sources(question: str, hits: list[Hit], style: str = "plain") -> str:
    if style == "sources":
        blocks = [f"[{n}] ({source_label(h)})\n<<<\n{h.text}\n>>>" for n, h in enumerate(hits, 1)]
        return f"{INSTRUCTIONS}\n\nSources:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    if style == "compact":
        blocks = [f"[{n}] ({source_label(h)}) {h.text}" for n, h in enumerate(hits, 1)]
        return "Sources:\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    body = "\n".join(h.text for h in hits)
    return f"Question: {question}\n\nContext:\n{body}\n\nQuestion: {question}"


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


_MARKER = re.compile(r"\[(\d{1,2})\]")


def attribute(answer: str, question: str, passages: list[Hit]) -> list[int]:
    """The 1-based numbers of the passages that support ``answer`` (empty when none does).

    A small model's own ``[n]`` markers are unreliable (it copies the first one, or none), so
    the engine attributes the answer itself, post hoc: the words the answer adds to the
    question are looked up in each passage, and the passage holding most of them is cited —
    ties go to the one holding the longest run of the answer's words in order, then to the
    better-ranked one. When the answer adds no word found in any passage, the markers the
    model wrote (those that name a passage) are kept.
    """
    own = [int(n) for n in _MARKER.findall(answer) if 1 <= int(n) <= len(passages)]
    words = terms(_MARKER.sub(" ", answer))
    asked = set(terms(question))
    added = [w for w in dict.fromkeys(words) if w not in asked] or list(dict.fromkeys(words))
    if not added or not passages:
        return list(dict.fromkeys(own))
    best, best_key = 0, (0.0, 0)
    for n, passage in enumerate(passages, 1):
        held = terms(passage.text)
        have = set(held)
        coverage = sum(w in have for w in added) / len(added)
        key = (coverage, _longest_run(words, held))
        if key > best_key:
            best, best_key = n, key
    if best_key[0] < 0.5:
        return list(dict.fromkeys(own))
    return [best]


def _longest_run(a: list[str], b: list[str]) -> int:
    """Length of the longest run of words that ``a`` and ``b`` share, in order."""
    longest, prev = 0, [0] * (len(b) + 1)
    for x in a:
        row = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                row[j] = prev[j - 1] + 1
                longest = max(longest, row[j])
        prev = row
    return longest
