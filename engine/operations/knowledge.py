"""The knowledge operations of :class:`engine.api.Engine` (Level 3): knowledge bases built from
folders, indexed on this machine, followed while the app runs, and searched."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from engine.events import CancelToken, Outcome, Progress
from engine.knowledge.bases import KnowledgeConfig, KnowledgeStatus
from engine.knowledge.indexing import IndexStats
from engine.knowledge.store import Hit
from engine.knowledge.watch import FolderWatcher
from engine.services import Services


class KnowledgeOperations:
    services: Services

    def list_knowledge_bases(self) -> list[str]:
        """The knowledge bases' names, in order."""
        return self.services.knowledge.names()

    def create_knowledge_base(self, name: str, **options) -> KnowledgeConfig:
        """A new, empty knowledge base; ``options`` are :class:`KnowledgeConfig` settings
        (chunking, the embedder, file size and OCR limits, how answers select their context;
        each documented there), the defaults for those not given."""
        return self.services.knowledge.create(name, **options)

    def add_folders(self, kb: str, folders: list[Path]) -> list[str]:
        """Add folders (or single files) to ``kb``; returns their resolved paths. They are
        indexed by the next :meth:`index`."""
        return self.services.knowledge.add_roots(kb, folders)

    def configure_knowledge_base(self, kb: str, **changes) -> KnowledgeConfig:
        """Change settings (those given and not None). A chunking or embedder change builds a
        new index on the next :meth:`index`, beside the one answering now."""
        return self.services.knowledge.configure(kb, **changes)

    def knowledge_base_config(self, kb: str) -> KnowledgeConfig:
        """The settings of ``kb`` (:class:`engine.errors.NotFound` when there is none)."""
        return self.services.knowledge.config(kb)

    def knowledge_base_status(self, kb: str) -> KnowledgeStatus:
        """Folders (and which cannot be read now), counts, settings, every file not indexed
        with why, and whether an index run has it. Looks at every folder: not for a UI
        thread."""
        return self.services.knowledge.status(kb)

    def knowledge_base_folders(self, kb: str) -> list[str]:
        return self.services.knowledge.roots(kb)

    def index(
        self, kb: str, *, cancel: CancelToken | None = None
    ) -> Iterator[Progress | Outcome[IndexStats]]:
        """Bring the index of ``kb`` up to date with its folders (only what changed): an
        operation. Phases "waiting" (another process is indexing ``kb``), "scanning",
        "indexing" (``label`` the file, ``detail`` an :class:`IndexStats`) and "finishing"; the
        result is the run's :class:`IndexStats`. Stopped, the files done stay indexed (the
        cancelled outcome carries them) and the next run resumes."""
        return self.services.knowledge.index(kb, cancel=cancel)

    def watch(
        self, kb: str, on_change: Callable[[str], None], *, delay: float = 1.0
    ) -> FolderWatcher:
        """Follow the folders of ``kb`` while the app runs: ``on_change(kb)`` is called, on
        another thread, after ``delay`` seconds of quiet following a change (changes in the
        workspace and in folders indexing skips do not count). The watcher's ``problems`` are
        the folders that cannot be followed, with why; ``stop()`` ends it. Walks the folders'
        trees: not for a UI thread."""
        return self.services.knowledge.watch(kb, on_change, delay)

    def search(
        self,
        kb: str,
        query: str,
        k: int = 5,
        *,
        folder: str | None = None,
        file_types: list[str] | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """The ``k`` passages of ``kb`` that answer ``query`` best, best first; only from files
        under ``folder`` and of ``file_types`` when given; ``mode`` "hybrid", "vector" or
        "fts"."""
        return self.services.knowledge.search(kb, query, k, folder, file_types, mode)

    def sample_passages(self, kb: str, n: int, seed: int = 0, min_chars: int = 200) -> list[Hit]:
        """Up to ``n`` passages of ``kb`` drawn at random (the same for a seed), preferring
        those of at least ``min_chars`` characters."""
        return self.services.knowledge.sample(kb, n, seed, min_chars)

    def knowledge_base_chunks(self, kb: str, folder: str | None = None) -> list[Hit]:
        """Every passage of ``kb``'s index (only from files under ``folder``, if given), in id
        order."""
        return self.services.knowledge.chunks(kb, folder)

    def delete_knowledge_base(self, kb: str) -> None:
        """Delete ``kb`` and its index; the files in its folders are not touched. Refused
        while it is being indexed."""
        self.services.knowledge.delete(kb)
