"""The engine's API: the one object the window, the command line and any other front end drive.

    engine = Engine()                  # opens the workspace ($TAILOR_HOME or the user data dir)
    engine.first_run()                 # registers the bundled model and a default assistant
    for event in engine.chat("Hello", assistant="Default assistant"):
        ...                            # Loading, TokenEvent…, then the Outcome with the Reply

Every verb a person uses is a method here (the areas' verbs live in ``engine/operations/``).
Long ones are operations (``engine.events``): generators of :class:`Progress` ending in one
:class:`Outcome`; pass a :class:`CancelToken` as ``cancel=`` to stop one. Records and options
come from ``engine.types``, errors from ``engine.errors``. The services behind the verbs are
wired in ``engine.services``; front ends never reach them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine import settings as settings_mod
from engine.assistants import AssistantConfig
from engine.events import (
    CancelToken,
    Loading,
    Outcome,
    Progress,
    Reply,
    TokenEvent,
    operation,
    run,
)
from engine.models.runtime import gpu_offload_available
from engine.operations.assistants import AssistantsOperations
from engine.operations.components import ComponentsOperations
from engine.operations.evaluation import EvaluationOperations
from engine.operations.examples import ExamplesOperations
from engine.operations.knowledge import KnowledgeOperations
from engine.operations.models import ModelsOperations
from engine.operations.providers import ProvidersOperations
from engine.operations.raft import RaftOperations
from engine.operations.serving import ServingOperations
from engine.operations.training import TrainingOperations
from engine.services import Services
from engine.settings import Settings

DEFAULT_ASSISTANT = "Default assistant"

__all__ = [
    "DEFAULT_ASSISTANT",
    "CancelToken",
    "Engine",
    "Loading",
    "Outcome",
    "Progress",
    "Reply",
    "TokenEvent",
    "operation",
    "run",
]


class Engine(
    ModelsOperations,
    ProvidersOperations,
    AssistantsOperations,
    ExamplesOperations,
    KnowledgeOperations,
    EvaluationOperations,
    TrainingOperations,
    RaftOperations,
    ServingOperations,
    ComponentsOperations,
):
    """Everything Tailor can do, headless."""

    def __init__(self, home: Path | None = None):
        self.services = Services(home)

    # -- the workspace -----------------------------------------------------------------------

    @property
    def home(self) -> Path:
        """The workspace folder: everything Tailor keeps is under it."""
        return self.services.workspace.home

    def lock_workspace(self) -> None:
        """Claim the workspace for this window; :class:`engine.errors.WorkspaceInUse` when
        another window has it."""
        self.services.workspace.acquire_app_lock()

    def preference(self, key: str, default=None):
        """A front end's remembered choice (the last assistant shown, …)."""
        return self.services.workspace.get_setting(key, default)

    def set_preference(self, key: str, value) -> None:
        self.services.workspace.set_setting(key, value)

    # -- set-up ------------------------------------------------------------------------------

    def first_run(self) -> None:
        """Register the bundled model and create the default assistant if there is none."""
        model = self.services.models.ensure_bundled()
        if not self.services.assistants.names():
            self.services.assistants.create(DEFAULT_ASSISTANT, AssistantConfig(model=model.name))

    @property
    def settings(self) -> Settings:
        return settings_mod.load(self.services.workspace)

    def save_settings(self, **changes) -> Settings:
        return settings_mod.save(self.services.workspace, **changes)

    def gpu_available(self) -> bool:
        return gpu_offload_available()

    # -- chat --------------------------------------------------------------------------------

    def chat(
        self,
        message: str,
        *,
        assistant: str | None = None,
        version: int | None = None,
        model: str | None = None,
        system: str | None = None,
        conversation_id: int | None = None,
        config: AssistantConfig | None = None,
        cancel: CancelToken | None = None,
        seed: int | None = None,
        adapter: str | None = None,
    ) -> Iterator[Loading | TokenEvent | Outcome[Reply]]:
        """Answer ``message``; yields :class:`Loading` (if a model must load), the reply's
        tokens, then the :class:`Outcome` holding the :class:`Reply`. With ``conversation_id``
        the exchange continues and is saved there; ``config`` overrides the assistant's saved
        one (unsaved edits in the window). With a knowledge base attached, the reply cites
        retrieved passages (``Reply.sources``); a RAFT adapter's reply comes parsed
        (``Reply.raft``: answer, reasoning, quotes)."""
        resolved, ver = self.services.chat.resolve(assistant, version, model, system, adapter)
        return self.services.chat.answer(
            message,
            config or resolved,
            version=ver,
            conversation_id=conversation_id,
            cancel=cancel,
            seed=seed,
        )

    def close(self) -> None:
        self.services.close()
