"""The RAFT format: how a RAFT adapter is prompted (its system prompt, the passages in
``<DOCUMENT>`` blocks before the question) and how its reply is read (reasoning quoting the
passages between ``##begin_quote##`` and ``##end_quote##``, then ``<ANSWER>: …``).

Training rows, drafting, serving, scoring and the chat all read and write this one format, so
it lives here with no dependency on the rest of the engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

BEGIN_QUOTE = "##begin_quote##"
END_QUOTE = "##end_quote##"
ANSWER_TAG = "<ANSWER>:"

SYSTEM_PROMPT = (
    "Answer the question using the documents; some of them are unrelated to it. Reason step "
    f"by step, copy the sentences you rely on between {BEGIN_QUOTE} and {END_QUOTE}, and end "
    f"with {ANSWER_TAG} followed by the short answer."
)

QUOTE = re.compile(re.escape(BEGIN_QUOTE) + r"(.*?)" + re.escape(END_QUOTE), re.DOTALL)


def format_prompt(question: str, documents: list[str]) -> str:
    """The user turn RAFT trains and serves with: each document in a ``<DOCUMENT>`` block,
    then the question."""
    return "".join(f"<DOCUMENT>{d.strip()}</DOCUMENT>\n" for d in documents) + question.strip()


def split_answer(text: str) -> tuple[str, str]:
    """(reasoning, final answer) of a RAFT reply; the answer is ``""`` without the tag."""
    head, tag, tail = text.rpartition(ANSWER_TAG)
    if not tag:
        return text.strip(), ""
    return head.strip(), tail.strip()


def final_answer(text: str) -> str:
    """The text after ``<ANSWER>:`` if the reply has one, else the whole reply."""
    return split_answer(text)[1] if ANSWER_TAG in text else text


def quotes(text: str) -> list[str]:
    """The passages a reply copied, in order."""
    return [q.strip() for q in QUOTE.findall(text) if q.strip()]


def normalise(text: str) -> str:
    """Whitespace collapsed: how quotes are compared with passages."""
    return " ".join(text.split())


def check_reasoning(text: str, oracle: str) -> str:
    """Why ``text`` is not a usable RAFT answer for the ``oracle`` chunk ("" if it is)."""
    reasoning, answer = split_answer(text)
    if ANSWER_TAG not in text:
        return f"no {ANSWER_TAG} at the end"
    if not answer:
        return f"nothing after {ANSWER_TAG}"
    found = quotes(reasoning)
    if not found:
        return "no quote from the passage"
    where = normalise(oracle)
    for q in found:
        if normalise(q) not in where:
            return "a quote is not in the passage"
    return ""


def draft_problem(question: str, answer: str, reasoning: str, oracle: str | None) -> str:
    """Why a (reviewed) draft cannot become a training example ("" if it can)."""
    if oracle is None:
        return "the passage is no longer in the knowledge base"
    if not question.strip():
        return "no question written"
    if not answer.strip():
        return "no answer"
    problem = check_reasoning(reasoning, oracle)
    if problem:
        return problem
    if normalise(split_answer(reasoning)[1]).lower() != normalise(answer).strip(" .").lower():
        return f"the answer differs from the one after {ANSWER_TAG}"
    return ""


# -- a reply, parsed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """A sentence a reply copied: its text, where the marked quote sits in the reasoning
    (``reasoning[start:end]``, markers included) and the number of the first retrieved passage
    that holds it (``None``: none does — the model invented or re-worded it)."""

    text: str
    start: int
    end: int
    passage: int | None


@dataclass(frozen=True)
class RaftAnswer:
    """A RAFT reply read once: the short answer after ``<ANSWER>:`` (``""`` when nothing
    follows it), the reasoning before it as written, and each quote in it."""

    answer: str
    reasoning: str
    quotes: tuple[Quote, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RaftAnswer:
        return cls(data["answer"], data["reasoning"], tuple(Quote(**q) for q in data["quotes"]))


def parse_answer(text: str, sources: Sequence[dict]) -> RaftAnswer | None:
    """``text`` read as a RAFT reply to the retrieved passages ``sources`` (as ``Reply.sources``
    lists them: each with its number ``n`` and its ``text``); ``None`` when it has no
    ``<ANSWER>:`` (cut off before answering)."""
    if ANSWER_TAG not in text:
        return None
    reasoning, answer = split_answer(text)
    passages = [(s["n"], normalise(s["text"])) for s in sources]
    found = []
    for match in QUOTE.finditer(reasoning):
        quote = match.group(1).strip()
        where = next((n for n, p in passages if normalise(quote) in p), None)
        found.append(Quote(quote, match.start(), match.end(), where))
    return RaftAnswer(answer, reasoning, tuple(found))
