"""Level 3 context: from the retrieved chunks, the sentences that answer the question.

Three 256-token chunks are a long and noisy context for a small model: it loses the answer in
them, and reading them costs most of a reply's time. Instead every sentence of the retrieved
chunks is scored against the question — the embedder's cosine similarity (the same model that
retrieved the chunks) plus a BM25 score over the candidate sentences — and the best sentences,
each with its neighbours, are kept until a token budget is full. Neighbouring picks from the
same chunk merge into one passage, so a passage is always a contiguous span of its document and
can be cited as such.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import regex

from engine.knowledge.store import Hit

# A sentence ends at . ! ? (and any closing quote or bracket) followed by white space and a
# capital, a digit or an opening quote, or at a line break. Initials ("U.S.", "J. Smith") and
# common titles ("Dr.") do not end one, nor does the dot in a number ("3.5").
_BOUNDARY = regex.compile(
    r"(?<=[.!?][\"')\]]*)(?<!\b(?:[A-Z]|Dr|Mr|Mrs|Ms|St|Jr|Sr|Mt|Prof|vs|e\.g|i\.e)\.)"
    r"\s+(?=[\"'(\[]?[A-Z0-9])|\n+"
)
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    """
    a about after all also an and any are as at be been before being between both but by
    can could did do does during each for from had has have he her his how i if in into
    is it its many more most much no not of on one only or other our out over same she
    should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom
    whose why will with would you your
    """.split()  # noqa: SIM905
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, white space trimmed, in order."""
    spans, last = [], 0
    for match in _BOUNDARY.finditer(text):
        spans.append((last, match.start()))
        last = match.end()
    spans.append((last, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def terms(text: str) -> list[str]:
    """Lower-case content words: what lexical scoring and citation matching compare."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def bm25(query: list[str], docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Okapi BM25 of each of ``docs`` for ``query``, with IDF taken over ``docs`` themselves."""
    n = len(docs)
    if not n:
        return np.zeros(0, dtype=np.float32)
    df = Counter(t for d in docs for t in set(d))
    avg = sum(len(d) for d in docs) / n or 1.0
    scores = np.zeros(n, dtype=np.float32)
    for i, d in enumerate(docs):
        tf = Counter(d)
        for t in set(query):
            if t in tf:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                scores[i] += idf * tf[t] * (k1 + 1) / (tf[t] + k1 * (1 - b + b * len(d) / avg))
    return scores


@dataclass
class _Sentence:
    hit: int  # the first retrieved chunk it was read from
    start: int  # offsets in its document
    end: int
    text: str
    after: str  # the white space that follows it in its chunk ("" at the chunk's end)


def _sentences(hits: list[Hit]) -> dict[str, list[_Sentence]]:
    """Every distinct sentence of ``hits``, per document in document order: overlapping or
    neighbouring chunks of one document give one sequence."""
    seen: dict[tuple[str, str], _Sentence] = {}
    by_source: dict[str, list[_Sentence]] = {}
    for i, hit in enumerate(hits):
        spans = sentence_spans(hit.text)
        for j, (a, b) in enumerate(spans):
            key = (hit.source, " ".join(hit.text[a:b].split()))
            after = hit.text[b : spans[j + 1][0]] if j + 1 < len(spans) else ""
            if key in seen:
                # Seen at a chunk's end, where what follows it was not known: now it is.
                seen[key].after = seen[key].after or after
                continue
            sentence = _Sentence(i, hit.start + a, hit.start + b, hit.text[a:b], after)
            seen[key] = sentence
            by_source.setdefault(hit.source, []).append(sentence)
    for src, sentences in by_source.items():
        sentences.sort(key=lambda x: (x.start, -x.end))
        # A chunk cut mid-sentence holds a fragment of a sentence that an overlapping chunk
        # holds whole: the whole one is kept.
        kept: list[_Sentence] = []
        for x in sentences:
            if kept and x.end <= max(k.end for k in kept):
                continue
            kept.append(x)
        by_source[src] = kept
    return by_source


def select(
    question: str,
    hits: list[Hit],
    embed: Callable[[list[str]], np.ndarray],
    count_tokens: Callable[[str], int],
    budget: int,
    neighbours: int = 1,
    lexical_weight: float = 0.5,
    paragraph: bool = False,
) -> list[Hit]:
    """Passages cut from ``hits`` holding the sentences that best answer ``question``, together
    at most ``budget`` tokens (``count_tokens`` of their texts), best first.

    A sentence's score is its cosine similarity to the question (``embed`` gives unit vectors)
    plus ``lexical_weight`` times its BM25 score scaled to 0..1 over the candidates. The best
    sentence comes with ``neighbours`` sentences either side (a pronoun's referent, the rest
    of a list) — or alone when that does not fit; a pick next to or overlapping an earlier one
    of the same document widens that passage. Sentences repeated by overlapping chunks count
    once. Every passage is a contiguous span of its document, with its offsets.

    With ``paragraph``, each pick then grows within its paragraph (the sentence before, the
    one after, in turn) while the budget allows: the best sentence comes with as much of its
    paragraph as fits, the way a reader would quote it.
    """
    by_source = _sentences(hits)
    units = [(src, k) for src, sentences in by_source.items() for k in range(len(sentences))]
    if not units:
        return []
    texts = [by_source[src][k].text for src, k in units]
    vectors = embed([question, *texts])
    scores = vectors[1:] @ vectors[0]
    if lexical_weight:
        lexical = bm25(terms(question), [terms(t) for t in texts])
        if lexical.max() > 0:
            scores = scores + lexical_weight * lexical / lexical.max()

    def joined(k: int, src: str) -> bool:
        """Sentence ``k`` runs on into sentence ``k + 1`` of ``src``, nothing missing between."""
        sentences = by_source[src]
        return sentences[k + 1].start - sentences[k].end <= max(4, len(sentences[k].after))

    def text(src: str, first: int, last: int) -> str:
        sentences = by_source[src][first : last + 1]
        return "".join(x.text + (x.after or " ") for x in sentences[:-1]) + sentences[-1].text

    def same_paragraph(k: int, src: str) -> bool:
        """Sentence ``k + 1`` of ``src`` follows sentence ``k`` in the same paragraph: no
        blank line between them. Chunks end at paragraph ends or overlap, so a sentence that
        ends its chunks (nothing known after it) ends its paragraph."""
        after = by_source[src][k].after
        return joined(k, src) and bool(after) and after.count("\n") < 2

    def grow(src: str, i: int, room: int) -> int:
        """Widen window ``i`` of ``src`` within its paragraph, a sentence before then one after
        in turn, while it fits ``room`` tokens and touches no other window; the tokens added."""
        found, sentences = windows[src], by_source[src]
        w = found[i]
        size, added = count_tokens(text(src, w[0], w[1])), 0
        stuck = {-1: False, 1: False}
        side = -1
        while not (stuck[-1] and stuck[1]):
            if not stuck[side]:
                k = w[0] - 1 if side < 0 else w[1] + 1
                free = 0 <= k < len(sentences) and not any(
                    v is not w and v[0] - 1 <= k <= v[1] + 1 for v in found
                )
                if free and same_paragraph(min(k, w[0] if side < 0 else w[1]), src):
                    first, last = (k, w[1]) if side < 0 else (w[0], k)
                    wider = count_tokens(text(src, first, last))
                    if added + wider - size <= room:
                        added += wider - size
                        size, w[0], w[1] = wider, first, last
                    else:
                        stuck[side] = True
                else:
                    stuck[side] = True
            side = -side
        return added

    # Windows picked per document: [first, last, score] over its sentences, the score the best
    # of the sentences picked in it.
    windows: dict[str, list[list]] = {}
    used = 0
    for u in np.argsort(-scores, kind="stable"):
        src, k = units[u]
        current = windows.get(src, [])
        if any(w[0] <= k <= w[1] for w in current):
            continue  # already in the context as another pick's neighbour
        before = sum(count_tokens(text(src, w[0], w[1])) for w in current)
        for reach in dict.fromkeys((neighbours, 0)):
            lo = hi = k
            while k - lo < reach and lo > 0 and joined(lo - 1, src):
                lo -= 1
            while hi - k < reach and hi + 1 < len(by_source[src]) and joined(hi, src):
                hi += 1
            merged, rest = [lo, hi, float(scores[u])], []
            for w in current:
                touching = w[0] <= merged[1] + 1 and merged[0] <= w[1] + 1
                if touching and (
                    (w[0] <= merged[1] and merged[0] <= w[1]) or joined(min(w[1], merged[1]), src)
                ):
                    merged = [min(merged[0], w[0]), max(merged[1], w[1]), max(merged[2], w[2])]
                else:
                    rest.append(w)
            proposal = sorted([*rest, merged])
            extra = sum(count_tokens(text(src, w[0], w[1])) for w in proposal) - before
            if used + extra <= budget:
                windows[src] = proposal
                used += extra
                if paragraph:
                    used += grow(src, proposal.index(merged), budget - used)
                break
    passages = []
    for src, found in windows.items():
        for first, last, score in found:
            head_, tail = by_source[src][first], by_source[src][last]
            hit = hits[head_.hit]
            passages.append(
                replace(
                    hit,
                    id=f"{hit.id}:{head_.start}-{tail.end}",
                    text=text(src, first, last),
                    start=head_.start,
                    end=tail.end,
                    score=score,
                )
            )
    passages.sort(key=lambda p: -p.score)
    return passages
