"""The Level 3/4/5 comparison: one evaluation run putting base + RAG, a plain fine-tune and a
RAFT adapter + RAG side by side on the same questions, at each number of retrieved passages.
Its configurations are ad-hoc (labelled, not saved as assistants)."""

from __future__ import annotations

from engine.assistants import AssistantConfig
from engine.errors import TailorError
from engine.evaluation.options import Target
from engine.finetune.adapters import Adapters
from engine.models.generation import Generation

BASE_RAG, PLAIN, RAFT_RAG = "base + RAG", "fine-tuned, no documents", "RAFT + RAG"


def ladder_targets(
    adapters: Adapters,
    generation: Generation,
    *,
    model: str,
    knowledge_base: str | None = None,
    raft_adapter: str | None = None,
    plain_adapter: str | None = None,
    retrieval_ks: tuple[int, ...] = (2, 5, 10),
    max_tokens: int = 256,
) -> list[Target]:
    """The rungs to compare, in order: Level 3 (``model`` + ``knowledge_base``) and Level 5
    (``raft_adapter`` + ``knowledge_base``) at each k of ``retrieval_ks``, Level 4
    (``plain_adapter``, no documents) between them; each answering greedily with at most
    ``max_tokens`` tokens. Adapters are checked to fit ``model`` (and the RAFT one to be RAFT)
    before anything runs."""
    if not retrieval_ks or any(not 1 <= k <= 50 for k in retrieval_ks):
        raise TailorError("Numbers of retrieved passages must be between 1 and 50.")
    if raft_adapter:
        if adapters.get(raft_adapter).kind != "raft":
            raise TailorError(f"Adapter '{raft_adapter}' was not trained on a RAFT dataset.")
        if not knowledge_base:
            raise TailorError("RAFT + RAG needs a knowledge base to retrieve from.")
    # Each is refused here, with the reason, if trained on another model.
    for adapter in (raft_adapter, plain_adapter):
        if adapter:
            generation.load_options(model, adapter)
    common = {"model": model, "temperature": 0.0, "max_tokens": max_tokens}
    targets = []
    if knowledge_base:
        for k in retrieval_ks:
            config = AssistantConfig(**common, knowledge_base=knowledge_base, retrieval_k=k)
            targets.append(Target.ad_hoc(f"Level 3 · k={k} · {BASE_RAG}", config))
    if plain_adapter:
        config = AssistantConfig(**common, adapter=plain_adapter)
        targets.append(Target.ad_hoc(f"Level 4 · {PLAIN}", config))
    if raft_adapter:
        for k in retrieval_ks:
            config = AssistantConfig(
                **common, adapter=raft_adapter, knowledge_base=knowledge_base, retrieval_k=k
            )
            targets.append(Target.ad_hoc(f"Level 5 · k={k} · {RAFT_RAG}", config))
    if not targets:
        raise TailorError("Choose a knowledge base or an adapter to compare.")
    return targets
