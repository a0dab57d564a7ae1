"""Two adapter records for tests that need a fine-tuned assistant but no training: a plain
LoRA ("plain") and a RAFT one ("retrieval") on the bundled model. A level or a comparison's
checks are read from the records, so the adapters are never loaded."""

from __future__ import annotations

from pathlib import Path

from engine.api import DEFAULT_ASSISTANT, Engine
from engine.types import Adapter


def register(engine: Engine, folder: Path, with_files: bool = False) -> str:
    """Register both adapters (with empty GGUF files in ``folder`` when ``with_files``, for
    checks that look for the file); returns the base model's name."""
    model = engine.get_model(engine.get_assistant(DEFAULT_ASSISTANT).config.model)
    for name, kind in (("plain", "lora"), ("retrieval", "raft")):
        if with_files:
            (folder / f"{name}.gguf").write_bytes(b"")
        engine.services.adapters.register(
            Adapter(
                name=name,
                base_model=model.name,
                base_size=model.info.file_size,
                dataset="facts",
                peft_path=folder / name,
                gguf_path=folder / f"{name}.gguf",
                kind=kind,
                hyperparameters={},
                results={},
                created_at="",
            )
        )
    return model.name
