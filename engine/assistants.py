"""Assistants: the unit a user climbs the ladder with, and their immutable versions.

An assistant is a model, a system prompt and sampling parameters, plus whatever higher rungs it
uses (an example set now). Prompts are treated like code: every save is a new numbered version
that is never changed afterwards; versions can be listed, diffed and reverted to (a revert is a
new version with the old configuration, so history only grows).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import storage
from engine.errors import AlreadyExists, InvalidData, NotFound
from engine.finetune.adapters import Adapters
from engine.workspace import Workspace

CONFIG_SCHEMA_VERSION = 1

LEVEL_NAMES = {1: "Zero-shot", 2: "Few-shot", 3: "RAG", 4: "Fine-tuned", 5: "RAFT"}


class AssistantConfig(BaseModel):
    """Everything that decides how an assistant answers."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = CONFIG_SCHEMA_VERSION
    model: str
    system_prompt: str = "You are a helpful assistant."
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1, le=32768)
    example_set: str | None = None
    few_shot_k: int = Field(
        0, ge=0, description="Use the k examples most similar to the input; 0 uses all of them."
    )
    knowledge_base: str | None = None
    retrieval_k: int = Field(5, ge=1, le=50, description="Passages retrieved per question.")
    # A LoRA adapter trained on ``model``: Level 4. With a knowledge base too, a RAFT adapter is
    # Level 5 (prompted exactly as it was trained, documents in <DOCUMENT> blocks) and a plain
    # LoRA is Level 4 + RAG.
    adapter: str | None = None

    def level_for(self, adapter_kind: str | None) -> int:
        """The highest rung of the ladder this configuration uses, given its adapter's kind
        ("lora" or "raft", see :meth:`Assistants.adapter_kind`): the configuration names the
        adapter only, and what makes Level 5 is how the adapter was trained."""
        if self.adapter:
            return 5 if self.knowledge_base and adapter_kind == "raft" else 4
        if self.knowledge_base:
            return 3
        return 2 if self.example_set else 1

    def level_label(self, adapter_kind: str | None) -> str:
        """The level as shown: "Level 3", or "Level 4 + RAG" for a plain LoRA adapter with a
        knowledge base."""
        level = self.level_for(adapter_kind)
        return f"Level {level}" + (" + RAG" if level == 4 and self.knowledge_base else "")

    def as_yaml(self) -> str:
        """A stable, readable text form: what version diffs compare. Multi-line prompts are
        written as blocks, so a diff shows the lines that changed."""
        return yaml.dump(
            self.model_dump(),
            Dumper=_BlockDumper,
            sort_keys=False,
            allow_unicode=True,
            width=10_000,
        )


class _BlockDumper(yaml.SafeDumper):
    """A SafeDumper that writes multi-line strings as literal blocks."""


def _str(dumper: yaml.SafeDumper, text: str):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _str)


def validate_config(data: dict) -> AssistantConfig:
    """Build a config, reporting every problem at once in words a user understands."""
    try:
        return AssistantConfig(**data)
    except ValidationError as exc:
        raise InvalidData.from_validation(exc, "The assistant's settings") from None


@dataclass(frozen=True)
class AssistantVersion:
    assistant: str
    version: int
    config: AssistantConfig
    note: str
    created_at: str
    adapter_kind: str | None  # the kind of ``config.adapter``, from the adapters table

    @property
    def level(self) -> int:
        return self.config.level_for(self.adapter_kind)

    @property
    def level_label(self) -> str:
        return self.config.level_label(self.adapter_kind)

    @property
    def label(self) -> str:
        return f"v{self.version} · {self.level_label}"


