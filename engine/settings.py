"""Runtime settings stored in the workspace: threads, GPU offload, context size."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field, ValidationError

from engine.errors import InvalidData
from engine.workspace import Workspace


def default_threads() -> int:
    """Physical cores: llama.cpp gains nothing from hyper-threads and loses from contention."""
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except ImportError:
        return max(1, os.cpu_count() or 1)


class Settings(BaseModel):
    threads: int = Field(default_factory=default_threads, ge=1, le=256)
    gpu_layers: int = Field(
        -1, ge=-1, description="Layers offloaded to the GPU: -1 all, 0 none (CPU only)."
    )
    context_size: int = Field(4096, ge=256, le=262144)


def load(workspace: Workspace) -> Settings:
    """The saved runtime settings, with defaults for any not set."""
    return Settings(**workspace.get_setting("runtime", {}))


def save(workspace: Workspace, **changes) -> Settings:
    """Change the given settings (``None`` leaves one as it is) and return them all."""
    # Read and write in one transaction, so a change saved meanwhile by the window or a
    # `tailor` command is not overwritten with its old value.
    with workspace.transaction():
        data = load(workspace).model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        try:
            settings = Settings(**data)
        except ValidationError as exc:
            raise InvalidData.from_validation(exc, "The settings") from None
        workspace.set_setting("runtime", settings.model_dump())
    return settings
