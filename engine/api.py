"""The engine's API: the one object the desktop app and the command line both drive.

    engine = Engine()                  # opens the workspace ($TAILOR_HOME or the user data dir)
    engine.first_run()                 # registers the bundled model and a default assistant
    for event in engine.chat("Hello", assistant="Default assistant"):
        ...                            # Loading, TokenEvent…, then Reply

Long work is a generator of typed events; pass a :class:`CancelToken` to stop it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine import bundled
from engine import settings as settings_mod
from engine.assistants import AssistantConfig, Assistants, AssistantVersion
from engine.conversations import Conversations
from engine.embeddings import Embedder
from engine.evaluation.runs import EvalRuns
from engine.evaluation.sets import EvalSets
from engine.examples import ExampleSets
from engine.finetune.adapters import Adapters
from engine.finetune.datasets import Datasets
from engine.finetune.jobs import Jobs
from engine.knowledge import answering
from engine.knowledge.bases import KnowledgeBases
from engine.models.library import Model, ModelLibrary
from engine.models.runtime import (
    CancelToken,
    LoadedModel,
    LoadOptions,
    ModelUnloaded,
    Reply,
    SamplingParams,
    TokenEvent,
    gpu_offload_available,
)
from engine.prompting import FewShotSelector, build_messages
from engine.raft.builds import RaftBuilds
from engine.raft.format import SYSTEM_PROMPT as RAFT_SYSTEM_PROMPT
from engine.raft.format import RaftAnswer, format_prompt, parse_answer
from engine.settings import Settings
from engine.workspace import Workspace

DEFAULT_ASSISTANT = "Default assistant"
# How many times a generation is started again when another task swaps its model out.
SWAP_ATTEMPTS = 3

__all__ = [
    "DEFAULT_ASSISTANT",
    "CancelToken",
    "Engine",
    "Loading",
    "RaftAnswer",
    "Reply",
    "TokenEvent",
]


@dataclass
class Loading:
    """A model (the chat model, or the embedder for dynamic few-shot) is being loaded."""

    model: str


class Engine:
    """Everything Tailor can do, headless."""

    def __init__(self, home: Path | None = None):
        self.workspace = Workspace(home)
        self.models = ModelLibrary(self.workspace)
        self.assistants = Assistants(self.workspace)
        self.examples = ExampleSets(self.workspace)
        self.conversations = Conversations(self.workspace)
        self.embedder = Embedder()
        self.few_shot = FewShotSelector(self.workspace, self.embedder)
        self.knowledge = KnowledgeBases(self.workspace, self.embedder)
        self.eval_sets = EvalSets(self.workspace)
        self.evals = EvalRuns(self)
        self.datasets = Datasets(self.workspace)
        self.adapters = Adapters(self.workspace)
        self.jobs = Jobs(self)
        self.raft = RaftBuilds(self)
        self._loaded: LoadedModel | None = None
        self._tokenizers: dict = {}  # model path → ChatTokenizer (vocabulary only)
        self._load_lock = threading.Lock()

    # -- set-up ------------------------------------------------------------------------------

    def first_run(self) -> None:
        """Register the bundled model and create the default assistant if there is none."""
        model = self.models.ensure_bundled()
        if not self.assistants.names():
            self.assistants.create(DEFAULT_ASSISTANT, AssistantConfig(model=model.name))

    @property
    def settings(self) -> Settings:
        return settings_mod.load(self.workspace)

    def save_settings(self, **changes) -> Settings:
        return settings_mod.save(self.workspace, **changes)

    def gpu_available(self) -> bool:
        return gpu_offload_available()

    # -- models ------------------------------------------------------------------------------

    def load_options(self, name: str, adapter: str | None = None) -> LoadOptions:
        """How the named model (with a LoRA adapter, if given) is loaded under the current
        settings. An adapter trained on another model is refused."""
        model: Model = self.models.get(name)
        s = self.settings
        lora = None
        if adapter:
            lora = self.adapters.for_model(adapter, model).gguf_path
        return LoadOptions(
            path=model.path,
            n_ctx=min(s.context_size, model.info.context_length or s.context_size),
            n_threads=s.threads,
            n_gpu_layers=s.gpu_layers if self.gpu_available() else 0,
            lora_path=lora,
        )

    def load_model(self, name: str, adapter: str | None = None) -> LoadedModel:
        """The named model, loaded with the current settings; reuses the loaded one if equal."""
        model: Model = self.models.get(name)
        options = self.load_options(name, adapter)
        with self._load_lock:
            if self._loaded is None or self._loaded.options != options:
                if self._loaded is not None:
                    # Free the old one before loading the next, once no generation uses it
                    # (an evaluation run, RAFT drafting and the chat can ask for different
                    # models); a task still holding it gets ModelUnloaded and loads again.
                    self._loaded.close()
                    self._loaded = None
                self._loaded = LoadedModel(options, model.info.chat_template)
            return self._loaded

    def generate(
        self,
        model: str,
        messages: list[dict],
        params: SamplingParams,
        cancel: CancelToken | None = None,
    ) -> Reply:
        """One whole reply from ``model`` (background work: question writing, RAFT drafts,
        judging). A model swapped out meanwhile is loaded again (see :meth:`_generation`)."""
        events = self._generation(model, None, lambda _loaded: messages, params, cancel)
        return deque(events, maxlen=1)[0]  # the last event is the Reply

    def _generation(
        self,
        model: str,
        adapter: str | None,
        prepare: Callable[[LoadedModel], list[dict]],
        params: SamplingParams,
        cancel: CancelToken | None,
    ) -> Iterator[Loading | TokenEvent | Reply]:
        """The one place a swapped-out model is handled: load ``model`` (with ``adapter``),
        build the messages with ``prepare(loaded)`` (which may count tokens with it) and stream
        the reply. Another task can load a different model at any point before the first
        token (an evaluation, RAFT drafting and the chat share one loaded model); then
        everything is redone with the model loaded again, a few times at most, so two tasks
        that keep taking the model from each other end with a message instead of looping."""
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            if not self.is_loaded(model, adapter):
                yield Loading(model + (f" + {adapter}" if adapter else ""))
            try:
                loaded = self.load_model(model, adapter)
                events = loaded.stream(prepare(loaded), params, cancel)
                first = next(events)  # after this the model stays loaded until the Reply
            except ModelUnloaded:
                if attempt == SWAP_ATTEMPTS:
                    raise ModelUnloaded(
                        f"{model} was unloaded {SWAP_ATTEMPTS} times in a row to make room "
                        "for another model that another task is using. Try again when it has "
                        "finished."
                    ) from None
                continue
            yield first
            yield from events
            return

    def token_counter(self, name: str):
        """A function giving the number of tokens a conversation takes with this model."""
        from engine.models.runtime import ChatTokenizer

        model = self.models.get(name)
        key = str(model.path)
        with self._load_lock:  # two threads asking at once share one tokenizer
            if key not in self._tokenizers:
                self._tokenizers[key] = ChatTokenizer(model.path, model.info.chat_template)
            return self._tokenizers[key].count

    def is_loaded(self, name: str, adapter: str | None = None) -> bool:
        loaded = self._loaded
        return loaded is not None and loaded.options == self.load_options(name, adapter)

    # -- chat --------------------------------------------------------------------------------

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
            current = self.assistants.get(assistant, version)
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
            demos = self.few_shot.select(
                self.examples.get(config.example_set), message, config.few_shot_k
            )
        if not hits:
            return build_messages(config.system_prompt, demos, history, message), []
        base = build_messages(config.system_prompt, demos, history, "")
        used = count_tokens("\n".join(m["content"] for m in base)) + 16 * len(base)
        kept = answering.pack(message, hits, count_tokens, budget - used)
        content = answering.question_with_sources(message, kept) if kept else message
        return build_messages(config.system_prompt, demos, history, content), kept

    def is_raft(self, config: AssistantConfig) -> bool:
        return bool(config.adapter) and self.adapters.get(config.adapter).kind == "raft"

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
    ) -> Iterator[Loading | TokenEvent | Reply]:
        """Answer ``message``; yields :class:`Loading` (if a model must load), the reply's
        tokens, then the :class:`Reply`. With ``conversation_id`` the exchange continues and is
        saved there; ``config`` overrides the assistant's saved one (unsaved edits in the GUI).
        With a knowledge base attached, the reply cites retrieved passages (``Reply.sources``);
        a RAFT adapter's reply comes parsed (``Reply.raft``: answer, reasoning, quotes).
        """
        resolved, ver = self.resolve(assistant, version, model, system, adapter)
        config = config or resolved
        history = []
        if conversation_id is not None:
            history = [
                {"role": m.role, "content": m.content}
                for m in self.conversations.messages(conversation_id)
            ]
        needs_embedder = config.knowledge_base or (config.example_set and config.few_shot_k)
        if needs_embedder and not self.embedder.loaded:
            yield Loading(self.embedder.name)
        hits = []
        if config.knowledge_base:
            hits = self.knowledge.search(config.knowledge_base, message, config.retrieval_k)
            # Passages unrelated to the question only distract a small model: drop them, and
            # say so plainly when nothing is left rather than let the model invent.
            threshold = self.knowledge.config(config.knowledge_base).min_similarity
            relevant = [h for h in hits if h.similarity >= threshold]
            # A RAFT adapter was trained to ignore distractors: it gets all k passages.
            hits = hits if relevant and self.is_raft(config) else relevant
            if not hits:
                reply = self._canned(answering.not_found_message(config.knowledge_base), message)
                yield TokenEvent(reply.text)
                self._save(conversation_id, message, reply, ver, config)
                yield reply
                return
        params = SamplingParams(
            temperature=config.temperature,
            top_p=config.top_p,
            max_tokens=config.max_tokens,
            seed=seed,
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
        for event in self._generation(config.model, config.adapter, prepare, params, cancel):
            if isinstance(event, Reply):
                reply = event
            else:
                yield event
        assert reply is not None
        reply.sources = [h.to_dict() | {"n": n} for n, h in enumerate(kept, 1)]
        if self.is_raft(config):
            reply.raft = parse_answer(reply.text, reply.sources)
        self._save(conversation_id, message, reply, ver, config)
        yield reply

    @staticmethod
    def _canned(text: str, message: str) -> Reply:
        from engine.models.runtime import GenerationStats

        return Reply(
            text,
            GenerationStats(stop_reason="nothing relevant retrieved"),
            "",
            [{"role": "user", "content": message}],
        )

    def _save(self, conversation_id, message, reply: Reply, ver, config) -> None:
        if conversation_id is None:
            return
        self.conversations.add(conversation_id, "user", message)
        self.conversations.add(
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

    def close(self) -> None:
        for tokenizer in self._tokenizers.values():
            tokenizer.close()
        self._tokenizers.clear()
        if self._loaded is not None:
            self._loaded.close()
        self._loaded = None
        self.workspace.close()
