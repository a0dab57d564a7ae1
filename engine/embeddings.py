"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (or any local sentence-transformers
folder), loaded strictly offline.

Two backends give the same model's vectors (cosine ≥ 0.99 to each other, so an index built by
one is searched by the other): ONNX Runtime with an int8 export of the folder's weights
(:mod:`engine.onnx_embedder`; several times faster on a CPU, and it never imports torch), and
sentence-transformers on torch, used when onnxruntime is not installed, when the folder holds
modules the ONNX path does not run, or when ``TAILOR_EMBEDDER_BACKEND=torch``.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from engine import bundled
from engine.quiet import quiet_ml_imports

log = logging.getLogger(__name__)


class _TorchEncoder:
    """sentence-transformers on torch."""

    def __init__(self, path: Path):
        # Never reach for a hub: everything is on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        quiet_ml_imports()  # the ML stack's own warnings stay off the user's terminal
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )


class Embedder:
    """Lazily loads a sentence-transformers model from a local folder; thread-safe.

    ``backend``: "onnx", "torch", or None to choose (ONNX where it can run, else torch; the
    environment variable ``TAILOR_EMBEDDER_BACKEND`` sets it too)."""

    def __init__(
        self, path: Path | None = None, name: str | None = None, backend: str | None = None
    ):
        self.path = Path(path) if path else None
        self.name = name or (self.path.name if self.path else bundled.DEFAULT_EMBEDDER_NAME)
        self.wanted = backend or os.environ.get("TAILOR_EMBEDDER_BACKEND") or None
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def backend(self) -> str:
        """Which backend runs the model: "onnx" or "torch" (loads it)."""
        return "torch" if isinstance(self._load(), _TorchEncoder) else "onnx"

    def _load(self):
        with self._lock:
            if self._model is None:
                path = self.path or bundled.default_embedder_path()
                if self.wanted != "torch":
                    self._model = self._onnx(path)
                if self._model is None:
                    self._model = _TorchEncoder(path)
            return self._model

    def _onnx(self, path: Path):
        from engine import onnx_embedder

        if not onnx_embedder.available():
            if self.wanted == "onnx":
                raise RuntimeError("onnxruntime is not installed")
            return None
        try:
            layout = onnx_embedder.Layout(path)
            return onnx_embedder.OnnxEncoder(layout, onnx_embedder.ensure(layout, self.name))
        except Exception as exc:
            if self.wanted == "onnx":
                raise
            log.warning("embedder %s runs on sentence-transformers (ONNX: %s)", self.name, exc)
            return None

    @property
    def dimension(self) -> int:
        """Length of the vectors this embedder makes (loads the model)."""
        return int(self._load().dimension)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        vectors = self._load().encode(list(texts), batch_size=batch_size)
        return np.asarray(vectors, dtype=np.float32)
