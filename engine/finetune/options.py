"""What a training job trains with: its hyper-parameters, and the CPU and GPU presets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import InvalidData

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class TrainOptions(BaseModel):
    """Hyper-parameters. The defaults are the CPU preset; ``PRESETS["gpu"]`` is the GPU one."""

    model_config = ConfigDict(extra="forbid")

    rank: int = Field(8, ge=1, le=512)
    alpha: int = Field(16, ge=1, le=1024)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    learning_rate: float = Field(2e-4, gt=0, le=1.0)
    epochs: float = Field(1.0, gt=0, le=100)
    max_steps: int | None = Field(None, ge=1, description="Overrides epochs when set.")
    batch_size: int = Field(2, ge=1, le=1024)
    gradient_accumulation: int = Field(1, ge=1, le=1024)
    max_seq_length: int = Field(512, ge=32, le=131072)
    responses_only: bool = Field(True, description="Learn the assistant's turns only.")
    validation_fraction: float = Field(0.1, ge=0.0, le=0.5)
    warmup_steps: int = Field(5, ge=0)
    save_every: int = Field(10, ge=1, description="Checkpoint every N steps.")
    seed: int = 3407
    load_in_4bit: bool = False
    target_modules: list[str] = Field(default_factory=lambda: list(TARGET_MODULES))


PRESETS = {
    "cpu": TrainOptions(),
    "gpu": TrainOptions(
        rank=16,
        alpha=32,
        batch_size=4,
        gradient_accumulation=4,
        max_seq_length=2048,
        save_every=50,
        load_in_4bit=True,
    ),
}


def validate_options(data: dict) -> TrainOptions:
    """``data`` as training options; every problem reported at once, in words for the user."""
    try:
        return TrainOptions(**data)
    except ValidationError as exc:
        raise InvalidData.from_validation(exc, "The training settings") from None
