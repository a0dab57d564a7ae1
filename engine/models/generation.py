"""The one loaded chat model, shared by every task that generates: the chat, evaluation runs,
RAFT drafting, question writing and judging. Other services receive it as a
:class:`TextGenerator` rather than the whole engine.

Loading a different model frees the old one once no generation uses it; a task that was using
it gets :class:`ModelUnloaded` and :meth:`Generation.stream` loads its model again (a few times
at most, so two tasks taking the model from each other end with a message, not a loop).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

from engine import settings as settings_mod
from engine.errors import TailorError
from engine.finetune.adapters import Adapters
from engine.models.library import ModelLibrary
from engine.models.remote import RemoteHandle, RemoteModels, estimate_tokens
from engine.models.runtime import (
    CancelToken,
    ChatTokenizer,
    LoadedModel,
    LoadOptions,
    ModelUnloaded,
    Reply,
    SamplingParams,
    TokenEvent,
    gpu_offload_available,
)
from engine.workspace import Workspace

# How many times a generation is started again when another task swaps its model out.
SWAP_ATTEMPTS = 3


class TextGenerator(Protocol):
    """What a service needs to have text written: one whole reply from a named model."""

    def generate(
        self,
        model: str,
        messages: list[dict],
        params: SamplingParams,
        cancel: CancelToken | None = None,
    ) -> Reply: ...


class Generation:
    """Loads models with the workspace's settings and generates with them, one model at a
    time."""

    def __init__(
        self,
        workspace: Workspace,
        models: ModelLibrary,
        adapters: Adapters,
        remote: RemoteModels | None = None,
    ):
        self._workspace = workspace
        self._models = models
        self._adapters = adapters
        self._remote = remote  # PROVIDER/MODEL names go there; every other name is local
        self._loaded: LoadedModel | None = None
        self._tokenizers: dict[str, ChatTokenizer] = {}  # model path → vocabulary only
        self._lock = threading.Lock()

    def remote(self, name: str, adapter: str | None = None) -> RemoteHandle | None:
        """The remote model ``name`` stands for (None for a local model); an adapter, which
        only llama.cpp applies, is refused with it."""
        handle = self._remote.resolve(name) if self._remote is not None else None
        if handle is not None and adapter:
            raise TailorError(
                f"Adapter '{adapter}' cannot be applied to {name}: adapters work only with "
                f"local models, and {name} runs on {handle.provider.host}."
            )
        return handle

    def load_options(self, name: str, adapter: str | None = None) -> LoadOptions:
        """How the named model (with a LoRA adapter, if given) is loaded under the current
        settings. An adapter trained on another model is refused."""
        self.remote(name, adapter)  # a remote model takes none
        model = self._models.get(name)
        s = settings_mod.load(self._workspace)
        lora = self._adapters.for_model(adapter, model).gguf_path if adapter else None
        return LoadOptions(
            path=model.path,
            n_ctx=min(s.context_size, model.info.context_length or s.context_size),
            n_threads=s.threads,
            n_gpu_layers=s.gpu_layers if gpu_offload_available() else 0,
            lora_path=lora,
        )

    def load(self, name: str, adapter: str | None = None) -> LoadedModel | RemoteHandle:
        """The named model, loaded with the current settings; reuses the loaded one if equal.
        A remote model needs no loading (and nothing is sent to its host here)."""
        if handle := self.remote(name, adapter):
            return handle
        model = self._models.get(name)
        options = self.load_options(name, adapter)
        with self._lock:
            if self._loaded is None or self._loaded.options != options:
                if self._loaded is not None:
                    self._loaded.close()
                    self._loaded = None
                self._loaded = LoadedModel(options, model.info.chat_template)
            return self._loaded

    def is_loaded(self, name: str, adapter: str | None = None) -> bool:
        if self.remote(name, adapter):
            return True
        loaded = self._loaded
        return loaded is not None and loaded.options == self.load_options(name, adapter)

    def stream(
        self,
        model: str,
        adapter: str | None,
        prepare: Callable[[LoadedModel], list[dict]],
        params: SamplingParams,
        cancel: CancelToken | None,
        loading: Callable[[str], object] | None = None,
    ) -> Iterator[object]:
        """Load ``model`` (with ``adapter``), build the messages with ``prepare(loaded)``
        (which may count tokens with it) and stream the reply: ``loading(name)``'s event when
        the model must load first, the :class:`TokenEvent` s, then the :class:`Reply`. Another
        task can load a different model at any point before the first token; then everything
        is redone with the model loaded again. A remote model's reply streams from its server,
        with ``prepare`` given a stand-in counting tokens by estimate."""
        if handle := self.remote(model, adapter):
            yield from self._remote.stream(handle, prepare(handle), params, cancel)
            return
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            if loading is not None and not self.is_loaded(model, adapter):
                yield loading(model + (f" + {adapter}" if adapter else ""))
            try:
                loaded = self.load(model, adapter)
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

    def generate(
        self,
        model: str,
        messages: list[dict],
        params: SamplingParams,
        cancel: CancelToken | None = None,
    ) -> Reply:
        """One whole reply from ``model`` (background work: question writing, RAFT drafts,
        judging)."""
        events = self.stream(model, None, lambda _loaded: messages, params, cancel)
        return deque(events, maxlen=1)[0]  # the last event is the Reply

    def token_counter(self, name: str) -> Callable[[str], int]:
        """A function giving the number of tokens a text takes with this model (an estimate
        for a remote one)."""
        if self.remote(name):
            return estimate_tokens
        model = self._models.get(name)
        key = str(model.path)
        with self._lock:  # two threads asking at once share one tokenizer
            if key not in self._tokenizers:
                self._tokenizers[key] = ChatTokenizer(model.path, model.info.chat_template)
            return self._tokenizers[key].count

    def close(self) -> None:
        for tokenizer in self._tokenizers.values():
            tokenizer.close()
        self._tokenizers.clear()
        if self._loaded is not None:
            self._loaded.close()
        self._loaded = None


__all__ = ["Generation", "TextGenerator", "TokenEvent"]
