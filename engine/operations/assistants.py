"""The assistants operations of :class:`engine.api.Engine`: assistants, their versions, and the
conversations held with them."""

from __future__ import annotations

from engine.assistants import AssistantConfig, AssistantVersion, validate_config
from engine.conversations import Conversation, Message
from engine.services import Services

# The fields naming another record, which must exist (and an adapter fit the model).
_REFERENCES = ("model", "adapter", "example_set", "knowledge_base")


class AssistantsOperations:
    services: Services

    def list_assistants(self) -> list[str]:
        """The assistants' names, in order."""
        return self.services.assistants.names()

    def get_assistant(self, name: str, version: int | None = None) -> AssistantVersion:
        """An assistant's version (the current one by default)."""
        return self.services.assistants.get(name, version)

    def assistant_history(self, name: str) -> list[AssistantVersion]:
        """Every version of an assistant, newest first."""
        return self.services.assistants.history(name)

    def create_assistant(
        self, name: str, config: AssistantConfig, note: str = "Created"
    ) -> AssistantVersion:
        """A new assistant at version 1; refused if ``config`` names a model, adapter, example
        set or knowledge base that is not there (or an adapter trained on another model)."""
        with self.services.workspace.transaction():
            self._check_references(config, None)
            return self.services.assistants.create(name, config, note)

    def save_assistant(
        self, name: str, config: AssistantConfig, note: str = ""
    ) -> AssistantVersion:
        """Make ``config`` the assistant's current version (a new version only if it differs).
        The configuration is validated, and each reference it changes checked as in
        :meth:`create_assistant`."""
        config = validate_config(config.model_dump())
        with self.services.workspace.transaction():
            self._check_references(config, self.services.assistants.current(name).config)
            return self.services.assistants.save(name, config, note)

    def edit_assistant(
        self,
        name: str,
        note: str = "",
        detach_examples: bool = False,
        detach_kb: bool = False,
        detach_adapter: bool = False,
        **changes,
    ) -> AssistantVersion:
        """A new version with the given fields changed (``None`` leaves a field as it is), each
        changed reference checked as in :meth:`create_assistant`."""
        return self.services.assistants.edit(
            name,
            note,
            detach_examples,
            detach_kb,
            detach_adapter,
            check=self._check_references,
            **changes,
        )

    def revert_assistant(self, name: str, version: int) -> AssistantVersion:
        """Make ``version``'s configuration current again, as a new version."""
        return self.services.assistants.revert(name, version)

    def assistant_diff(self, name: str, a: int, b: int) -> list[str]:
        """A unified diff of the configuration from version ``a`` to version ``b``."""
        return self.services.assistants.diff(name, a, b)

    def adapter_kind(self, config: AssistantConfig) -> str | None:
        """The kind of ``config``'s adapter ("lora" or "raft"), which decides its level."""
        return self.services.assistants.adapter_kind(config)

    def list_conversations(self, assistant: str | None = None) -> list[Conversation]:
        """The conversations (with ``assistant`` only, when given), newest first."""
        return self.services.conversations.list(assistant)

    def create_conversation(self, assistant: str | None, title: str = "") -> Conversation:
        """A new, empty conversation with ``assistant``; the first message titles it."""
        return self.services.conversations.create(assistant, title)

    def conversation_messages(self, cid: int) -> list[Message]:
        """A conversation's messages in order, each reply with its prompt and statistics."""
        return self.services.conversations.messages(cid)

    def _check_references(self, new: AssistantConfig, old: AssistantConfig | None) -> None:
        """Refuse a configuration naming a record that is not there. Only what changed from
        ``old`` is checked (an adapter again when the model changed), so an edit of the prompt
        is never refused for a record deleted since."""
        s = self.services
        changed = {f for f in _REFERENCES if old is None or getattr(new, f) != getattr(old, f)}
        if "model" in changed:
            changed.add("adapter")
            s.catalog.get(new.model)
        if new.adapter and "adapter" in changed:
            s.generation.remote(new.model, new.adapter)  # adapters need a local model
            s.adapters.for_model(new.adapter, s.models.get(new.model))
        if new.example_set and "example_set" in changed:
            s.examples.get(new.example_set)
        if new.knowledge_base and "knowledge_base" in changed:
            s.knowledge.config(new.knowledge_base)
