"""Serving: `tailor serve` against llama.cpp on the same GGUF, prompt and settings. Run with:

    .venv/bin/python bench/serve.py            # --rounds 8 --max-tokens 64 --clients 4

The reference is llama-cpp-python's own OpenAI server (``python -m llama_cpp.server``, with
``--interrupt_requests False`` so that concurrent clients each get their whole reply) when its
extra packages are installed (the dev extras install them); otherwise a raw
``Llama.create_chat_completion`` loop in this process (no HTTP at all, so every cost of
serving counts against Tailor). Each round asks both, alternated, the same question with the
same seed at temperature 0:

- decode tokens/s as the client sees it (tokens after the first / time from first to last), and
  the median of the per-round ratios (target ≥ 0.95);
- time to first token, and the median of the per-round differences (target < 20 ms);
- 4 clients at once (each asking ``--requests`` times): aggregate completion tokens/s and p95
  latency side by side (the raw loop serves them one at a time behind a lock, as llama.cpp
  must).

Results go to bench/results/serve.json.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
RESULTS = ROOT / "bench" / "results"
TAILOR = str(Path(sys.executable).parent / "tailor")
MODEL = "smollm2-135m-instruct"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Explain in a few sentences how a bicycle works."},
]


def stream_http(url: str, model: str, max_tokens: int, seed: int) -> dict:
    """One streamed chat completion over HTTP: time to first token, decode rate, latency."""
    body = {
        "model": model,
        "messages": MESSAGES,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "seed": seed,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    first = last = None
    pieces = 0
    usage = None
    with _client().stream("POST", f"{url}/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                last = time.perf_counter()
                first = first or last
                pieces += 1
    end = time.perf_counter()
    tokens = usage["completion_tokens"] if usage else pieces
    return _figures(start, first, last, end, tokens)


_clients: dict = {}


def _client():
    """One HTTP client, keeping its connections open, as the openai package's client does."""
    import httpx

    if "http" not in _clients:
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        _clients["http"] = httpx.Client(timeout=300, limits=limits)
    return _clients["http"]


def stream_raw(llama, lock: threading.Lock, max_tokens: int, seed: int) -> dict:
    """The same request straight to llama.cpp (waiting for the lock counts as latency)."""
    start = time.perf_counter()
    with lock:
        first = last = None
        pieces = 0
        for chunk in llama.create_chat_completion(
            MESSAGES, max_tokens=max_tokens, temperature=0.0, seed=seed, stream=True
        ):
            if chunk["choices"][0]["delta"].get("content"):
                last = time.perf_counter()
                first = first or last
                pieces += 1
    end = time.perf_counter()
    return _figures(start, first, last, end, pieces)


