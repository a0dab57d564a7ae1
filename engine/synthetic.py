"""Questions written by a local model about passages of a knowledge base: the drafts behind a
generated evaluation set (and, later, synthetic training data). Drafts are shown to the user for
review and editing before anything is saved."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from engine.knowledge.store import Hit
from engine.models.runtime import CancelToken, Reply, SamplingParams

QUESTION_PROMPT = """Read the passage and write {n} question(s) that the passage answers, each \
with its answer: a few words copied from the passage.

Passage:
<<<
{passage}
>>>

Reply in exactly this form, nothing else:
Question: ...
Answer: ..."""

_PAIR = re.compile(
    r"question\s*\d*\s*[:.]\s*(.+?)\s*\n+\s*answer\s*\d*\s*[:.]\s*(.+?)\s*(?:\n|$)", re.IGNORECASE
)


@dataclass
class Draft:
    """A generated question, its answer, and the passage it came from."""

    question: str
    answer: str
    source: str
    passage: str
    chunk_id: str


@dataclass
class GenerationProgress:
    done: int
    total: int
    drafts: list[Draft]
    rejected: int


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Question/answer pairs in a model's reply; pairs with an empty side are dropped."""
    return [
        (q.strip(), a.strip()) for q, a in _PAIR.findall(text + "\n") if q.strip() and a.strip()
    ]


def write_questions(
    engine,
    passages: list[Hit],
    model: str,
    per_passage: int = 1,
    cancel: CancelToken | None = None,
    seed: int = 0,
) -> Iterator[GenerationProgress]:
    """For each passage ask ``model`` for ``per_passage`` question/answer pairs; yields the
    drafts so far after every passage. Replies without a usable pair are counted as rejected."""
    loaded = engine.load_model(model)
    drafts: list[Draft] = []
    rejected = 0
    for i, hit in enumerate(passages):
        if cancel is not None and cancel.cancelled:
            return
        prompt = QUESTION_PROMPT.format(n=per_passage, passage=hit.text.strip())
        reply = None
        for event in loaded.stream(
            [{"role": "user", "content": prompt}],
            SamplingParams(temperature=0.3, max_tokens=64 * per_passage + 32, seed=seed + i),
            cancel,
        ):
            if isinstance(event, Reply):
                reply = event
        pairs = parse_pairs(reply.text)[:per_passage] if reply else []
        if not pairs:
            rejected += 1
        for q, a in pairs:
            drafts.append(Draft(q, a, hit.source, hit.text, hit.id))
        yield GenerationProgress(i + 1, len(passages), list(drafts), rejected)
