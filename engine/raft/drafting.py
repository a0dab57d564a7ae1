"""Stage 1 of a RAFT build: a local writer model drafts questions about one passage, and for
each an answer that reasons from the passage, quoting it. Every draft is checked against its
passage; with ``reasoning="writer-or-extract"`` a draft whose written reasoning fails the check
gets reasoning assembled from the passage's sentence holding the answer instead.

The writer is reached through ``generator``, a :class:`engine.models.generation.TextGenerator`
(one whole reply from a named model), not the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import ModelUnavailable, NotFound, TailorError
from engine.knowledge.store import Hit
from engine.models.generation import TextGenerator
from engine.models.runtime import CancelToken, SamplingParams
from engine.raft.format import (
    ANSWER_TAG,
    BEGIN_QUOTE,
    END_QUOTE,
    check_reasoning,
    normalise,
    split_answer,
)
from engine.raft.options import RaftOptions
from engine.synthetic import ask

REASONING_PROMPT = f"""Question: {{question}}
Context: {{passage}}

Answer the question using the context above. First reason step by step. When you copy a \
sentence from the context, put it between {BEGIN_QUOTE} and {END_QUOTE}. End with the final \
answer in the form {ANSWER_TAG} $answer (a few words)."""

REASONING_DEMO = (
    REASONING_PROMPT.format(
        question="In which year was the Hubble telescope launched?",
        passage="The Hubble telescope was launched in 1990 aboard the shuttle Discovery. It "
        "orbits about 540 km above the Earth.",
    ),
    f"The context says when Hubble was launched: {BEGIN_QUOTE}The Hubble telescope was "
    f"launched in 1990 aboard the shuttle Discovery.{END_QUOTE} So it was launched in 1990.\n"
    f"{ANSWER_TAG} 1990",
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass
class RaftDraft:
    """One question about one chunk, its answer and the reasoning that will be trained on.
    ``problem`` says why it would be dropped ("" when it is usable)."""

    chunk_id: str
    source: str
    question: str
    answer: str
    reasoning: str
    origin: str  # "writer" or "extract"
    problem: str = ""


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def extract_reasoning(answer: str, passage: str) -> str | None:
    """Reasoning assembled from the passage: the shortest sentence that contains the answer,
    quoted, then the answer. None when no sentence contains it."""
    want = normalise(answer).strip(" .").lower()
    if not want:
        return None
    holding = [s for s in sentences(passage) if want in normalise(s).lower()]
    if not holding:
        return None
    sentence = min(holding, key=len)
    short = answer.strip().rstrip(".")
    return (
        f"The document that answers this says: {BEGIN_QUOTE}{sentence}{END_QUOTE} "
        f"So the answer is {short}.\n{ANSWER_TAG} {short}"
    )


def draft_chunk(
    generator: TextGenerator,
    chunk: Hit,
    options: RaftOptions,
    seed: int,
    cancel: CancelToken | None,
) -> list[RaftDraft]:
    """The drafts for one chunk: ``options.questions_per_chunk`` questions by the writer, each
    with checked reasoning, or one draft saying why none could be made."""

    def dropped(problem: str) -> list[RaftDraft]:
        return [RaftDraft(chunk.id, chunk.source, "", "", "", "writer", problem)]

    try:
        pairs = ask(
            generator, options.writer, chunk.text, options.questions_per_chunk, seed, cancel
        )
    except (NotFound, ModelUnavailable):
        raise
    except TailorError as exc:  # e.g. a passage too long for the writer's context
        return dropped(f"the writer failed: {exc}")
    if not pairs:
        return dropped("no question written")
    made = []
    for question, answer in pairs:
        reasoning, origin, problem = "", "writer", ""
        if options.reasoning != "extract":
            try:
                reasoning = write_reasoning(
                    generator, options.writer, question, chunk.text, seed, cancel
                )
            except (NotFound, ModelUnavailable):
                raise
            except TailorError as exc:
                reasoning = f"(the writer failed: {exc})"
            problem = check_reasoning(reasoning, chunk.text)
            if not problem:  # the reasoning's own answer is the answer
                answer = split_answer(reasoning)[1]
        if options.reasoning == "extract" or (problem and options.reasoning == "writer-or-extract"):
            extracted = extract_reasoning(answer, chunk.text)
            if extracted:
                reasoning, origin, problem = extracted, "extract", ""
            elif options.reasoning == "extract":
                problem = "the answer is not in the passage"
        made.append(RaftDraft(chunk.id, chunk.source, question, answer, reasoning, origin, problem))
    return made


def write_reasoning(
    generator: TextGenerator,
    writer: str,
    question: str,
    passage: str,
    seed: int,
    cancel: CancelToken | None,
) -> str:
    """The writer's reasoning answering ``question`` from ``passage``, shown one worked example
    first (:data:`REASONING_DEMO`)."""
    demo, reply_text = REASONING_DEMO
    messages = [
        {"role": "user", "content": demo},
        {"role": "assistant", "content": reply_text},
        {
            "role": "user",
            "content": REASONING_PROMPT.format(question=question, passage=passage.strip()),
        },
    ]
    reply = generator.generate(
        writer, messages, SamplingParams(temperature=0.3, max_tokens=256, seed=seed), cancel
    )
    return reply.text.strip() if reply else ""
