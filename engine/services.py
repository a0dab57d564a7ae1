"""The composition root: every service of one workspace, each given exactly the collaborators
it uses. :class:`engine.api.Engine` builds one :class:`Services` and offers operations on it;
front ends never reach in here (the architecture test holds them to the operations), tests and
benchmarks may.
"""

from __future__ import annotations

from pathlib import Path

from engine.assistants import Assistants
from engine.chat import Chat
from engine.conversations import Conversations
from engine.embeddings import Embedder
from engine.evaluation.runs import EvalRuns
from engine.evaluation.sets import EvalSets
from engine.examples import ExampleSets
from engine.finetune.adapters import Adapters
from engine.finetune.datasets import Datasets
from engine.finetune.jobs import Jobs
from engine.knowledge.bases import KnowledgeBases
from engine.models.generation import Generation
from engine.models.library import ModelLibrary
from engine.models.remote import ModelCatalog, RemoteModels
from engine.prompting import FewShotSelector
from engine.providers import Providers
from engine.raft.builds import RaftBuilds
from engine.workspace import Workspace


class Services:
    """Everything Tailor keeps and does, wired once."""

    def __init__(self, home: Path | None = None):
        self.workspace = Workspace(home)
        ws = self.workspace
        self.models = ModelLibrary(ws)
        self.assistants = Assistants(ws)
        self.examples = ExampleSets(ws)
        self.conversations = Conversations(ws)
        self.embedder = Embedder()
        self.few_shot = FewShotSelector(ws, self.embedder)
        self.knowledge = KnowledgeBases(ws, self.embedder)
        self.eval_sets = EvalSets(ws)
        self.datasets = Datasets(ws)
        self.adapters = Adapters(ws)
        self.providers = Providers(ws)
        self.remote = RemoteModels(self.providers)
        self.generation = Generation(ws, self.models, self.adapters, self.remote)
        # Where a name only has to exist (an assistant's model, the judge, the RAFT writer), a
        # remote model's counts as well as a local one's.
        self.catalog = ModelCatalog(self.models, self.remote)
        self.chat = Chat(
            self.generation,
            self.assistants,
            self.examples,
            self.few_shot,
            self.knowledge,
            self.adapters,
            self.conversations,
            self.embedder,
        )
        self.raft = RaftBuilds(
            ws,
            self.catalog,
            self.knowledge,
            self.datasets,
            self.eval_sets,
            self.adapters,
            self.generation,
        )
        counter = self.generation.token_counter
        self.jobs = Jobs(ws, self.models, self.datasets, self.adapters, counter)
        self.evals = EvalRuns(
            ws,
            self.eval_sets,
            self.assistants,
            self.catalog,
            self.knowledge,
            self.embedder,
            self.chat,
            self.generation,
        )

    def close(self) -> None:
        self.generation.close()
        self.workspace.close()
