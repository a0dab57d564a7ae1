"""Remote models: an evaluation run of 100 cases against an OpenAI-compatible server on
127.0.0.1, at concurrency 1 and 4. Run with:

    .venv/bin/python bench/remote.py            # --cases 100 --rounds 2 --max-tokens 32

The "remote" is llama-cpp-python's own OpenAI server (``python -m llama_cpp.server``, the dev
extras install it) on the bundled GGUF, added to Tailor as a provider, exactly as a user adds a
vLLM or llama.cpp server. It runs with ``--interrupt_requests False``: by default a new request
cuts off the one being answered (concurrent clients then get empty replies). The cases are
seeded SQuAD questions (``../shared/data/squad``) asked at Level 1 with greedy decoding. Each
round runs, alternated:

- the run through the provider at concurrency 1, then 4 (``tailor providers set --concurrency``);
- the same run on the same GGUF loaded by Tailor itself (no HTTP), for scale.

Reported: wall time of each run, cases/s, median latency per case, answer-contains, and the
token counts the server reported. The one llama.cpp server answers one request at a time, so
concurrency 4 can gain only what overlaps with generation (HTTP, retrieval, scoring, writing).
Results go to bench/results/remote.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1-part-a.json"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))
from serve import _wait_for as wait_for  # noqa: E402  (its sibling: waits for /v1/models)

SYSTEM = "Answer the question with a short phrase, not a sentence."


def squad_cases(count: int, seed: int) -> list[dict]:
    data = json.loads(DATA.read_text(encoding="utf-8"))["data"]
    rows = [
        {"id": qa["id"], "input": qa["question"], "references": [a["text"] for a in qa["answers"]]}
        for article in data
        for p in article["paragraphs"]
        for qa in p["qas"]
    ]
    random.Random(seed).shuffle(rows)
    return rows[:count]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tailor-remote-bench-") as tmp:
        home = Path(tmp) / "workspace"
        os.environ["TAILOR_HOME"] = str(home)
        from engine.api import Engine
        from engine.events import run
        from engine.types import AssistantConfig, RunOptions, Target

        engine = Engine(home)
        engine.first_run()
        settings = engine.settings
        local = engine.get_assistant("Default assistant").config.model
        path = engine.get_model(local).path
        cases_file = Path(tmp) / "cases.jsonl"
        with cases_file.open("w", encoding="utf-8") as f:
            for row in squad_cases(args.cases, args.seed):
                f.write(json.dumps(row) + "\n")
        engine.import_eval_set(cases_file, "SQuAD")

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(path),
             "--model_alias", "smollm2", "--n_ctx", str(settings.context_size),
             "--n_threads", str(settings.threads), "--port", str(port),
             "--interrupt_requests", "False"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/v1"
            wait_for(url)
            engine.add_provider("loopback", url)
            base = AssistantConfig(model=local, system_prompt=SYSTEM)
            engine.create_assistant("Local", base)
            engine.create_assistant("Remote", base.model_copy(update={"model": "loopback/smollm2"}))
            options = RunOptions(max_tokens=args.max_tokens, temperature=0.0)
            kinds = [("remote, 1 at once", "Remote", 1), ("remote, 4 at once", "Remote", 4)]
            kinds.append(("local (same GGUF in Tailor)", "Local", None))
            measured: dict[str, list[dict]] = {k: [] for k, _, _ in kinds}
            for i in range(args.rounds):
                for label, assistant, concurrency in kinds if i % 2 == 0 else kinds[::-1]:
                    if concurrency:
                        engine.update_provider("loopback", concurrency=concurrency)
                    run_id = engine.create_eval_run("SQuAD", [Target(assistant)], options)
                    start = time.perf_counter()
                    record = run(engine.evaluate(run_id))
                    wall = time.perf_counter() - start
                    assert record["status"] == "done", record
                    results = engine.eval_results(run_id)
                    stats = [r["stats"] for r in results]
                    measured[label].append(
                        {
                            "wall_s": wall,
                            "cases": len(results),
                            "errors": sum(1 for s in stats if s.get("error")),
                            "median_latency_s": statistics.median(s["latency_s"] for s in stats),
                            "contains": statistics.mean(
                                r["scores"].get("contains", 0.0) for r in results
                            ),
                            "tokens_in": sum(s["tokens_in"] for s in stats),
                            "tokens_out": sum(s["tokens_out"] for s in stats),
                        }
                    )
                    print(f"round {i + 1} {label}: {wall:.1f} s", flush=True)
        finally:
            server.terminate()
            server.wait(30)
            engine.close()

    summary = {}
    for label, rounds in measured.items():
        wall = statistics.median(r["wall_s"] for r in rounds)
        summary[label] = {
            "wall_s": wall,
            "cases_per_s": rounds[0]["cases"] / wall,
            "median_latency_s": statistics.median(r["median_latency_s"] for r in rounds),
            "contains": rounds[0]["contains"],
            "errors": max(r["errors"] for r in rounds),
            "tokens_in": rounds[0]["tokens_in"],
            "tokens_out": rounds[0]["tokens_out"],
        }
    one = summary["remote, 1 at once"]["wall_s"]
    result = {
        "cases": args.cases,
        "rounds": args.rounds,
        "max_tokens": args.max_tokens,
        "server": "llama_cpp.server on the bundled GGUF, 127.0.0.1",
        "threads": settings.threads,
        "cpu_count": os.cpu_count(),
        "runs": summary,
        "rounds_measured": measured,
        "speedup_4_vs_1": one / summary["remote, 4 at once"]["wall_s"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "remote.json").write_text(json.dumps(result, indent=2))
    print(f"\n{args.cases} SQuAD cases at Level 1, {args.rounds} alternated rounds (medians)\n")
    print("| run | wall | cases/s | median latency | contains | tokens in / out | errors |")
    print("|---|---|---|---|---|---|---|")
    for label, s in summary.items():
        print(
            f"| {label} | {s['wall_s']:.1f} s | {s['cases_per_s']:.2f} | "
            f"{s['median_latency_s'] * 1000:.0f} ms | {s['contains']:.2f} | "
            f"{s['tokens_in']} / {s['tokens_out']} | {s['errors']} |"
        )
    print(f"\nconcurrency 4 vs 1: {result['speedup_4_vs_1']:.2f}× faster")


if __name__ == "__main__":
    main()
