"""Stage 3 of a RAFT build: reviewed drafts become training rows — each question with its
oracle passage among distractors, or (in a fraction 1 − P) distractors alone — and the same
questions without documents; whole passages are held out for evaluation."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from engine.knowledge.store import Hit
from engine.raft.drafting import RaftDraft
from engine.raft.format import SYSTEM_PROMPT, format_prompt, normalise, quotes
from engine.raft.options import RaftOptions


@dataclass
class Examples:
    rows: list[list[dict]]  # RAFT conversations: system, documents + question, reasoning
    plain: list[list[dict]]  # the same questions and answers without documents
    with_oracle: int
    hard: int  # distractors that were the retriever's hard negatives


def hold_out(
    usable: list[RaftDraft], share: float, rng: random.Random
) -> tuple[list[RaftDraft], list[RaftDraft]]:
    """(held out, train): whole passages are held out — every question about a held-out
    passage — until about ``share`` of the questions are, so a held-out answer is never
    learnt from a sibling question (at least one passage each way when there are two)."""
    per_passage = Counter(d.chunk_id for d in usable)
    passages = list(per_passage)
    rng.shuffle(passages)
    want = round(share * len(usable))
    chosen: set[str] = set()
    count = 0
    for cid in passages[:-1]:  # always leave one passage to train on
        if count >= want or (count and count + per_passage[cid] > want * 1.5):
            break
        chosen.add(cid)
        count += per_passage[cid]
    if share and not chosen and len(passages) >= 2:
        chosen.add(passages[0])
    held = [d for d in usable if d.chunk_id in chosen]
    return held, [d for d in usable if d.chunk_id not in chosen]


def make_examples(
    drafts: list[RaftDraft],
    chunks: list[Hit],
    options: RaftOptions,
    rng: random.Random,
    search=None,
) -> Examples:
    """One training example per draft: its question with the oracle chunk and k distractors,
    shuffled — or, in a fraction 1 − P, k + 1 distractors and no oracle. Distractors are the
    retriever's best non-oracle chunks (``search(question, n)``, hard negatives) topped up with
    random ones. A chunk holding the quoted evidence (an overlapping neighbour of the oracle)
    is never a distractor."""
    by_id = {c.id: c for c in chunks}
    normed = {c.id: normalise(c.text) for c in chunks}
    rows, plain, with_oracle, hard = [], [], 0, 0
    for d in drafts:
        oracle = by_id[d.chunk_id]
        keep = rng.random() < options.p_oracle
        need = options.distractors + (0 if keep else 1)
        evidence = [normalise(q) for q in quotes(d.reasoning)]

        def usable(cid: str, picked: list[str], oracle=oracle, evidence=evidence) -> bool:
            return (
                cid in normed
                and cid != oracle.id
                and cid not in picked
                and not any(e in normed[cid] for e in evidence)
            )

        picked: list[str] = []
        if options.negatives == "hard" and need and search is not None:
            for h in search(d.question, need + 8):
                if len(picked) < need and usable(h.id, picked):
                    picked.append(h.id)
        hard += len(picked)
        if len(picked) < need:  # random ones: a shuffled pass, stopping once there are enough
            for i in rng.sample(range(len(chunks)), len(chunks)):
                if len(picked) == need:
                    break
                if usable(chunks[i].id, picked):
                    picked.append(chunks[i].id)
        docs = [by_id[cid].text for cid in picked]
        if keep:
            docs.append(oracle.text)
            with_oracle += 1
        rng.shuffle(docs)
        rows.append(
            [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": format_prompt(d.question, docs)},
                {"role": "assistant", "content": d.reasoning},
            ]
        )
        plain.append(
            [
                {"role": "user", "content": d.question},
                {"role": "assistant", "content": d.answer.strip()},
            ]
        )
    return Examples(rows, plain, with_oracle, hard)
