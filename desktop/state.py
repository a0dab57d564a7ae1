"""The window's model of the current assistant: which one, its saved version, and the draft the
pages are editing. Pages change the draft and listen for ``changed``; chat uses the draft, so an
edit is tried at once, and Save turns it into a new version."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.api import Engine
from engine.types import AssistantConfig, AssistantVersion


class AssistantState(QObject):
    changed = Signal()  # assistant switched, draft edited, or a version saved

    def __init__(self, engine: Engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.name: str = ""
        self.saved: AssistantVersion | None = None
        self.draft: AssistantConfig | None = None

    def select(self, name: str, version: int | None = None) -> None:
        self.name = name
        self.saved = self.engine.get_assistant(name)
        chosen = self.engine.get_assistant(name, version) if version else self.saved
        self.draft = chosen.config
        self.changed.emit()

    def update(self, **changes) -> None:
        """Edit the draft; nothing is saved until :meth:`save`."""
        if self.draft is None:
            return
        new = self.draft.model_copy(update=changes)
        if new != self.draft:
            self.draft = new
            self.changed.emit()

    @property
    def dirty(self) -> bool:
        return self.saved is not None and self.draft != self.saved.config

    def save(self, note: str = "") -> AssistantVersion:
        assert self.draft is not None
        self.saved = self.engine.save_assistant(self.name, self.draft, note)
        self.draft = self.saved.config
        self.changed.emit()
        return self.saved

    def revert(self, version: int) -> AssistantVersion:
        self.saved = self.engine.revert_assistant(self.name, version)
        self.draft = self.saved.config
        self.changed.emit()
        return self.saved

    def discard(self) -> None:
        if self.saved is not None:
            self.draft = self.saved.config
            self.changed.emit()

    @property
    def level(self) -> int:
        return self.draft.level_for(self._adapter_kind()) if self.draft else 1

    @property
    def level_label(self) -> str:
        """The draft's level as the header shows it, e.g. "Level 4 + RAG"."""
        return self.draft.level_label(self._adapter_kind()) if self.draft else "Level 1"

    def _adapter_kind(self) -> str | None:
        # Read each time: an adapter's kind, not the configuration, decides Level 5.
        return self.engine.adapter_kind(self.draft)
