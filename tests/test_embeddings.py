"""The embedder: ONNX Runtime (int8, exported from the bundled weights) by default, the same
model's vectors as sentence-transformers on torch, and a first knowledge-base message that
never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from engine import onnx_embedder
from engine.embeddings import Embedder

ROOT = Path(__file__).resolve().parents[1]

TEXTS = [
    "The boiler in room 12 is serviced every March.",
    "quick",
    "Which port does the Zebra protocol use?",
    "Le protocole Zebra utilise le port 7431 pour les connexions chiffrées.",
    "def chunk(sections):\n    return [s for s in sections if s.text.strip()]",
    # Longer than the model reads (256 tokens): both sides read the same first 256.
    " ".join(
        f"Sentence {i} about mitochondria, ATP synthase and oxidative stress." for i in range(60)
    ),
    "   padded with spaces and UPPER case   ",
]


def test_onnx_is_exported_on_first_use_and_matches_sentence_transformers(tmp_path, monkeypatch):
    """No export yet: the first use makes one (from the local weights, no download) into the
    cache; its vectors are the torch model's to cosine 0.99, so an index built by either
    backend is searched by the other."""
    monkeypatch.setenv("TAILOR_EMBEDDER_CACHE", str(tmp_path / "cache"))
    fast = Embedder()
    vectors = fast.encode(TEXTS)
    assert fast.backend == "onnx" and vectors.shape == (len(TEXTS), fast.dimension) == (7, 384)
    made = sorted(p.name for p in (tmp_path / "cache").glob("*.onnx"))
    assert len(made) == 2 and made[0].endswith(".fp32.onnx")  # the float model, the int8 one
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    reference = Embedder(backend="torch").encode(TEXTS)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() >= 0.99, cosine
    # Queries embedded one way rank passages embedded the other way as the other would.
    assert (
        np.argsort(-(reference @ vectors[2]))[:3].tolist()
        == np.argsort(-(reference @ reference[2]))[:3].tolist()
    )
    # A text's vector does not depend on the texts embedded with it, nor on which of the
    # runs side by side it ran in (each run has one thread, so the sums are the same).
    assert np.array_equal(fast.encode(TEXTS[::-1], batch_size=2)[::-1], vectors)
    assert np.array_equal(fast.encode(TEXTS[1:2])[0], vectors[1])
    encoder = fast._load()
    assert (encoder._pool is not None) == (encoder.workers > 1)
    assert fast.encode([]).shape == (0, 384)


def test_without_onnxruntime_the_embedder_runs_on_sentence_transformers(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    assert not onnx_embedder.available()
    embedder = Embedder()
    assert embedder.encode(["hello"]).shape == (1, 384) and embedder.backend == "torch"


FRESH_WINDOW = """
import json, sys
from pathlib import Path
from engine.api import DEFAULT_ASSISTANT, Engine, run

home, docs = Path(sys.argv[1]), Path(sys.argv[2])
engine = Engine(home)
engine.first_run()
if sys.argv[3] == "index":
    engine.create_knowledge_base("docs")
    engine.add_folders("docs", [docs])
    run(engine.index("docs"))
    engine.edit_assistant(DEFAULT_ASSISTANT, knowledge_base="docs", max_tokens=8)
else:
    reply = run(engine.chat("When is the boiler serviced?", assistant=DEFAULT_ASSISTANT))
    hits = engine.search("docs", "boiler service month", 1)
    print(json.dumps({
        "sources": [Path(s["source"]).name for s in reply.sources],
        "hit": Path(hits[0].source).name,
        "imported": sorted(m for m in ("torch", "sentence_transformers", "transformers")
                           if m in sys.modules),
    }))
engine.close()
"""


def test_a_knowledge_base_message_in_a_fresh_process_never_imports_torch(tmp_path):
    """The first knowledge-base message of a fresh window (and a search) pay no torch import:
    the question is embedded by ONNX Runtime. Indexing in another process, as the window's
    first run would have done, leaves the export in place."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Boiler\n\nThe boiler in room 12 is serviced every March.\n")
    (docs / "b.md").write_text("# Garden\n\nThe roses are pruned in late winter.\n")
    script = tmp_path / "window.py"
    script.write_text(FRESH_WINDOW)

    def fresh(step: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), str(tmp_path / "home"), str(docs), step],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
            env={**_env(), "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    fresh("index")
    result = json.loads(fresh("chat").strip().splitlines()[-1])
    assert result["sources"][:1] == ["a.md"] and result["hit"] == "a.md"
    assert result["imported"] == []


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "TAILOR_EMBEDDER_BACKEND"}
