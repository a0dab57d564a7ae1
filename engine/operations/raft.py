"""The RAFT operations of :class:`engine.api.Engine`: builds of RAFT training data from a
knowledge base (choose passages, draft, review, save) and the Level 3/4/5 comparison on a
saved build's held-out questions."""

from __future__ import annotations

from collections.abc import Iterator

from engine.events import CancelToken
from engine.raft.builds import BuildInfo
from engine.raft.drafting import RaftDraft
from engine.raft.options import RaftOptions
from engine.services import Services


class RaftOperations:
    services: Services

    def list_raft_builds(self) -> list[BuildInfo]:
        """Every RAFT build, with its options and how far it got."""
        return self.services.raft.list()

    def get_raft_build(self, name: str) -> BuildInfo:
        return self.services.raft.get(name)

    def create_raft_build(self, name: str, options: RaftOptions) -> BuildInfo:
        """A new build, its passages chosen now; or — same name, same options, not saved yet —
        the unfinished one, to continue."""
        return self.services.raft.create(name, options)

    def draft_raft(self, name: str, *, cancel: CancelToken | None = None) -> Iterator[object]:
        """Operation: draft the build's passages not drafted yet with its writer model. Yields
        ``Progress`` (phase ``drafting``, passages done of total, ``detail`` a
        ``DraftingDetail``: drafts kept, dropped and why, the latest); ends with the build.
        Stopped or killed, the next run continues where it stopped."""
        return self.services.raft.draft(name, cancel=cancel)

    def raft_drafts(self, name: str) -> list[RaftDraft]:
        """The build's drafts, usable and dropped (``problem`` says why)."""
        return self.services.raft.drafts(name)

    def raft_passages(self, name: str) -> dict[str, str]:
        """The text of each passage of the build's knowledge base, by chunk id: what a reviewer
        reads beside the drafts, and what their quotes are checked against."""
        kb = self.services.raft.get(name).options.knowledge_base
        return {c.id: c.text for c in self.services.knowledge.chunks(kb)}

    def save_raft_drafts(self, name: str, drafts: list[RaftDraft]) -> list[RaftDraft]:
        """Replace the build's drafts with reviewed ones (edited, or deleted by leaving them
        out), each checked again against its passage; to save as datasets later."""
        return self.services.raft.save_drafts(name, drafts)

    def save_raft_build(self, name: str, drafts: list[RaftDraft] | None = None) -> BuildInfo:
        """Save a drafted build (with ``drafts``, the reviewed ones, first) as the RAFT dataset
        ``name``, the same questions without documents (``name (no documents)``) and the
        held-out evaluation set (``name (held out)``). Searches the knowledge base once per
        question for hard negatives: background work."""
        if drafts is not None:
            self.services.raft.save_drafts(name, drafts)
        return self.services.raft.save(name)

    def delete_raft_build(self, name: str) -> None:
        """Delete a build's drafts; the datasets and evaluation set it saved stay."""
        self.services.raft.delete(name)

    def compare_raft_build(
        self,
        name: str,
        raft_adapter: str,
        plain_adapter: str | None = None,
        retrieval_ks: tuple[int, ...] = (2, 5, 10),
        max_tokens: int = 256,
    ) -> int:
        """An evaluation run on saved build ``name``'s held-out questions comparing Level 3
        (base + RAG), Level 4 (``plain_adapter``, trained on the questions without documents,
        if given) and Level 5 (``raft_adapter`` + RAG) at each number of retrieved passages;
        returns the run's id, for ``evaluate``. Creates no assistants."""
        ladder = self.services.raft.ladder(name, raft_adapter)
        return self.compare_ladder(
            ladder.eval_set,
            model=ladder.model,
            knowledge_base=ladder.knowledge_base,
            raft_adapter=raft_adapter,
            plain_adapter=plain_adapter,
            retrieval_ks=tuple(retrieval_ks),
            max_tokens=max_tokens,
        )
