"""Level 5, RAFT, on real data (issue: RAFT). Run:

    .venv/bin/python bench/raft.py                    # the defaults below
    .venv/bin/python bench/raft.py --questions 120 --steps 60 --eval 30   # quicker

1. SQuAD v1.1 dev articles (``../shared/data/squad``) written out as documents and indexed
   into a knowledge base through Tailor's ingestion path.
2. Drafting speed: Tailor's RAFT builder (the bundled model writing one question and its quoted
   reasoning per passage) against the raw llama-cpp-python library sending the same messages
   with the same settings, on the same passages, in the same run → seconds per passage, ratio.
3. Quality: the bundled 135M model's questions are too poor to measure training with, so the
   drafts are SQuAD's own human-written questions (what a careful review would leave), placed
   on the chunk holding the answer, with reasoning quoting that chunk's sentence. Saved with
   ``Engine.save_raft_build`` twice — hard and random distractors (2 each; 128-token chunks, so
   an example fits 768 tokens on a CPU) — plus the same questions without documents; whole
   passages are held out. Three adapters are trained with the job runner (same steps and
   settings), then one evaluation run on the held-out questions: Level 3 (base + RAG),
   Level 4 (plain fine-tune), Level 5 (RAFT + RAG, hard negatives) at 2, 5 and 10 retrieved
   passages, and Level 5 with random negatives at 5.
4. Serving: Tailor's Level 5 chat (retrieval, packing, the RAFT prompt) against raw
   llama-cpp-python with the same adapter and the same messages, alternated, 10 queries.
Results go to ``bench/results/raft.json``; the README quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1-part-a.json"
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=3)
    parser.add_argument("--questions", type=int, default=200, help="SQuAD questions used")
    parser.add_argument("--eval", type=int, default=30, help="held-out questions")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--speed-passages", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="tailor-bench-raft-"))
    os.environ["TAILOR_HOME"] = str(home)
    from engine.api import Engine
    from engine.events import run
    from engine.raft import drafting
    from engine.types import (
        AssistantConfig,
        RaftDraft,
        RaftOptions,
        RunOptions,
        Target,
        TrainOptions,
    )

    data = json.loads(DATA.read_text(encoding="utf-8"))["data"][: args.articles]
    folder = home / "squad-articles"
    folder.mkdir()
    questions = []  # (question, answer, context)
    for article in data:
        title = article["title"]
        paragraphs = [p["context"] for p in article["paragraphs"]]
        text = title.replace("_", " ") + "\n\n" + "\n\n".join(paragraphs)
        (folder / f"{title}.txt").write_text(text, encoding="utf-8")
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                questions.append((qa["question"], qa["answers"][0]["text"], title))
    engine = Engine(home)
    engine.first_run()
    model = engine.get_assistant("Default assistant").config.model
    # Chunks of 128 tokens and 2 distractors keep a training example near 600 tokens: what a
    # CPU trains in minutes (the paper's 4 distractors fit the same way on a GPU).
    engine.create_knowledge_base("squad", chunk_tokens=128, chunk_overlap=16)
    engine.add_folders("squad", [folder])
    run(engine.index("squad"))
    chunks = engine.knowledge_base_chunks("squad")
    print(f"{len(data)} articles → {len(chunks)} chunks, {len(questions)} questions", flush=True)
    out: dict = {"articles": len(data), "chunks": len(chunks), "model": model}

    # -- drafting speed: Tailor's builder vs the raw library, same prompts -----------------
    from llama_cpp import Llama

    from engine.synthetic import question_messages

    options = RaftOptions(
        knowledge_base="squad",
        writer=model,
        chunks=args.speed_passages,
        reasoning="writer",
        holdout=0.0,
    )
    engine.create_raft_build("speed", options)
    t0 = time.perf_counter()
    run(engine.draft_raft("speed"))
    tailor_s = (time.perf_counter() - t0) / args.speed_passages
    drafts = engine.raft_drafts("speed")
    loaded = engine.services.generation.load(model)
    raw = Llama(
        model_path=str(loaded.options.path),
        n_ctx=loaded.options.n_ctx,
        n_threads=loaded.options.n_threads,
        verbose=False,
    )
    by_id = {c.id: c for c in chunks}
    picked = json.loads((home / "raft" / "speed" / "build.json").read_text())["chunks"]
    t0 = time.perf_counter()
    for i, cid in enumerate(picked):
        seed = options.seed + i
        reply = raw.create_chat_completion(
            question_messages(by_id[cid].text), temperature=0.7, max_tokens=96, seed=seed * 1000
        )["choices"][0]["message"]["content"]
        q = next((d.question for d in drafts if d.chunk_id == cid and d.question), reply[:80])
        demo, demo_reply = drafting.REASONING_DEMO
        raw.create_chat_completion(
            [
                {"role": "user", "content": demo},
                {"role": "assistant", "content": demo_reply},
                {
                    "role": "user",
                    "content": drafting.REASONING_PROMPT.format(
                        question=q, passage=by_id[cid].text.strip()
                    ),
                },
            ],
            temperature=0.3,
            max_tokens=256,
            seed=seed,
        )
    raw_s = (time.perf_counter() - t0) / len(picked)
    del raw
    kept = sum(1 for d in drafts if not d.problem)
    out["drafting"] = {
        "passages": args.speed_passages,
        "tailor_s_per_passage": tailor_s,
        "raw_s_per_passage": raw_s,
        "ratio": tailor_s / raw_s,
        "writer_drafts": len(drafts),
        "writer_drafts_with_valid_quotes": kept,
    }
    print(json.dumps(out["drafting"]), flush=True)

    # -- quality: SQuAD questions as reviewed drafts --------------------------------------
    rng = random.Random(args.seed)
    rng.shuffle(questions)
    reviewed = []
    for question, answer, title in questions:
        holder = next(
            (c for c in chunks if Path(c.source).stem == title and answer in c.text), None
        )
        reasoning = drafting.extract_reasoning(answer, holder.text) if holder else None
        if reasoning:
            reviewed.append(
                RaftDraft(holder.id, holder.source, question, answer, reasoning, "extract")
            )
        if len(reviewed) == args.questions:
            break
    holdout = args.eval / len(reviewed)
    trained = {}
    for negatives in ("hard", "random"):
        name = f"squad-{negatives}"
        o = RaftOptions(
            knowledge_base="squad",
            writer=model,
            negatives=negatives,
            distractors=2,
            holdout=holdout,
            reasoning="extract",
        )
        engine.create_raft_build(name, o)
        t0 = time.perf_counter()
        last = []  # the last progress: every passage, by the bundled writer
        run(engine.draft_raft(name), last.append)
        drafted = last[-1].detail
        out.setdefault(
            "writer_extract",
            {
                "passages": last[-1].total,
                "kept": drafted.kept,
                "dropped": drafted.dropped,
                "reasons": drafted.reasons,
                "s": time.perf_counter() - t0,
            },
        )
        # The review: the writer's drafts are replaced by SQuAD's human-written questions.
        info = engine.save_raft_build(name, reviewed)
        trained[negatives] = info.result
        print(name, info.result, flush=True)
    out["dataset"] = trained
    train_options = TrainOptions(
        max_steps=args.steps,
        learning_rate=5e-4,
        validation_fraction=0.0,
        save_every=1000,
        max_seq_length=768,
    )
    timings = {}
    for adapter, dataset in (
        ("raft-hard", "squad-hard"),
        ("raft-random", "squad-random"),
        ("plain", "squad-hard (no documents)"),
    ):
        t0 = time.perf_counter()
        job = engine.start_training(adapter, model, dataset, train_options)
        job = run(engine.follow_training(job.id))
        timings[adapter] = time.perf_counter() - t0
        print(adapter, job.status, job.summary(), flush=True)
        if job.status != "done":
            raise SystemExit(f"training {adapter} failed: {job.message}")
    out["training_s"] = timings

    run_id = engine.compare_raft_build(
        "squad-hard", "raft-hard", "plain", (2, 5, 10), max_tokens=96
    )
    # Level 5 with random negatives at k = 5, added to the same run's configurations.
    cfg = AssistantConfig(
        model=model,
        adapter="raft-random",
        knowledge_base="squad",
        retrieval_k=5,
        temperature=0.0,
        max_tokens=96,
    )
    configs = engine.services.evals.configs(run_id)
    targets = [Target.ad_hoc(c["assistant"], c["config"]) for c in configs]
    targets.append(Target.ad_hoc("Level 5 · k=5 · RAFT + RAG, random negatives", cfg))
    engine.delete_eval_run(run_id)
    run_id = engine.create_eval_run(
        "squad-hard (held out)", targets, RunOptions(temperature=0.0, max_tokens=96)
    )
    configs = engine.services.evals.configs(run_id)
    t0 = time.perf_counter()
    run(engine.evaluate(run_id))
    print(f"evaluation run {time.perf_counter() - t0:.0f} s", flush=True)
    board = engine.scoreboard(run_id)
    rows = []
    for b in board:
        cfg = next(c for c in configs if c["label"] == b["label"])["config"]
        row = {
            "label": b["label"],
            "level": b["level"],
            "k": cfg.retrieval_k if cfg.knowledge_base else None,
            "adapter": cfg.adapter,
        }
        for key in ("em", "f1", "contains", "recall", "latency_s", "tokens_in"):
            if key in b["metrics"]:
                cell = b["metrics"][key]
                row[key] = cell["value"]
                if "low" in cell:
                    row[key + "_ci"] = [cell["low"], cell["high"]]
        rows.append(row)
        print(json.dumps(row), flush=True)
    out["scoreboard"] = rows
    # Tailor's Level 5 path vs raw llama-cpp-python with the same adapter and the same
    # messages (retrieval, packing and the RAFT prompt included on Tailor's side), alternated.
    level5 = next(
        c["config"]
        for c in configs
        if c["config"].adapter == "raft-hard" and c["config"].retrieval_k == 5
    )
    loaded = engine.services.generation.load(model, "raft-hard")
    raw = Llama(
        model_path=str(loaded.options.path),
        lora_path=str(loaded.options.lora_path),
        n_ctx=loaded.options.n_ctx,
        n_threads=loaded.options.n_threads,
        verbose=False,
    )
    raw_lat, tailor_lat, same = [], [], 0
    for case in engine.get_eval_set("squad-hard (held out)").cases[:10]:
        t0 = time.perf_counter()
        reply = run(engine.chat(case.input, config=level5, seed=0))
        tailor_lat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        text = raw.create_chat_completion(reply.messages, temperature=0.0, max_tokens=96, seed=0)[
            "choices"
        ][0]["message"]["content"]
        raw_lat.append(time.perf_counter() - t0)
        same += text.strip() == reply.text.strip()
    out["serving"] = {
        "queries": len(tailor_lat),
        "tailor_median_s": statistics.median(tailor_lat),
        "raw_median_s": statistics.median(raw_lat),
        "ratio": statistics.median(tailor_lat) / statistics.median(raw_lat),
        "same_text": same,
    }
    print(json.dumps(out["serving"]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "raft.json").write_text(json.dumps(out, indent=2))
    engine.close()


if __name__ == "__main__":
    main()
