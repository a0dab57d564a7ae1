"""The LanceDB store on its own: hybrid search, and the automatic ANN index with its recall
checked against exact search (a small table, with the size threshold lowered)."""

import numpy as np

from engine.knowledge import store
from engine.knowledge.store import ChunkTable


def rows(n, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    return [
        {
            "id": f"c{i}",
            "source": f"/docs/f{i % 50}.txt",
            "folder": "/docs",
            "file_type": "txt",
            "page": None,
            "heading": None,
            "start": 0,
            "end": 10,
            "text": " ".join(rng.choice(words, 6)) + f" item{i}",
            "vector": v,
        }
        for i, v in enumerate(vectors)
    ], vectors


def test_ann_index_is_built_past_the_threshold_and_keeps_recall(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "ANN_MIN_ROWS", 3000)
    data, vectors = rows(4000)
    table = ChunkTable(tmp_path, "t", 32)
    table.replace_sources([], data)
    table.finish()
    kinds = {i.index_type for i in table.table.list_indices()}
    assert kinds == {"FTS", "IvfHnswSq"}
    settings = table.ann_settings
    assert settings["recall@10"] >= 0.95
    # Searching with the tuned settings finds a stored vector's own chunk first.
    hit = table.search(vectors[123], "item123", k=5)[0]
    assert hit.id == "c123" and hit.similarity > 0.99


def test_small_tables_stay_exact(tmp_path):
    data, vectors = rows(500)
    table = ChunkTable(tmp_path, "t", 32)
    table.replace_sources([], data)
    table.finish()
    assert {i.index_type for i in table.table.list_indices()} == {"FTS"}
    assert table.ann_settings == {}
    assert table.search(vectors[7], "", k=1, mode="vector")[0].id == "c7"
    assert table.search(vectors[0], "item42", k=1, mode="fts")[0].id == "c42"


def test_replacing_a_source_never_duplicates(tmp_path):
    data, _ = rows(100)
    table = ChunkTable(tmp_path, "t", 32)
    table.replace_sources([], data)
    same_file = [r for r in data if r["source"] == "/docs/f3.txt"]
    table.replace_sources(["/docs/f3.txt"], same_file)
    table.replace_sources(["/docs/f3.txt"], same_file)
    assert table.count() == 100 and len(set(table.ids())) == 100
