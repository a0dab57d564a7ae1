"""Tailor's benchmarks. Run all of them with:

    .venv/bin/python bench/run.py            (or: ./tailor-bench)

Each compares Tailor with the raw library doing the same work in the same run, interleaved, and
reports medians and ratios (these machines are noisy). Results go to bench/results/*.json and a
Markdown table on stdout.

1. generation: tokens/s through Tailor's engine vs raw llama-cpp-python, same GGUF and settings.
2. launch: time from starting `tailor` to the main window shown, before any model loads.
3. memory: resident memory of the idle app, before and after the bundled model loads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."


def bench_generation(reps: int, max_tokens: int) -> dict:
    import llama_cpp

    from engine.api import Engine
    from engine.models.runtime import Reply, SamplingParams

    home = Path(tempfile.mkdtemp(prefix="tailor-bench-"))
    engine = Engine(home)
    engine.first_run()
    model = engine.get_model("smollm2-135m-instruct")
    loaded = engine.services.generation.load(model.name)  # the raw loaded model, timed
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": PROMPT},
    ]
    prompt, stop = loaded.render(messages)
    o = loaded.options
    raw = llama_cpp.Llama(
        model_path=str(o.path),
        n_ctx=o.n_ctx,
        n_threads=o.n_threads,
        n_gpu_layers=o.n_gpu_layers,
        verbose=False,
    )
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=1)

    def run_tailor():
        start = time.perf_counter()
        for event in loaded.stream(messages, params):
            if isinstance(event, Reply):
                reply = event
        return time.perf_counter() - start, reply.text

    def run_raw():
        start = time.perf_counter()
        text = ""
        for chunk in raw.create_completion(
            prompt,
            max_tokens=max_tokens,
            temperature=0.0,
            top_p=1.0,
            stop=stop,
            seed=1,
            stream=True,
        ):
            text += chunk["choices"][0]["text"]
        return time.perf_counter() - start, text

    run_tailor(), run_raw()  # warm-up
    tailor_s, raw_s = [], []
    for _ in range(reps):
        t, t_text = run_tailor()
        r, r_text = run_raw()
        tailor_s.append(t)
        raw_s.append(r)
    tokens = loaded.count_tokens(t_text)
    same = t_text == r_text
    engine.close()
    result = {
        "tokens_per_reply": tokens,
        "same_text": same,
        "tailor_tokens_per_s_median": tokens / statistics.median(tailor_s),
        "raw_tokens_per_s_median": tokens / statistics.median(raw_s),
        "ratio_tailor_over_raw": statistics.median(raw_s) / statistics.median(tailor_s),
        "reps": reps,
        "threads": o.n_threads,
    }
    return result


def bench_launch(reps: int) -> dict:
    tailor = Path(sys.executable).parent / "tailor"
    shown, idle, model = [], [], []
    for _ in range(reps):
        home = tempfile.mkdtemp(prefix="tailor-bench-")
        env = dict(
            os.environ, TAILOR_HOME=home, TAILOR_REPORT_STARTUP="1", QT_QPA_PLATFORM="offscreen"
        )
        start = time.perf_counter()
        proc = subprocess.Popen([str(tailor)], stdout=subprocess.PIPE, text=True, env=env)
        values = {}
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if key == "window_shown_s":
                values["shown"] = time.perf_counter() - start
            elif key in ("rss_idle_mb", "rss_model_mb"):
                values[key] = float(value)
        proc.wait(timeout=120)
        shown.append(values["shown"])
        idle.append(values["rss_idle_mb"])
        model.append(values["rss_model_mb"])
    # The first start registers the bundled model in a new workspace; a later start does not.
    return {
        "launch_to_window_s_median": statistics.median(shown),
        "launch_to_window_s_all": shown,
        "rss_idle_mb_median": statistics.median(idle),
        "rss_with_model_mb_median": statistics.median(model),
        "reps": reps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("only", nargs="*", help="generation and/or launch (default: both)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    todo = args.only or ["generation", "launch"]
    results = {}
    if "generation" in todo:
        results["generation"] = bench_generation(args.reps, args.max_tokens)
    if "launch" in todo:
        results["launch"] = bench_launch(args.reps)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"foundation-{stamp}.json").write_text(json.dumps(results, indent=2))
    print("| benchmark | Tailor | raw library | ratio |")
    print("|---|---|---|---|")
    if g := results.get("generation"):
        print(
            f"| generation, {g['tokens_per_reply']} tokens (median of {g['reps']}) | "
            f"{g['tailor_tokens_per_s_median']:.1f} tok/s | {g['raw_tokens_per_s_median']:.1f} "
            f"tok/s | {g['ratio_tailor_over_raw']:.3f} |"
        )
    if la := results.get("launch"):
        print(
            f"| launch to window shown (median of {la['reps']}) | "
            f"{la['launch_to_window_s_median']:.2f} s | | |"
        )
        print(f"| resident memory, idle app | {la['rss_idle_mb_median']:.0f} MB | | |")
        loaded = la["rss_with_model_mb_median"]
        print(f"| resident memory, bundled model loaded | {loaded:.0f} MB | | |")


if __name__ == "__main__":
    main()
