"""What a run evaluates and how: its targets (an assistant's version, or an ad-hoc
configuration under a label) and its options (answer length, temperature, the judge)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.assistants import AssistantConfig
from engine.errors import InvalidData
from engine.evaluation import judge as judge_mod


class RunOptions(BaseModel):
    """How a run answers and scores. ``None`` keeps each assistant's own setting."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(None, ge=1, le=32768)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int = 0
    judge_model: str | None = None
    judge_prompt: str = judge_mod.DEFAULT_PROMPT
    rubric: str = judge_mod.DEFAULT_RUBRIC
    price_per_1k_tokens: float | None = Field(None, ge=0.0)
    retrieval_depth: int = Field(10, ge=1, le=100)


@dataclass(frozen=True)
class Target:
    """What to evaluate: an assistant's version (None = its current one), or, with
    ``config``, that configuration as it is, shown as ``assistant`` (a label: no assistant of
    that name is needed or made)."""

    assistant: str
    version: int | None = None
    config: AssistantConfig | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """``NAME`` or ``NAME@VERSION`` (e.g. ``Support bot@3``)."""
        name, _, version = text.rpartition("@")
        if name and version.isdigit():
            return cls(name, int(version))
        return cls(text)

    @classmethod
    def ad_hoc(cls, label: str, config: AssistantConfig) -> Target:
        """``config`` evaluated as it is, shown as ``label``."""
        return cls(label, None, config)


def validate_options(data: dict) -> RunOptions:
    try:
        return RunOptions(**data)
    except ValidationError as exc:
        raise InvalidData.from_validation(exc, "The run's options") from None
