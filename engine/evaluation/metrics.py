"""Scoring functions. Answer metrics follow the official SQuAD evaluation script: answers are
lower-cased, stripped of punctuation, the articles a/an/the and extra whitespace, and a
response is scored against each reference, keeping the best.
"""

from __future__ import annotations

import math
import re
import statistics
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import regex

from engine.errors import TailorError

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(response: str, references: Sequence[str]) -> float:
    norm = normalize_answer(response)
    return float(any(norm == normalize_answer(r) for r in references))


def _f1(response: str, reference: str) -> float:
    got, want = normalize_answer(response).split(), normalize_answer(reference).split()
    if not got or not want:  # SQuAD 2.0's rule: two empty answers agree, one empty scores 0
        return float(got == want)
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def token_f1(response: str, references: Sequence[str]) -> float:
    return max((_f1(response, r) for r in references), default=0.0)


def contains(response: str, references: Sequence[str]) -> float:
    """1 if a normalised reference occurs in the normalised response as whole words."""
    padded = f" {normalize_answer(response)} "
    return float(any(f" {n} " in padded for r in references if (n := normalize_answer(r))))


# An evaluation set's pattern may come from anyone; one that backtracks catastrophically
# ("(a+)+$") would hang the run on a single reply, so matching is given this long.
REGEX_TIMEOUT_S = 1.0


class PatternTimeout(TailorError):
    """A case's regular expression ran past :data:`REGEX_TIMEOUT_S` on a reply."""


def regex_match(response: str, pattern: str) -> float:
    """1 if ``pattern`` (case-insensitive) matches anywhere in the response. Raises
    :class:`PatternTimeout` if matching takes longer than :data:`REGEX_TIMEOUT_S`."""
    try:
        found = regex.search(pattern, response, regex.IGNORECASE, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        raise PatternTimeout(
            f"The pattern {pattern!r} took more than {REGEX_TIMEOUT_S:g} s on this reply and was "
            "stopped; it backtracks catastrophically (nested repeats such as (a+)+). Write it "
            "without nested repeats in the evaluation set."
        ) from None
    return float(found is not None)


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable regular expression, or None."""
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"invalid regular expression ({exc})"
    return None


def cited_passages(sources: Sequence[dict]) -> list[dict]:
    """The passages a reply cites: those the engine marked ``cited`` (Level 3 attributes each
    answer to the passage that supports it)."""
    return [s for s in sources if s.get("cited")]


def citation_precision(
    response: str, sources: Sequence[dict], references: Sequence[str], answered_only: bool = True
) -> float | None:
    """The share of a reply's cited passages that hold a reference answer (normalised, as
    :func:`contains`). None when the reply cites nothing, and — with ``answered_only`` — when
    the reply does not hold a reference answer itself: a wrong answer has no right passage."""
    cited = cited_passages(sources)
    if not cited or not references:
        return None
    if answered_only and not contains(response, references):
        return None
    return sum(contains(s.get("text", ""), references) for s in cited) / len(cited)


# -- retrieval, at document level ---------------------------------------------------------------


def same_document(retrieved: str, reference: str) -> bool:
    """A retrieved file path matches a reference given as a path, a file name or a stem."""
    if retrieved == reference:
        return True
    path, ref = Path(retrieved), Path(reference)
    return path.name == ref.name or (not ref.suffix and path.stem == ref.name)


def document_ranking(sources: Sequence[str]) -> list[str]:
    """Chunk sources in rank order → distinct documents in rank order."""
    return list(dict.fromkeys(sources))


def _relevant(ranking: Sequence[str], references: Sequence[str]) -> list[bool]:
    return [any(same_document(doc, ref) for ref in references) for doc in ranking]


def recall_at_k(ranking: Sequence[str], references: Sequence[str], k: int) -> float:
    if not references:
        return 0.0
    found = {ref for ref in references if any(same_document(doc, ref) for doc in ranking[:k])}
    return len(found) / len(set(references))


def reciprocal_rank(ranking: Sequence[str], references: Sequence[str]) -> float:
    for rank, hit in enumerate(_relevant(ranking, references), 1):
        if hit:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranking: Sequence[str], references: Sequence[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k, as BEIR computes it for single-grade judgements."""
    gains = _relevant(ranking[:k], references)
    dcg = sum(1.0 / math.log2(i + 2) for i, g in enumerate(gains) if g)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(set(references)), k)))
    return dcg / ideal if ideal else 0.0


# -- summaries --------------------------------------------------------------------------------


def mean_ci(values: Sequence[float], z: float = 1.96) -> tuple[float, float, float] | None:
    """Mean and its 95% confidence interval: Wilson's interval for 0/1 scores, the normal
    approximation otherwise. None when there are no values; (m, m, m) for a single one."""
    n = len(values)
    if n == 0:
        return None
    mean = sum(values) / n
    if n == 1:
        return mean, mean, mean
    if all(v in (0.0, 1.0) for v in values):
        denom = 1 + z * z / n
        centre = (mean + z * z / (2 * n)) / denom
        half = z * math.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n)) / denom
        return mean, max(0.0, centre - half), min(1.0, centre + half)
    half = z * statistics.stdev(values) / math.sqrt(n)
    return mean, mean - half, mean + half


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None
