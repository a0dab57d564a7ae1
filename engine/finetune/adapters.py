"""Trained adapters in the workspace: where their files are, which base model they belong to,
and how they were made.

An adapter belongs to one base *file*, known by its content hash: a different GGUF imported
later under the same name (even with the same size) is refused. Adapters recorded before
content hashes carry none and are matched by the base's name and size, as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.errors import AlreadyExists, NotFound, TailorError
from engine.models.library import Model
from engine.workspace import Workspace


@dataclass(frozen=True)
class Adapter:
    name: str
    base_model: str
    base_size: int
    dataset: str
    peft_path: Path
    gguf_path: Path
    kind: str  # "lora", or "raft" for one trained on retrieval-style data
    hyperparameters: dict
    results: dict
    created_at: str
    base_sha256: str | None = None  # the base GGUF's content; None when recorded before hashes


class Adapters:
    def __init__(self, workspace: Workspace):
        self.ws = workspace

    def names(self) -> list[str]:
        return [r["name"] for r in self.ws.db.execute("SELECT name FROM adapters ORDER BY name")]

    def list(self) -> list[Adapter]:
        return [
            self._adapter(r) for r in self.ws.db.execute("SELECT * FROM adapters ORDER BY name")
        ]

    def get(self, name: str) -> Adapter:
        row = self.ws.db.execute("SELECT * FROM adapters WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(f"No adapter named '{name}'. Adapters: {known}.")
        return self._adapter(row)

    def register(self, adapter: Adapter, job_id: int | None = None) -> None:
        if adapter.name in self.names():
            raise AlreadyExists(f"An adapter named '{adapter.name}' already exists.")
        self.ws.db.execute(
            "INSERT INTO adapters(name, base_model, base_size, base_sha256, dataset, job_id, "
            "peft_path, gguf_path, kind, hyperparameters, results) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                adapter.name,
                adapter.base_model,
                adapter.base_size,
                adapter.base_sha256,
                adapter.dataset,
                job_id,
                str(adapter.peft_path),
                str(adapter.gguf_path),
                adapter.kind,
                json.dumps(adapter.hyperparameters),
                json.dumps(adapter.results),
            ),
        )

    def for_model(self, name: str, model: Model) -> Adapter:
        """The adapter, if it may be applied to ``model``; otherwise a clear refusal."""
        adapter = self.get(name)
        if adapter.base_model != model.name:
            raise TailorError(
                f"Adapter '{name}' was trained on {adapter.base_model} and only works with that "
                f"model (this assistant uses {model.name}). Choose {adapter.base_model} as the "
                "model, or train an adapter for this one."
            )
        if adapter.base_sha256:
            same_file = adapter.base_sha256 == model.sha256
        else:  # recorded before content hashes
            same_file = adapter.base_size == model.info.file_size
        if not same_file:
            raise TailorError(
                f"Adapter '{name}' was trained on another file than the one now called "
                f"{model.name} (it was replaced or imported again since), and only works with "
                "the file it was trained on. Train the adapter again on this one."
            )
        if not adapter.gguf_path.exists():
            raise TailorError(f"Adapter '{name}' is missing its file {adapter.gguf_path}.")
        return adapter

    @staticmethod
    def _adapter(row) -> Adapter:
        return Adapter(
            name=row["name"],
            base_model=row["base_model"],
            base_size=row["base_size"],
            dataset=row["dataset"],
            peft_path=Path(row["peft_path"]),
            gguf_path=Path(row["gguf_path"]),
            kind=row["kind"],
            hyperparameters=json.loads(row["hyperparameters"]),
            results=json.loads(row["results"]),
            created_at=row["created_at"],
            base_sha256=row["base_sha256"],
        )
