"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (or any local sentence-transformers
folder), loaded strictly offline."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from engine import bundled


class Embedder:
    """Lazily loads a sentence-transformers model from a local folder; thread-safe."""

    def __init__(self, path: Path | None = None, name: str | None = None):
        self.path = Path(path) if path else None
        self.name = name or (self.path.name if self.path else bundled.DEFAULT_EMBEDDER_NAME)
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self):
        with self._lock:
            if self._model is None:
                # Never reach for a hub: everything is on disk.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.logging.set_verbosity_error()
                transformers.logging.disable_progress_bar()

                path = self.path or bundled.default_embedder_path()
                self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            return self._model

    @property
    def dimension(self) -> int:
        """Length of the vectors this embedder makes (loads the model)."""
        return int(self._load().get_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        model = self._load()
        vectors = model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)
