"""The models operations of :class:`engine.api.Engine`: the model library and the loaded
model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.models.library import Model
from engine.services import Services


class ModelsOperations:
    services: Services

    def list_models(self) -> list[Model]:
        """Every model in the library, the bundled one first."""
        return self.services.models.list()

    def get_model(self, name: str) -> Model:
        """The named model, its file checked to be the one imported."""
        return self.services.models.get(name)

    def import_model(self, path: Path, name: str | None = None) -> Model:
        """Check a GGUF file completely and copy it into the library (named after the file
        unless ``name`` is given)."""
        return self.services.models.import_file(path, name)

    def remove_model(self, name: str) -> None:
        """Take an imported model out of the library (never the bundled one)."""
        self.services.models.remove(name)

    def count_tokens(self, model: str) -> Callable[[str], int]:
        """A function counting a text's tokens with ``model``'s tokenizer (without loading the
        model's weights)."""
        return self.services.generation.token_counter(model)

    def is_model_loaded(self, name: str, adapter: str | None = None) -> bool:
        """Whether ``name`` (with ``adapter``) is the loaded model, under the current settings."""
        return self.services.generation.is_loaded(name, adapter)

    def preload_model(self, name: str, adapter: str | None = None) -> None:
        """Load ``name`` (with ``adapter``) now, so the first reply does not wait for it."""
        self.services.generation.load(name, adapter)

    def preload_embedder(self) -> None:
        """Load the embedding model now (dynamic few-shot and knowledge bases use it)."""
        self.services.embedder.encode(["warm-up"])
