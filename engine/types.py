# ruff: noqa: I001, RUF022 - grouped by area, so each area's names stand together
"""The public records, options and values of the engine, and the pure functions that check
and show them: what a front end needs besides :class:`engine.api.Engine`, its events
(``engine.events``) and its errors (``engine.errors``). Everything here is plain data or a pure
function; nothing here touches the workspace.
"""

from __future__ import annotations

# -- models and chat ---------------------------------------------------------------------------
from engine import bundled
from engine.models.library import Model
from engine.models.runtime import GenerationStats, SamplingParams

# -- assistants and examples ------------------------------------------------------------------
from engine.assistants import LEVEL_NAMES, AssistantConfig, AssistantVersion, validate_config
from engine.conversations import Conversation, Message
from engine.examples import Example

# -- knowledge ---------------------------------------------------------------------------------
from engine.knowledge.answering import source_label
from engine.knowledge.bases import KnowledgeConfig, KnowledgeStatus
from engine.knowledge.indexing import IndexStats
from engine.knowledge.store import Hit

# -- evaluation --------------------------------------------------------------------------------
from engine.evaluation import advisor
from engine.evaluation.advisor import Answers, from_answers, from_scoreboard
from engine.evaluation.formatting import METRIC, METRICS, MISSING, SPEED_KEYS
from engine.evaluation.formatting import config_name, format_cell, format_change, format_value
from engine.evaluation.judge import check_prompt
from engine.evaluation.options import RunOptions, Target
from engine.evaluation.options import validate_options as validate_run_options
from engine.evaluation.runs import RunStep
from engine.evaluation.sets import Case, SetVersion, write_file as write_cases_file
from engine.synthetic import Draft, Drafts

# -- training ----------------------------------------------------------------------------------
from engine.components import ComponentStatus
from engine.finetune.adapters import Adapter
from engine.finetune.datasets import LengthStats, fitting_seq_length, length_stats
from engine.finetune.hardware import HardwareCheck
from engine.finetune.jobs import JobInfo, TrainingProgress
from engine.finetune.options import PRESETS, TrainOptions
from engine.finetune.options import validate_options as validate_train_options
from engine.finetune.scoring import AdapterScore

# -- RAFT --------------------------------------------------------------------------------------
from engine.raft.builds import BuildInfo, DraftingDetail
from engine.raft.drafting import RaftDraft
from engine.raft.format import RaftAnswer, draft_problem
from engine.raft.options import RaftOptions
from engine.raft.options import validate_options as validate_raft_options

# -- remote models ---------------------------------------------------------------------------
from engine.providers import Provider, RemoteModel

# -- serving -----------------------------------------------------------------------------------
from engine.serving import ServedModel

DEFAULT_MODEL_NAME = bundled.DEFAULT_MODEL_NAME

__all__ = [
    # models and chat
    "DEFAULT_MODEL_NAME",
    "GenerationStats",
    "Model",
    "SamplingParams",
    # assistants and examples
    "LEVEL_NAMES",
    "AssistantConfig",
    "AssistantVersion",
    "Conversation",
    "Example",
    "Message",
    "validate_config",
    # knowledge
    "Hit",
    "IndexStats",
    "KnowledgeConfig",
    "KnowledgeStatus",
    "source_label",
    # evaluation
    "MISSING",
    "METRIC",
    "METRICS",
    "SPEED_KEYS",
    "Answers",
    "Case",
    "Draft",
    "Drafts",
    "RunOptions",
    "RunStep",
    "SetVersion",
    "Target",
    "advisor",
    "check_prompt",
    "config_name",
    "format_cell",
    "format_change",
    "format_value",
    "from_answers",
    "from_scoreboard",
    "validate_run_options",
    "write_cases_file",
    # training
    "PRESETS",
    "Adapter",
    "AdapterScore",
    "ComponentStatus",
    "HardwareCheck",
    "JobInfo",
    "LengthStats",
    "TrainOptions",
    "TrainingProgress",
    "fitting_seq_length",
    "length_stats",
    "validate_train_options",
    # RAFT
    "BuildInfo",
    "DraftingDetail",
    "RaftAnswer",
    "RaftDraft",
    "RaftOptions",
    "draft_problem",
    "validate_raft_options",
    # remote models
    "Provider",
    "RemoteModel",
    # serving
    "ServedModel",
]