def _figures(start, first, last, end, tokens) -> dict:
    first = first or end
    last = last or end
    return {
        "ttft_s": first - start,
        "latency_s": end - start,
        "tokens": tokens,
        "tokens_per_s": (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0,
    }


def start_tailor(home: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, TAILOR_HOME=str(home))
    process = subprocess.Popen(
        [TAILOR, "serve", "--port", "0", "--queue", "16"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    url = ""
    for line in process.stdout:
        if "/v1" in line and not url:
            url = line.split()[-1]
        if line.startswith("Press Ctrl-C"):
            return process, url
    raise RuntimeError("tailor serve did not start")


def concurrent(ask, clients: int, requests: int) -> dict:
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda i: ask(i), range(clients * requests)))
    wall = time.perf_counter() - start
    latencies = sorted(r["latency_s"] for r in results)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return {
        "aggregate_tokens_per_s": sum(r["tokens"] for r in results) / wall,
        "p95_latency_s": p95,
        "requests": len(results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2, help="per client")
    parser.add_argument(
        "--threads", type=int, help="CPU threads for both (default: Tailor's setting)"
    )
    args = parser.parse_args()

    import llama_cpp

    from engine.api import Engine

    with tempfile.TemporaryDirectory(prefix="tailor-serve-bench-") as tmp:
        home = Path(tmp) / "workspace"
        engine = Engine(home)
        engine.first_run()
        if args.threads:
            engine.save_settings(threads=args.threads)
        settings = engine.settings
        path = engine.get_model(MODEL).path
        engine.close()

        has_server = all(
            importlib.util.find_spec(m)
            for m in ("sse_starlette", "starlette_context", "pydantic_settings")
        )
        reference = "llama_cpp.server" if has_server else "raw create_chat_completion loop"
        process, url = start_tailor(home)
        ref_process = None
        try:
            lock = threading.Lock()
            llama = None
            if has_server:
                ref_process = subprocess.Popen(
                    [sys.executable, "-m", "llama_cpp.server", "--model", str(path),
                     "--n_ctx", str(settings.context_size), "--n_threads", str(settings.threads),
                     "--port", "8765", "--interrupt_requests", "False"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                ref_url = "http://127.0.0.1:8765/v1"
                _wait_for(ref_url)

                def ask_ref(seed):
                    return stream_http(ref_url, str(path), args.max_tokens, seed)
            else:
                llama = llama_cpp.Llama(
                    str(path),
                    n_ctx=settings.context_size,
                    n_threads=settings.threads,
                    verbose=False,
                )

                def ask_ref(seed):
                    return stream_raw(llama, lock, args.max_tokens, seed)

            def ask_tailor(seed):
                return stream_http(url, MODEL, args.max_tokens, seed)

            ask_tailor(0), ask_ref(0)  # warm both
            rounds = []
            for i in range(args.rounds):
                pair = [("tailor", ask_tailor), ("reference", ask_ref)]
                if i % 2:
                    pair.reverse()
                rounds.append({name: ask(i) for name, ask in pair})
            ratio = statistics.median(
                r["tailor"]["tokens_per_s"] / r["reference"]["tokens_per_s"] for r in rounds
            )
            ttft_over = statistics.median(
                r["tailor"]["ttft_s"] - r["reference"]["ttft_s"] for r in rounds
            )
            together = {
                "tailor": concurrent(ask_tailor, args.clients, args.requests),
                "reference": concurrent(ask_ref, args.clients, args.requests),
            }
        finally:
            process.terminate()
            process.wait(30)
            if ref_process is not None:
                ref_process.terminate()
                ref_process.wait(30)

    def med(name, key):
        return statistics.median(r[name][key] for r in rounds)

    result = {
        "reference": reference,
        "rounds": args.rounds,
        "max_tokens": args.max_tokens,
        "tokens": [r["tailor"]["tokens"] for r in rounds],
        "tokens_per_s": {k: med(k, "tokens_per_s") for k in ("tailor", "reference")},
        "ttft_s": {k: med(k, "ttft_s") for k in ("tailor", "reference")},
        "ratio_tokens_per_s": ratio,
        "ttft_overhead_ms": ttft_over * 1000,
        "concurrent": together,
        "clients": args.clients,
        "cpu_count": os.cpu_count(),
        "threads": settings.threads,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(result, indent=2))
    t, r = together["tailor"], together["reference"]
    print(
        f"Reference: {reference}; {args.rounds} alternated rounds, {args.max_tokens} tokens "
        f"max, {settings.threads} threads\n"
    )
    print("| | tailor serve | reference | ratio / difference | target |")
    print("|---|---|---|---|---|")
    print(
        f"| decode tokens/s (median) | {result['tokens_per_s']['tailor']:.1f} | "
        f"{result['tokens_per_s']['reference']:.1f} | {ratio:.3f} | ≥ 0.95 |"
    )
    print(
        f"| time to first token (median) | {result['ttft_s']['tailor'] * 1000:.1f} ms | "
        f"{result['ttft_s']['reference'] * 1000:.1f} ms | {ttft_over * 1000:+.1f} ms | < 20 ms |"
    )
    print(
        f"| {args.clients} clients: aggregate tokens/s | {t['aggregate_tokens_per_s']:.1f} | "
        f"{r['aggregate_tokens_per_s']:.1f} | "
        f"{t['aggregate_tokens_per_s'] / r['aggregate_tokens_per_s']:.3f} | |"
    )
    print(
        f"| {args.clients} clients: p95 latency | {t['p95_latency_s']:.2f} s | "
        f"{r['p95_latency_s']:.2f} s | {t['p95_latency_s'] / r['p95_latency_s']:.3f} | |"
    )


def _wait_for(url: str, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not start")


if __name__ == "__main__":
    main()
