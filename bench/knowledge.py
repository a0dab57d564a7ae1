"""Knowledge-base benchmarks (issue: Level 3). Run:

    .venv/bin/python bench/knowledge.py                 # quality + indexing speed + latency
    .venv/bin/python bench/knowledge.py --sizes 5000 100000 1000000

1. Quality, SciFact as a user would: each abstract written to ``<_id>.txt`` (title, blank line,
   text), indexed through Tailor's real ingestion path, the 809 training claims searched, and
   nDCG@10, recall@100 and MRR scored at document level (a document ranks where its best chunk
   ranks) against qrels/train.tsv — for hybrid, vector-only and full-text-only retrieval.
2. Indexing speed: the whole folder end to end (Tailor's embedder: ONNX Runtime int8), against
   plain sentence-transformers (torch) ``encode`` of the same texts, batch 64, in the same run,
   and of exactly Tailor's chunks; the tokens each side embedded; then re-indexing the unchanged
   folder. The "before" quality is Tailor's index on the torch backend (the embedder before
   ONNX); ``--before`` also times that index run.
3. Search latency p50 for hybrid top-10 at several table sizes (synthetic vectors and text
   beyond SciFact's size), flat vs an IVF-PQ index, with the index's recall@10 against exact.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "scifact"
RESULTS = ROOT / "bench" / "results"


def write_folder(folder: Path, limit: int | None) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    texts = []
    with (DATA / "corpus.jsonl").open() as f:
        for n, line in enumerate(f):
            if limit and n >= limit:
                break
            doc = json.loads(line)
            text = f"{doc['title']}\n\n{doc['text']}"
            (folder / f"{doc['_id']}.txt").write_text(text, encoding="utf-8")
            texts.append(text)
    return texts


def qrels() -> dict[str, set[str]]:
    rel: dict[str, set[str]] = {}
    for line in (DATA / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        q, d, score = line.split("\t")
        if int(score) > 0:
            rel.setdefault(q, set()).add(d)
    return rel


def score(ranked: list[str], relevant: set[str]) -> tuple[float, float, float]:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    recall = len(set(ranked[:100]) & relevant) / len(relevant)
    mrr = next((1 / (i + 1) for i, d in enumerate(ranked) if d in relevant), 0.0)
    return dcg / ideal, recall, mrr


def quality(engine, kb: str, mode: str) -> dict:
    rel = qrels()
    queries = [json.loads(x) for x in (DATA / "queries.jsonl").read_text().splitlines()]
    queries = [q for q in queries if q["_id"] in rel]
    totals = np.zeros(3)
    latencies = []
    for q in queries:
        start = time.perf_counter()
        hits = engine.search(kb, q["text"], k=200, mode=mode)
        latencies.append(time.perf_counter() - start)
        docs = []
        for h in hits:  # a document ranks where its best chunk ranks
            d = Path(h.source).stem
            if d not in docs:
                docs.append(d)
        totals += score(docs, rel[q["_id"]])
    n = len(queries)
    return {
        "queries": n,
        "ndcg@10": totals[0] / n,
        "recall@100": totals[1] / n,
        "mrr": totals[2] / n,
        "search_p50_ms": statistics.median(latencies) * 1000,
    }


def torch_model():
    """The raw library: sentence-transformers on torch, the bundled folder, nothing of Tailor's."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from engine import bundled

    model = SentenceTransformer(
        str(bundled.default_embedder_path()), device="cpu", local_files_only=True
    )
    model.encode(["warm-up"])
    return model


