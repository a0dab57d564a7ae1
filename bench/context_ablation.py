"""Screening Level 3 context and prompt variants on the SQuAD part, fast (issue 13, goal 1).

    nice -n 5 .venv/bin/python bench/context_ablation.py --questions 60 --variants base,context

The same articles, knowledge base, seeded questions and bundled model as bench/evaluation.py,
but each variant's Level 3 prompt is built here from the engine's own pieces (search, the
similarity threshold, ``context.select``, ``answering``) and given straight to the loaded
llama.cpp model, greedy, ≤ 32 tokens, so many variants are screened in one process with one
index. Level 1 (the question alone) runs in the same process before and after: latency ratios
compare within this run. A screen, not the result: the settings kept are then measured through
the real evaluation path (``bench/evaluation.py --ablation`` and the full run).

The index is kept under ``--home`` (default /tmp/tailor-ctx-ablation) and reused when present.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1-part-a.json"
RESULTS = ROOT / "bench" / "results"
SYSTEM = "Answer the question with a short phrase, not a sentence."
KB = "SQuAD articles"

# name → (select settings or None for whole chunks, render style, primer of the reply)
BASE = {"context": "sentences", "tokens": 120, "neighbours": 0, "lexical": 0.5, "order": "score"}


def variants() -> dict[str, dict]:
    v: dict[str, dict] = {}

    def add(name, **changes):
        v[name] = BASE | {"style": "compact", "primer": ""} | changes

    add("base")
    add("style=context", style="context")
    add("style=numbered", style="numbered")
    add("style=qfirst", style="qfirst")
    add("style=qboth", style="qboth")
    add("primer=Answer:", primer="Answer:")
    add("style=context primer=Answer:", style="context", primer="Answer:")
    add("style=qboth primer=Answer:", style="qboth", primer="Answer:")
    for key, primer in (
        ("according", "According to the context,"),
        ("documents", "According to the documents,"),
        ("is", "The answer is"),
    ):
        add(f"style=qboth primer={key}", style="qboth", primer=primer)
    add("style=qboth order=reverse", style="qboth", order="reverse")
    add("style=compact-qboth", style="compact-qboth")
    for t in (90, 160):
        add(f"style=qboth tokens={t}", style="qboth", tokens=t)
    add("style=qboth order=document", style="qboth", order="document")
    add("style=compact-qboth order=reverse", style="compact-qboth", order="reverse")
    add("style=instruct", style="instruct")
    add("style=context-answer", style="context-answer")
    add("style=compact-answer", style="compact-answer")
    add("style=instruct primer=Answer:", style="instruct", primer="Answer:")
    for t in (40, 60, 80, 160, 200, 256):
        add(f"tokens={t}", tokens=t)
    add("neighbours=1 tokens=200", neighbours=1, tokens=200)
    for t in (120, 160, 200):
        add(f"paragraph tokens={t}", paragraph=True, tokens=t)
        add(f"paragraph tokens={t} style=context", paragraph=True, tokens=t, style="context")
    add("order=document", order="document")
    add("order=reverse", order="reverse")
    add("order=reverse style=context", order="reverse", style="context")
    add("lexical=0", lexical=0.0)
    add("lexical=1", lexical=1.0)
    add("chunks k=1", context="chunks", top=1)
    add("chunks k=1 style=context", context="chunks", top=1, style="context")
    for n in (1, 2):
        add(f"style=qboth demo={n}", style="qboth", demo=n)
        add(f"gold paragraph style=qboth demo={n}", context="gold", style="qboth", demo=n)
    add("gold paragraph style=qboth", context="gold", style="qboth")
    add("gold paragraph", context="gold", style="context")
    add("gold paragraph primer=Answer:", context="gold", style="context", primer="Answer:")
    according = "According to the context,"
    add("gold paragraph primer=according", context="gold", style="context", primer=according)
    add(
        "gold paragraph style=qboth primer=according",
        context="gold",
        style="qboth",
        primer=according,
    )
    return v


# Worked examples given as earlier turns (``demo``): a made-up passage, its question, and a
# short answer copied from it.
DEMOS = [
    (
        "In which year was the Hubble telescope launched?",
        "The Hubble telescope was launched in 1990 aboard the shuttle Discovery. It orbits "
        "about 540 km above the Earth.",
        "1990",
    ),
    (
        "What did Marie Curie discover?",
        "Marie Curie was born in Warsaw in 1867. She won the Nobel Prize in Chemistry in 1911 "
        "for discovering polonium and radium.",
        "polonium and radium",
    ),
]


def render(style: str, question: str, texts: list[str], hits) -> str:
    from engine.knowledge import answering

    if style == "compact":
        return answering.question_with_sources(question, hits, "compact")
    if style == "sources":
        return answering.question_with_sources(question, hits, "sources")
    body = "\n".join(texts)
    if style == "context":
        return f"Context:\n{body}\n\nQuestion: {question}"
    if style == "numbered":
        body = "\n".join(f"[{n}] {t}" for n, t in enumerate(texts, 1))
        return f"Context:\n{body}\n\nQuestion: {question}"
    if style == "qfirst":
        return f"Question: {question}\n\nContext:\n{body}"
    if style == "compact-qboth":
        return f"Question: {question}\n\n" + answering.question_with_sources(question, hits)
    if style == "qboth":
        return f"Question: {question}\n\nContext:\n{body}\n\nQuestion: {question}"
    if style == "context-answer":
        return f"Context:\n{body}\n\nQuestion: {question}\nAnswer:"
    if style == "compact-answer":
        return answering.question_with_sources(question, hits, "compact") + "\nAnswer:"
    if style == "instruct":
        return (
            f"Context:\n{body}\n\nAnswer the question with a few words from the context.\n"
            f"Question: {question}"
        )
    raise ValueError(style)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--offset",
        type=int,
        default=0,
        help="skip this many seeded questions: --offset 300 screens on questions that the "
        "evaluation's 200 never include",
    )
    parser.add_argument("--variants", default="", help="comma-separated names (default: all)")
    parser.add_argument("--home", default="/tmp/tailor-ctx-ablation")
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.0,
        help="sampling temperature (default greedy); above 0 each question samples with seed 0",
    )
    parser.add_argument("--out", default="context-ablation.json")
    parser.add_argument("--show", type=int, default=0, help="print this many replies per variant")
    args = parser.parse_args()

    home = Path(args.home)
    fresh = not (home / ".indexed").exists()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["TAILOR_HOME"] = str(home)
    from engine.api import Engine
    from engine.evaluation import metrics as m
    from engine.events import run
    from engine.knowledge import context

    data = json.loads(DATA.read_text(encoding="utf-8"))["data"]
    folder = home / "squad-articles"
    folder.mkdir(exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from evaluation import write_articles

    questions = write_articles(data, folder)
    rng = random.Random(args.seed)
    rng.shuffle(questions)
    chosen = questions[args.offset : args.offset + args.questions]

    engine = Engine(home)
    if fresh:
        engine.first_run()
        engine.create_knowledge_base(KB)
        engine.add_folders(KB, [folder])
        run(engine.index(KB))
        (home / ".indexed").write_text("1")
    if args.threads:
        engine.save_settings(threads=args.threads)
    s = engine.services
    model = engine.get_assistant("Default assistant").config.model
    loaded = s.generation.load(model)
    llama = loaded.llama
    kb_config = s.knowledge.config(KB)
    embed = s.knowledge.embedder_for(kb_config).encode
    s.knowledge.search(KB, "warm-up", 1)

    def generate(
        content: str, primer: str = "", demos: list[tuple[str, str]] = ()
    ) -> tuple[str, float, int]:
        messages = [{"role": "system", "content": SYSTEM}]
        for shown, reply in demos:
            messages += [
                {"role": "user", "content": shown},
                {"role": "assistant", "content": reply},
            ]
        messages.append({"role": "user", "content": content})
        prompt, stop = loaded.render(messages)
        prompt += primer
        start = time.perf_counter()
        out = llama.create_completion(
            prompt, max_tokens=32, temperature=args.temperature, stop=stop, seed=0
        )
        return out["choices"][0]["text"], time.perf_counter() - start, loaded.count_tokens(prompt)

    def level1() -> dict:
        rows = []
        for _, q, answers, _, _ in chosen:
            text, s_, n = generate(q)
            rows.append((m.contains(text, answers), s_, n))
        return summary(rows)

    def level3(v: dict, show: int) -> dict:
        rows, inside = [], []
        for i, (_, q, answers, _, gold) in enumerate(chosen):
            t0 = time.perf_counter()
            hits = s.knowledge.search(KB, q, 3)
            hits = [h for h in hits if h.similarity >= kb_config.min_similarity]
            if v["context"] == "sentences":
                hits = context.select(
                    q,
                    hits,
                    embed,
                    loaded.count_tokens,
                    v["tokens"],
                    v["neighbours"],
                    v["lexical"],
                    v.get("paragraph", False),
                )
            elif v["context"] == "chunks":
                hits = hits[: v.get("top", 3)]
            if v["order"] == "document":
                hits = sorted(hits, key=lambda h: (h.source, h.start))
            elif v["order"] == "reverse":
                hits = hits[::-1]
            texts = [h.text for h in hits]
            if v["context"] == "gold":
                texts = [gold]
            content = render(v["style"], q, texts, hits) if texts else q
            demos = [
                (render(v["style"], dq, [dp], []), da) for dq, dp, da in DEMOS[: v.get("demo", 0)]
            ]
            text, _, n = generate(content, v["primer"], demos)
            elapsed = time.perf_counter() - t0
            rows.append((m.contains(text, answers), elapsed, n))
            inside.append(float(any(m.contains(t, answers) for t in texts)))
            if i < show:
                print(f"--- {q} | gold {answers[0]!r}\n{content}\n>>> {text!r}", flush=True)
        return summary(rows) | {"answer_in_context": statistics.mean(inside)}

    def summary(rows) -> dict:
        return {
            "contains": statistics.mean(r[0] for r in rows),
            "latency_s": statistics.median(r[1] for r in rows),
            "prompt_tokens": statistics.median(r[2] for r in rows),
        }

    names = [n for n in args.variants.split(",") if n] or list(variants())
    table = variants()
    before = level1()
    print(f"L1 {json.dumps(before)}", flush=True)
    rows = []
    for name in names:
        result = level3(table[name], args.show)
        rows.append({"variant": name, "settings": table[name], **result})
        print(f"{name:40s} {json.dumps(result)}", flush=True)
    after = level1()
    l1 = statistics.mean([before["latency_s"], after["latency_s"]])
    for row in rows:
        row["latency_ratio_vs_l1"] = row["latency_s"] / l1
    print(f"L1 after {json.dumps(after)}")
    print(f"\n{'variant':40s} contains  ratio  tokens  in-context")
    for row in rows:
        print(
            f"{row['variant']:40s} {row['contains']:.3f}   {row['latency_ratio_vs_l1']:.2f}  "
            f"{row['prompt_tokens']:6.0f}  {row['answer_in_context']:.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = {"questions": len(chosen), "l1": [before, after], "rows": rows}
    (RESULTS / args.out).write_text(json.dumps(out, indent=2))
    engine.close()


if __name__ == "__main__":
    main()
