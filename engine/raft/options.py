"""How a RAFT dataset is built: the options a person chooses, checked in one place."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import InvalidData

Reasoning = Literal["writer", "extract", "writer-or-extract"]


class RaftOptions(BaseModel):
    """How a RAFT dataset is built. Defaults follow the paper and its reference code."""

    model_config = ConfigDict(extra="forbid")

    knowledge_base: str
    writer: str = Field(description="The local model that writes questions and answers.")
    questions_per_chunk: int = Field(1, ge=1, le=10)
    distractors: int = Field(4, ge=0, le=20)
    p_oracle: float = Field(0.8, ge=0.0, le=1.0, description="Share of examples with the oracle.")
    # Hard negatives did not measure better than random ones (bench/raft.py: F1 0.04 vs 0.07
    # at k = 5, intervals overlapping), so the reference code's random distractors stay default.
    negatives: Literal["hard", "random"] = "random"
    reasoning: Reasoning = "writer-or-extract"
    chunks: int | None = Field(None, ge=1, description="How many chunks to use; None: all.")
    folder: str | None = Field(None, description="Only chunks from files under this folder.")
    holdout: float = Field(0.1, ge=0.0, le=0.5, description="Share of questions held out.")
    seed: int = 3407


def validate_options(data: dict) -> RaftOptions:
    """``data`` as :class:`RaftOptions`, or one error listing every problem."""
    try:
        return RaftOptions(**data)
    except ValidationError as exc:
        raise InvalidData.from_validation(exc, "The RAFT settings") from None