def model_tokens(texts: list[str]) -> int:
    """Tokens the embedder reads of ``texts``: special tokens included, each text cut at the
    model's 256 as sentence-transformers cuts it."""
    from tokenizers import Tokenizer

    from engine import bundled

    tokenizer = Tokenizer.from_file(str(bundled.default_embedder_path() / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.no_padding()
    return sum(len(e.ids) for e in tokenizer.encode_batch([t.strip() for t in texts]))


def index_timed(engine, kb: str) -> tuple[object, float, float]:
    """Index ``kb``; the run's stats, its seconds, and the seconds spent in the embedder."""
    from engine.api import run

    embedder = engine.services.embedder
    spent = [0.0]
    encode = embedder.encode

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return encode(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    embedder.encode = timed
    try:
        start = time.perf_counter()
        stats = run(engine.index(kb))
        return stats, time.perf_counter() - start, spent[0]
    finally:
        del embedder.encode


def bench_scifact(limit: int | None, chunk_tokens: int, overlap: int, before: bool) -> dict:
    """In one run: raw sentence-transformers (torch) encode of the texts, Tailor's index
    (its default embedder: ONNX Runtime int8), raw torch encode of exactly Tailor's chunks, and
    Tailor's index on the torch backend (the embedder before ONNX), whose search quality is the
    "before" figure (timed with ``before``)."""
    import os

    from engine.api import Engine, run

    work = Path(tempfile.mkdtemp(prefix="tailor-kb-bench-"))
    folder = work / "scifact"
    texts = write_folder(folder, limit)
    engine = Engine(work / "home")
    engine.first_run()
    embedder = engine.services.embedder
    embedder.encode(["warm-up"])  # both sides start with the model loaded
    raw = torch_model()

    # Raw library: encode the same documents' texts, same model, batch 64.
    start = time.perf_counter()
    raw.encode(texts, batch_size=64, normalize_embeddings=True)
    raw_s = time.perf_counter() - start

    engine.create_knowledge_base("scifact", chunk_tokens=chunk_tokens, chunk_overlap=overlap)
    engine.add_folders("scifact", [folder])
    stats, tailor_s, embed_s = index_timed(engine, "scifact")
    chunks = [h.text for h in engine.services.knowledge.chunks("scifact")]

    # Raw library again, on exactly the chunks Tailor embedded.
    start = time.perf_counter()
    raw_vectors = raw.encode(chunks, batch_size=64, normalize_embeddings=True)
    raw_chunks_s = time.perf_counter() - start

    start = time.perf_counter()
    run(engine.index("scifact"))
    reindex_s = time.perf_counter() - start
    result = {
        "documents": len(texts),
        "chunks": stats.chunks,
        "chunk_tokens": chunk_tokens,
        "chunk_overlap": overlap,
        "embedder_backend": embedder.backend,
        "tokens_raw_texts": model_tokens(texts),
        "tokens_tailor_chunks": model_tokens(chunks),
        "index_s": tailor_s,
        "index_embed_s": embed_s,
        "index_other_s": tailor_s - embed_s,
        "raw_encode_s": raw_s,
        "ratio_index_over_raw_encode": tailor_s / raw_s,
        "raw_encode_chunks_s": raw_chunks_s,
        "ratio_index_over_raw_encode_of_chunks": tailor_s / raw_chunks_s,
        "reindex_unchanged_s": reindex_s,
    }
    for mode in ("hybrid", "vector", "fts"):
        result[mode] = quality(engine, "scifact", mode)
    engine.close()
    # Before: Tailor on the torch backend (the embedder before ONNX). Without --before its
    # chunks' vectors are the raw torch encode's just made (same texts, same model), stored
    # through Tailor's path, and its queries are embedded by torch; with it, the index is built
    # by torch again and timed.
    os.environ["TAILOR_EMBEDDER_BACKEND"] = "torch"
    try:
        old = Engine(work / "home-torch")
    finally:
        del os.environ["TAILOR_EMBEDDER_BACKEND"]
    old.first_run()
    old.services.embedder.encode(["warm-up"])
    old.create_knowledge_base("scifact", chunk_tokens=chunk_tokens, chunk_overlap=overlap)
    old.add_folders("scifact", [folder])
    if not before:
        known = dict(zip(chunks, raw_vectors, strict=True))
        torch_encode = old.services.embedder.encode
        old.services.embedder.encode = lambda texts, batch_size=32: (
            np.stack([known[t] for t in texts])
            if all(t in known for t in texts)
            else torch_encode(texts, batch_size)
        )
    _stats, old_s, old_embed_s = index_timed(old, "scifact")
    old.services.embedder.__dict__.pop("encode", None)
    result["before"] = {"embedder_backend": old.services.embedder.backend}
    if before:
        result["before"] |= {
            "index_s": old_s,
            "index_embed_s": old_embed_s,
            "index_other_s": old_s - old_embed_s,
            "ratio_index_over_raw_encode": old_s / raw_s,
        }
    for mode in ("hybrid", "vector", "fts"):
        result["before"][mode] = quality(old, "scifact", mode)
    old.close()
    return result


def bench_latency(sizes: list[int], dim: int = 384, queries: int = 30) -> dict:
    import lancedb

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(5000)]
    out = {}
    db = lancedb.connect(tempfile.mkdtemp(prefix="tailor-lat-"))
    for size in sizes:
        row = _one_size(db, size, dim, queries, rng, words)
        out[str(size)] = row
        print(size, row, flush=True)
        db.drop_table(f"t{size}")
    return out


def _one_size(db, size: int, dim: int, queries: int, rng, words) -> dict:
    import pyarrow as pa
    from lancedb.index import FTS, IvfHnswSq
    from lancedb.rerankers import RRFReranker

    # Embeddings of real text cluster by topic; uniform random vectors (no neighbours closer
    # than any other) are the worst case for any ANN index and unlike real data. Synthetic
    # vectors here are topic clusters plus noise.
    centroids = rng.standard_normal((max(size // 50, 10), dim), dtype=np.float32)
    vectors = centroids[rng.integers(0, len(centroids), size)]
    vectors += (
        0.6
        * rng.standard_normal((size, dim), dtype=np.float32)
        / np.sqrt(dim)
        * np.sqrt(dim)
        * 0.15
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    def batches():
        for i in range(0, size, 50_000):
            j = min(size, i + 50_000)
            text = [" ".join(rng.choice(words, 30)) for _ in range(j - i)]
            yield pa.record_batch(
                [
                    pa.array([str(k) for k in range(i, j)]),
                    pa.array(text),
                    pa.FixedSizeListArray.from_arrays(pa.array(vectors[i:j].ravel()), dim),
                ],
                names=["id", "text", "vector"],
            )

    schema = pa.schema(
        [("id", pa.string()), ("text", pa.string()), ("vector", pa.list_(pa.float32(), dim))]
    )
    t = db.create_table(f"t{size}", data=batches(), schema=schema, mode="overwrite")
    t.create_index("text", config=FTS(with_position=False))
    qs = vectors[rng.choice(size, queries, replace=False)] + 0.05 * rng.standard_normal(
        (queries, dim), dtype=np.float32
    )
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    qtext = [" ".join(rng.choice(words, 5)) for _ in range(queries)]

    def hybrid(q, text, exact=False):
        s = (
            t.search(query_type="hybrid")
            .vector(q)
            .text(text)
            .distance_type("cosine")
            .rerank(RRFReranker())
            .limit(10)
        )
        if exact:
            s = s.bypass_vector_index()
        return s.to_list()

    def vector(q, exact=False):
        s = t.search(q).distance_type("cosine").limit(10)
        if exact:
            s = s.bypass_vector_index()
        return [r["id"] for r in s.to_list()]

    def timed(fn):
        fn(0)
        ts = []
        for i in range(queries):
            start = time.perf_counter()
            fn(i)
            ts.append(time.perf_counter() - start)
        return statistics.median(ts) * 1000

    row = {"flat_hybrid_p50_ms": timed(lambda i: hybrid(qs[i], qtext[i], exact=True))}
    if size >= 10_000:
        start = time.perf_counter()
        t.create_index(
            "vector",
            config=IvfHnswSq(distance_type="cosine", num_partitions=max(1, int(size**0.5) // 4)),
        )
        row["ann_build_s"] = time.perf_counter() - start
        row["ann_hybrid_p50_ms"] = timed(lambda i: hybrid(qs[i], qtext[i]))
        recall = []
        for i in range(queries):
            exact = set(vector(qs[i], exact=True))
            recall.append(len(exact & set(vector(qs[i]))) / 10)
        row["ann_vector_recall@10_default"] = statistics.mean(recall)
        # A refine step re-ranks candidates with exact distances: the recall knob.
        recall = []
        for i in range(queries):
            exact = set(vector(qs[i], exact=True))
            got = t.search(qs[i]).distance_type("cosine").nprobes(40).refine_factor(10)
            recall.append(len(exact & {r["id"] for r in got.limit(10).to_list()}) / 10)
        row["ann_vector_recall@10_refined"] = statistics.mean(recall)
        row["ann_refined_hybrid_p50_ms"] = timed(
            lambda i: (
                t.search(query_type="hybrid")
                .vector(qs[i])
                .text(qtext[i])
                .distance_type("cosine")
                .nprobes(40)
                .refine_factor(10)
                .rerank(RRFReranker())
                .limit(10)
                .to_list()
            )
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="index only the first N SciFact documents")
    parser.add_argument("--chunk-tokens", type=int, default=256)
    parser.add_argument("--chunk-overlap", type=int, default=32)
    parser.add_argument("--sizes", type=int, nargs="*", default=[5_000, 100_000])
    parser.add_argument("--skip-scifact", action="store_true")
    parser.add_argument(
        "--before",
        action="store_true",
        help="time the torch backend's own index too (else it reuses the raw encode's vectors)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {}
    if not args.skip_scifact:
        results["scifact"] = bench_scifact(
            args.limit, args.chunk_tokens, args.chunk_overlap, args.before
        )
        print(json.dumps(results["scifact"], indent=2), flush=True)
    if args.sizes:
        results["latency"] = bench_latency(args.sizes)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"knowledge-{stamp}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
