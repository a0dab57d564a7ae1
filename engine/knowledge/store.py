"""LanceDB tables holding one knowledge-base index each: chunks, vectors, full-text index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Below this many chunks exact (flat) vector search is fast enough and perfectly accurate;
# above it an IVF index pays (bench/knowledge.py measures both, with recall).
ANN_MIN_ROWS = 100_000


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


def _quote(value: str) -> str:
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
                part = ", ".join(_quote(s) for s in sources[i : i + 500])
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
        if rows >= ANN_MIN_ROWS and not indices & {"IVF_PQ", "IVF_HNSW_SQ", "IVF_FLAT"}:
            from lancedb.index import IvfPq

            partitions = max(16, int(rows**0.5))
            table.create_index(
                "vector",
                config=IvfPq(
                    distance_type="cosine",
                    num_partitions=partitions,
                    num_sub_vectors=self.dim // 8,
                ),
            )
        table.optimize()

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
