"""A rubric scored by a local judge model. The prompt is visible and editable; the judge's
reply must contain "Score: N" with N from 1 to 5, which becomes (N − 1) / 4 on the 0–1 scale
the other metrics use."""

from __future__ import annotations

import re

DEFAULT_RUBRIC = (
    "5: says what the reference says, correctly and completely. "
    "3: partly right, or right with wrong extras. "
    "1: wrong, off-topic, or no answer."
)

DEFAULT_PROMPT = """You grade answers. Compare the answer with the reference answer.

Question: {question}
Reference answer: {reference}
Answer to grade: {response}

Rubric: {rubric}

Reply with one line: "Score: N", where N is a whole number from 1 to 5."""

FIELDS = ("question", "reference", "response", "rubric")
_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*([1-5])\b", re.IGNORECASE)
_DIGIT = re.compile(r"\b([1-5])\b")


def check_prompt(prompt: str) -> str | None:
    """Why ``prompt`` cannot be used as a judge prompt, or None."""
    missing = [f"{{{f}}}" for f in FIELDS[:3] if f"{{{f}}}" not in prompt]
    if missing:
        return f"The judge prompt must contain {', '.join(missing)}."
    try:
        prompt.format(question="", reference="", response="", rubric="")
    except (KeyError, IndexError, ValueError) as exc:
        return f"The judge prompt has a stray brace or unknown field ({exc}); write {{{{ for {{."
    return None


def render(prompt: str, question: str, references, response: str, rubric: str) -> str:
    return prompt.format(
        question=question,
        reference=" | ".join(references) if references else "(none given)",
        response=response.strip() or "(empty)",
        rubric=rubric,
    )


def parse_score(text: str) -> float | None:
    """The judge's 1–5 score as 0–1, or None if the reply holds no score."""
    match = _SCORE.search(text) or _DIGIT.search(text)
    return (int(match.group(1)) - 1) / 4 if match else None