class Assistants:
    def __init__(self, workspace: Workspace):
        self.ws = workspace
        self.adapters = Adapters(workspace)

    def names(self) -> list[str]:
        return [r["name"] for r in self.ws.db.execute("SELECT name FROM assistants ORDER BY name")]

    def create(self, name: str, config: AssistantConfig, note: str = "Created") -> AssistantVersion:
        name = storage.check_name(name, "An assistant")
        with self.ws.transaction() as db:
            if db.execute("SELECT 1 FROM assistants WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"An assistant named '{name}' already exists.")
            cur = db.execute("INSERT INTO assistants(name) VALUES (?)", (name,))
            self._insert_version(cur.lastrowid, 1, config, note)
        return self.current(name)

    def save(self, name: str, config: AssistantConfig, note: str = "") -> AssistantVersion:
        """Save ``config`` as the next version. Saving an unchanged config makes no version."""
        with self.ws.transaction():
            aid = self._id(name)
            latest = self._latest_row(aid)
            if AssistantConfig(**json.loads(latest["config"])) != config:
                self._insert_version(aid, latest["version"] + 1, config, note)
        return self.current(name)

    def edit(
        self,
        name: str,
        note: str = "",
        detach_examples: bool = False,
        detach_kb: bool = False,
        detach_adapter: bool = False,
        check: Callable[[AssistantConfig, AssistantConfig], None] | None = None,
        **changes,
    ) -> AssistantVersion:
        """A new version with the given fields changed; ``None`` leaves a field as it is.
        ``check(new, old)`` may refuse the new configuration before it is saved."""
        # Read and write under one lock, so an edit made meanwhile elsewhere is not undone.
        with self.ws.transaction():
            before = self.current(name).config
            data = before.model_dump()
            data.update({k: v for k, v in changes.items() if v is not None})
            if detach_examples:
                data["example_set"] = None
            if detach_kb:
                data["knowledge_base"] = None
            if detach_adapter:
                data["adapter"] = None
            config = validate_config(data)
            if check is not None:
                check(config, before)
            return self.save(name, config, note)

    def current(self, name: str) -> AssistantVersion:
        return self._version(name, self._latest_row(self._id(name)))

    def get(self, name: str, version: int | None = None) -> AssistantVersion:
        if version is None:
            return self.current(name)
        row = self.ws.db.execute(
            "SELECT * FROM assistant_versions WHERE assistant_id = ? AND version = ?",
            (self._id(name), version),
        ).fetchone()
        if row is None:
            raise NotFound(f"Assistant '{name}' has no version {version}.")
        return self._version(name, row)

    def history(self, name: str) -> list[AssistantVersion]:
        """All versions, newest first."""
        rows = self.ws.db.execute(
            "SELECT * FROM assistant_versions WHERE assistant_id = ? ORDER BY version DESC",
            (self._id(name),),
        ).fetchall()
        return [self._version(name, r) for r in rows]

    def diff(self, name: str, a: int, b: int) -> list[str]:
        """A unified diff from version ``a`` to version ``b``."""
        va, vb = self.get(name, a), self.get(name, b)
        return list(
            difflib.unified_diff(
                va.config.as_yaml().splitlines(),
                vb.config.as_yaml().splitlines(),
                f"{name} v{a}",
                f"{name} v{b}",
                lineterm="",
            )
        )

    def revert(self, name: str, version: int) -> AssistantVersion:
        """Make ``version``'s configuration current again, as a new version."""
        old = self.get(name, version)
        return self.save(name, old.config, note=f"Reverted to v{version}")

    def adapter_kind(self, config: AssistantConfig) -> str | None:
        """The kind of ``config``'s adapter ("lora" or "raft"), which decides its level; None
        without an adapter, or for one no longer in the workspace."""
        if not config.adapter:
            return None
        try:
            return self.adapters.get(config.adapter).kind
        except NotFound:
            return None

    # -- internals ---------------------------------------------------------------------------

    def _id(self, name: str) -> int:
        row = self.ws.db.execute("SELECT id FROM assistants WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(f"No assistant named '{name}'. Assistants: {known}.")
        return row["id"]

    def _latest_row(self, aid: int):
        return self.ws.db.execute(
            "SELECT * FROM assistant_versions WHERE assistant_id = ? ORDER BY version DESC LIMIT 1",
            (aid,),
        ).fetchone()

    def _insert_version(self, aid: int, version: int, config: AssistantConfig, note: str) -> None:
        self.ws.db.execute(
            "INSERT INTO assistant_versions(assistant_id, version, config, note) "
            "VALUES (?, ?, ?, ?)",
            (aid, version, config.model_dump_json(), note),
        )

    def _version(self, name: str, row) -> AssistantVersion:
        config = AssistantConfig(**json.loads(row["config"]))
        return AssistantVersion(
            assistant=name,
            version=row["version"],
            config=config,
            note=row["note"],
            created_at=row["created_at"],
            adapter_kind=self.adapter_kind(config),
        )
