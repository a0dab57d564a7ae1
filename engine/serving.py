"""The records of serving assistants and models to other programs (``engine/server``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ServedModel:
    """One model a server offers: an assistant's current version (``NAME``), one of its
    versions (``NAME@N``), or a raw local model (its library name)."""

    id: str
    kind: str  # "assistant" or "model"
    assistant: str | None = None
    version: int | None = None
    level: str | None = None
    model: str = ""  # the GGUF model it runs on
    created: int = 0  # seconds since the epoch
    raft: bool = False  # a RAFT adapter: its replies carry reasoning, then the answer


def epoch(stamp: str) -> int:
    """An ISO timestamp as seconds since the epoch (0 when it cannot be read)."""
    try:
        return int(datetime.fromisoformat(stamp).timestamp())
    except (TypeError, ValueError):
        return 0
