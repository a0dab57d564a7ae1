"""One answer from an assistant configuration: retrieve (Level 3), pick examples (Level 2),
build the prompt the model or its RAFT adapter expects, generate, and save the exchange.

The window's chat, the command line, evaluation runs and the Level 3/4/5 comparison all answer
through :meth:`Chat.answer`, so a reply is built one way wherever it is asked for.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial

from engine import bundled
from engine.assistants import AssistantConfig, Assistants, AssistantVersion
from engine.conversations import Conversations
from engine.embeddings import Embedder
from engine.events import Loading, operation
from engine.examples import ExampleSets
from engine.finetune.adapters import Adapters
from engine.knowledge import answering, context
from engine.knowledge.bases import KnowledgeBases
from engine.models.generation import Generation
from engine.models.runtime import (
    CancelToken,
    GenerationStats,
    LoadedModel,
    Reply,
    SamplingParams,
    TokenEvent,
    reply_start,
)
from engine.prompting import FewShotSelector, build_messages
from engine.raft.format import SYSTEM_PROMPT as RAFT_SYSTEM_PROMPT
from engine.raft.format import format_prompt, parse_answer


class Chat:
    def __init__(
        self,
        generation: Generation,
        assistants: Assistants,
        examples: ExampleSets,
        few_shot: FewShotSelector,
        knowledge: KnowledgeBases,
        adapters: Adapters,
        conversations: Conversations,
        embedder: Embedder,
    ):
        self._generation = generation
        self._assistants = assistants
        self._examples = examples
        self._few_shot = few_shot
        self._knowledge = knowledge
        self._adapters = adapters
        self._conversations = conversations
        self._embedder = embedder

    def resolve(
        self,
        assistant: str | None = None,
        version: int | None = None,
        model: str | None = None,
        system: str | None = None,
        adapter: str | None = None,
    ) -> tuple[AssistantConfig, AssistantVersion | None]:
        """The configuration a chat runs with: an assistant's version, or an ad-hoc one."""
        if assistant:
            current = self._assistants.get(assistant, version)
            config = current.config
            changes = {
                k: v
                for k, v in (("model", model), ("system_prompt", system), ("adapter", adapter))
                if v
            }
            return (config.model_copy(update=changes) if changes else config), current
        return AssistantConfig(
            model=model or bundled.DEFAULT_MODEL_NAME,
            adapter=adapter,
            **({"system_prompt": system} if system is not None else {}),
        ), None

    def is_raft(self, config: AssistantConfig) -> bool:
        return bool(config.adapter) and self._adapters.get(config.adapter).kind == "raft"

    def build_messages(
        self,
        config: AssistantConfig,
        history: list[dict],
        message: str,
        hits: list | None = None,
        count_tokens=None,
        budget: int = 0,
    ) -> tuple[list[dict], list]:
        """The exact messages a reply to ``message`` is generated from, and the retrieved
        passages packed into them (Level 3) to fit ``budget`` tokens. A RAFT adapter gets the
        format it was trained on: its system prompt, passages in ``<DOCUMENT>`` blocks."""
        if self.is_raft(config):
            return self._raft_messages(history, message, hits or [], count_tokens, budget)
        demos = []
        if config.example_set:
            demos = self._few_shot.select(
                self._examples.get(config.example_set), message, config.few_shot_k
            )
        if not hits:
            return build_messages(config.system_prompt, demos, history, message), []
        base = build_messages(config.system_prompt, demos, history, "")
        used = count_tokens("\n".join(m["content"] for m in base)) + 16 * len(base)
        style, start = "plain", ""
        if config.knowledge_base:
            kb = self._knowledge.config(config.knowledge_base)
            style = kb.prompt_style
            # The reply's start (local models only: a remote API answers, it cannot continue).
            if kb.reply_start.strip() and not self._generation.remote(config.model):
                start = kb.reply_start.strip()
                used += count_tokens(start) + 16
            if kb.context == "sentences":
                embedder = self._knowledge.embedder_for(kb)
                hits = context.select(
                    message,
                    hits,
                    embedder.encode,
                    count_tokens,
                    min(kb.context_tokens, max(0, budget - used)),
                    kb.context_neighbours,
                    kb.lexical_weight,
                    kb.context_paragraph,
                )
        render = partial(answering.question_with_sources, style=style)
        kept = answering.pack(message, hits, count_tokens, budget - used, render)
        content = render(message, kept) if kept else message
        messages = build_messages(config.system_prompt, demos, history, content)
        if kept and start:  # the reply begins with it: the model continues from there
            messages.append({"role": "assistant", "content": start})
        return messages, kept

    @staticmethod
    def _raft_messages(history, message, hits, count_tokens, budget):
        def render(question, kept):
            return format_prompt(question, [h.text for h in kept])

        base = build_messages(RAFT_SYSTEM_PROMPT, [], history, "")
        kept = []
        if hits:
            used = count_tokens("\n".join(m["content"] for m in base)) + 16 * len(base)
            kept = answering.pack(message, hits, count_tokens, budget - used, render)
        return build_messages(RAFT_SYSTEM_PROMPT, [], history, render(message, kept)), kept

    @operation
    def answer(
        self,
        message: str,
        config: AssistantConfig,
        *,
        version: AssistantVersion | None = None,
        conversation_id: int | None = None,
        cancel: CancelToken | None = None,
        seed: int | None = None,
        history: list[dict] | None = None,
        stop: list[str] | None = None,
    ) -> Generator[Loading | TokenEvent, None, Reply]:
        """Answer ``message`` with ``config``: :class:`Loading` when a model must load, the
        reply's tokens, then the ``Outcome`` holding the :class:`Reply` (with its sources and,
        for a RAFT adapter, its parsed answer). With ``conversation_id`` the exchange continues
        that conversation and is saved there, as belonging to ``version`` when ``config`` is
        that version's. ``history`` (``{"role", "content"}`` dicts) comes before the
        conversation's messages; ``stop`` strings end the reply early."""
        history = list(history or [])
        if conversation_id is not None:
            history += [
                {"role": m.role, "content": m.content}
                for m in self._conversations.messages(conversation_id)
            ]
        needs_embedder = config.knowledge_base or (config.example_set and config.few_shot_k)
        if needs_embedder and not self._embedder.loaded:
            yield Loading(self._embedder.name)
        hits = []
        if config.knowledge_base:
            hits = self._knowledge.search(config.knowledge_base, message, config.retrieval_k)
            # Passages unrelated to the question only distract a small model: drop them, and
            # say so plainly when nothing is left rather than let the model invent.
            threshold = self._knowledge.config(config.knowledge_base).min_similarity
            relevant = [h for h in hits if h.similarity >= threshold]
            # A RAFT adapter was trained to ignore distractors: it gets all k passages.
            hits = hits if relevant and self.is_raft(config) else relevant
            if not hits:
                reply = _canned(answering.not_found_message(config.knowledge_base), message)
                yield TokenEvent(reply.text)
                self._save(conversation_id, message, reply, version, config)
                return reply
        params = SamplingParams(
            temperature=config.temperature,
            top_p=config.top_p,
            max_tokens=config.max_tokens,
            seed=seed,
            stop=stop,
        )
        kept: list = []

        def prepare(loaded: LoadedModel) -> list[dict]:
            nonlocal kept
            messages, kept = self.build_messages(
                config,
                history,
                message,
                hits,
                loaded.count_tokens,
                loaded.n_ctx - min(config.max_tokens, loaded.n_ctx // 2),
            )
            return messages

        reply: Reply | None = None
        for event in self._generation.stream(
            config.model, config.adapter, prepare, params, cancel, Loading
        ):
            if isinstance(event, Reply):
                reply = event
            else:
                yield event
        assert reply is not None
        reply.sources = [h.to_dict() | {"n": n} for n, h in enumerate(kept, 1)]
        if self.is_raft(config):
            reply.raft = parse_answer(reply.text, reply.sources)
        elif kept:
            # The engine, not the model, says which passage the answer comes from.
            written = reply.text.removeprefix(reply_start(reply.messages))
            cited = answering.attribute(written, message, kept)
            for source in reply.sources:
                source["cited"] = source["n"] in cited
        self._save(conversation_id, message, reply, version, config)
        return reply

    def _save(self, conversation_id, message, reply: Reply, ver, config) -> None:
        if conversation_id is None:
            return
        self._conversations.add(conversation_id, "user", message)
        self._conversations.add(
            conversation_id,
            "assistant",
            reply.text,
            # A reply from unsaved edits belongs to no saved version.
            assistant_version=ver.version if ver and config == ver.config else None,
            prompt={
                "messages": reply.messages,
                "rendered": reply.prompt,
                "sources": reply.sources,
                "raft": reply.raft.to_dict() if reply.raft else None,
            },
            stats=reply.stats.to_dict(),
        )


def _canned(text: str, message: str) -> Reply:
    return Reply(
        text,
        GenerationStats(stop_reason="nothing relevant retrieved"),
        "",
        [{"role": "user", "content": message}],
    )
