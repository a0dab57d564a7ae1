"""LanceDB tables holding one knowledge-base index each: chunks, vectors, full-text index."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Below this many chunks exact (flat) search is fast enough and perfectly accurate. Measured
# here (bench/knowledge.py): flat hybrid top-10 p50 14 ms at 5k rows, 244 ms at 100k (about
# 2.4 ms per 1,000 rows), so it passes 50 ms near 20k; IVF-HNSW-SQ at 100k: 30 ms, recall 1.0.
ANN_MIN_ROWS = 20_000


@dataclass
class Hit:
    id: str
    source: str
    text: str
    page: int | None
    heading: str | None
    start: int
    end: int
    score: float  # fused (RRF) relevance, higher is better
    similarity: float  # cosine similarity of the chunk to the query, -1..1

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def sql_string(value: str) -> str:
    """``value`` as a string literal in a LanceDB filter."""
    return "'" + value.replace("'", "''") + "'"


class ChunkTable:
    """One LanceDB table: ``id, source, folder, file_type, page, heading, start, end, text,
    vector``."""

    def __init__(self, folder: Path, name: str, dim: int):
        import lancedb

        self.db = lancedb.connect(str(folder))
        self.name = name
        self.dim = dim
        self._table = None

    def _schema(self):
        import pyarrow as pa

        return pa.schema(
            [
                pa.field("id", pa.string()),
                pa.field("source", pa.string()),
                pa.field("folder", pa.string()),
                pa.field("file_type", pa.string()),
                pa.field("page", pa.int32()),
                pa.field("heading", pa.string()),
                pa.field("start", pa.int64()),
                pa.field("end", pa.int64()),
                pa.field("text", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), self.dim)),
            ]
        )

    @property
    def table(self):
        if self._table is None:
            self._table = self.db.create_table(self.name, schema=self._schema(), exist_ok=True)
        return self._table

    def count(self) -> int:
        return self.table.count_rows()

    def replace_sources(self, sources: list[str], rows: list[dict]) -> None:
        """Remove every chunk of ``sources``, then add ``rows``: re-running it for the same
        files gives the same table, which is what makes an interrupted run safe to resume."""
        if sources:
            for i in range(0, len(sources), 500):
                part = ", ".join(sql_string(s) for s in sources[i : i + 500])
                self.table.delete(f"source IN ({part})")
        if rows:
            self.table.add(rows)

    def delete_sources(self, sources: list[str]) -> None:
        self.replace_sources(sources, [])

    def ids(self) -> list[str]:
        return sorted(self.table.to_arrow().column("id").to_pylist()) if self.count() else []

    def finish(self) -> None:
        """After a run: compact, refresh the full-text index, build an ANN index if it pays."""
        from lancedb.index import FTS

        table = self.table
        if not table.count_rows():
            return
        indices = {i.index_type for i in table.list_indices()}
        if "FTS" not in indices:
            table.create_index("text", config=FTS(with_position=False))
        rows = table.count_rows()
        if rows >= ANN_MIN_ROWS and not any(k.upper().startswith("IVF") for k in indices):
            from lancedb.index import IvfHnswSq

            table.create_index(
                "vector",
                config=IvfHnswSq(
                    distance_type="cosine", num_partitions=max(4, int(rows**0.5) // 4)
                ),
            )
            self.ann_settings = self._tune_ann()
        table.optimize()

    # Query settings tried in order; the first whose recall@10 against exact search reaches
    # the target is kept. A refine step re-ranks candidates with exact distances.
    ANN_CANDIDATES = ({"nprobes": 20}, {"nprobes": 40, "refine_factor": 10},
                      {"nprobes": 80, "refine_factor": 30})  # fmt: skip
    RECALL_TARGET = 0.95

    @property
    def _ann_file(self) -> Path:
        return Path(self.db.uri) / f"{self.name}.ann.json"

    @property
    def ann_settings(self) -> dict:
        """How the vector index is queried (empty: exact search)."""
        try:
            return json.loads(self._ann_file.read_text())
        except (OSError, ValueError):
            return {}

    @ann_settings.setter
    def ann_settings(self, value: dict) -> None:
        self._ann_file.write_text(json.dumps(value))

    def _tune_ann(self, samples: int = 40) -> dict:
        """Measure the index's recall@10 against exact search on stored vectors as queries."""
        table = self.table
        sample = table.search().select(["vector"]).limit(samples * 50).to_arrow()
        vectors = np.stack(sample.column("vector").to_numpy(zero_copy_only=False))
        rng = np.random.default_rng(0)
        queries = vectors[rng.choice(len(vectors), min(samples, len(vectors)), replace=False)]
        exact = [
            {r["id"] for r in table.search(q).distance_type("cosine").bypass_vector_index()
             .select(["id"]).limit(10).to_list()}
            for q in queries
        ]  # fmt: skip
        for settings in self.ANN_CANDIDATES:
            found = 0
            for q, truth in zip(queries, exact, strict=True):
                s = table.search(q).distance_type("cosine").select(["id"]).limit(10)
                s = s.nprobes(settings["nprobes"])
                if "refine_factor" in settings:
                    s = s.refine_factor(settings["refine_factor"])
                found += len(truth & {r["id"] for r in s.to_list()})
            recall = found / (10 * len(queries))
            if recall >= self.RECALL_TARGET:
                return settings | {"recall@10": recall}
        return {"exact": True, "recall@10": 1.0}

    def search(
        self,
        query_vector: np.ndarray,
        query_text: str,
        k: int = 5,
        where: str | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """Top ``k`` chunks: ``hybrid`` fuses vector and full-text ranks with RRF."""
        from lancedb.rerankers import RRFReranker

        table = self.table
        if not table.count_rows():
            return []
        ann = self.ann_settings if mode != "fts" else {}
        if mode == "vector":
            q = table.search(query_vector).distance_type("cosine")
        elif mode == "fts":
            q = table.search(_fts_safe(query_text), query_type="fts")
        else:
            q = (
                table.search(query_type="hybrid")
                .vector(query_vector)
                .text(_fts_safe(query_text))
                .distance_type("cosine")
                .rerank(RRFReranker(return_score="all"))
            )
        if ann.get("exact"):
            q = q.bypass_vector_index()
        elif ann:
            q = q.nprobes(ann["nprobes"])
            if "refine_factor" in ann:
                q = q.refine_factor(ann["refine_factor"])
        if where:
            q = q.where(where, prefilter=True)
        rows = q.limit(k).to_list()
        hits = []
        for r in rows:
            vec = np.asarray(r["vector"], dtype=np.float32)
            similarity = float(vec @ query_vector)
            if mode == "hybrid":
                score = r["_relevance_score"]
            elif mode == "fts":
                score = r["_score"]
            else:
                score = 1 - r["_distance"]
            hits.append(
                Hit(
                    id=r["id"],
                    source=r["source"],
                    text=r["text"],
                    page=r["page"],
                    heading=r["heading"],
                    start=r["start"],
                    end=r["end"],
                    score=float(score),
                    similarity=similarity,
                )
            )
        return hits

    def drop(self) -> None:
        self.db.drop_table(self.name, ignore_missing=True)
        self._table = None


def _fts_safe(text: str) -> str:
    """Full-text query text without the characters its query parser treats as syntax."""
    return " ".join("".join(c if c.isalnum() else " " for c in text).split()) or "empty"
