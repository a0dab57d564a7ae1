"""Running a GGUF model with llama.cpp: prompt rendering, streaming, cancel, and statistics.

``llama_cpp`` is imported here lazily, on first load, so the window opens before it is paid for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.errors import ModelUnavailable, TailorError
from engine.raft.format import RaftAnswer

# Used when a GGUF carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class LoadOptions:
    """How llama.cpp loads a model; a change means a reload."""

    path: Path
    n_ctx: int = 4096
    n_threads: int | None = None
    n_gpu_layers: int = 0
    lora_path: Path | None = None


@dataclass
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int | None = None
    stop: list[str] | None = None  # besides the chat template's own


class ModelUnloaded(ModelUnavailable):
    """Another task swapped the model out between loading it and using it. Raised before any
    token is produced, so the caller can load the model again and redo the work."""


@dataclass
class GenerationStats:
    """Shown under every reply."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token_s: float = 0.0
    total_s: float = 0.0
    tokens_per_s: float = 0.0
    stop_reason: str = ""

    @classmethod
    def measured(
        cls, prompt_tokens: int, completion_tokens: int, first: float, total: float, stop: str
    ) -> GenerationStats:
        """The stats of a generation timed from its start: decoding speed counts the tokens
        after the first, over the time after it."""
        decode_s = total - first
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            time_to_first_token_s=first,
            total_s=total,
            tokens_per_s=(completion_tokens - 1) / decode_s
            if completion_tokens > 1 and decode_s > 0
            else 0.0,
            stop_reason=stop,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.prompt_tokens} prompt tokens · {self.completion_tokens} completion tokens · "
            f"first token {self.time_to_first_token_s * 1000:.0f} ms · "
            f"{self.tokens_per_s:.1f} tokens/s"
        )


@dataclass
class TokenEvent:
    """A piece of the reply, as it arrives."""

    text: str


@dataclass
class Reply:
    """The finished reply; the last event of a generation."""

    text: str
    stats: GenerationStats
    prompt: str = ""
    messages: list[dict] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)  # Level 3: the passages cited as [n]
    # A RAFT adapter's reply, parsed once (answer, reasoning, quotes); None for other replies.
    raft: RaftAnswer | None = None


class CancelToken:
    """Set from any thread to stop a generation at the next token."""

    def __init__(self):
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def gpu_offload_available() -> bool:
    """Whether this llama.cpp build has a GPU backend (CUDA, Metal, …)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def _formatter(llama, chat_template: str):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    eos = llama.token_eos()
    bos = llama.token_bos()
    text = llama._model.token_get_text
    return Jinja2ChatFormatter(
        template=chat_template or CHATML_TEMPLATE,
        eos_token=text(eos) if eos != -1 else "",
        bos_token=text(bos) if bos != -1 else "",
        stop_token_ids=[eos] if eos != -1 else [],
    )


def reply_start(messages: list[dict]) -> str:
    """The start of the reply that ``messages`` ask for: the content of a final assistant
    message ("" when the last message is not the assistant's). The reply continues it, as
    llama.cpp's server and vLLM's ``continue_final_message`` do."""
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""


def render_prompt(formatter, messages: list[dict]) -> tuple[str, list[str]]:
    """The prompt text for ``messages`` (Jinja only: no llama.cpp call) and its stop strings:
    the conversation up to the reply, then the reply's start (:func:`reply_start`)."""
    start = reply_start(messages)
    result = formatter(messages=messages[:-1] if start else messages)
    stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
    return result.prompt + start, stop


class ChatTokenizer:
    """A model's tokenizer and chat template without its weights (llama.cpp ``vocab_only``):
    counts the tokens a conversation takes, in milliseconds. Background threads of the window
    count at the same time, and the engine may close it meanwhile: like :class:`LoadedModel`,
    every llama.cpp call holds the lock and a closed tokenizer raises :class:`ModelUnloaded`."""

    def __init__(self, path: Path, chat_template: str = ""):
        import llama_cpp

        self.llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self.formatter = _formatter(self.llama, chat_template)
        self.lock = threading.Lock()
        self.closed = False

    def count(self, messages: list[dict]) -> int:
        prompt = render_prompt(self.formatter, messages)[0]
        with self.lock:
            if self.closed:
                raise ModelUnloaded("The model's tokenizer was closed.")
            return len(self.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.llama.close()


class LoadedModel:
    """One model loaded in llama.cpp. Every call into llama.cpp holds :attr:`lock` and first
    checks that the model is still loaded: :meth:`close` frees the native memory, and a call on
    freed memory crashes the whole process. Once closed, every method raises
    :class:`ModelUnloaded`."""

    def __init__(self, options: LoadOptions, chat_template: str = ""):
        import llama_cpp

        self.options = options
        try:
            self.llama = llama_cpp.Llama(
                model_path=str(options.path),
                n_ctx=options.n_ctx,
                n_threads=options.n_threads,
                n_gpu_layers=options.n_gpu_layers,
                lora_path=str(options.lora_path) if options.lora_path else None,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise TailorError(f"llama.cpp could not load {options.path.name}: {exc}") from None
        self.formatter = _formatter(self.llama, chat_template)
        self._n_ctx = self.llama.n_ctx()
        # Not reentrant on purpose: stream() holds it across yields, and a generator that is
        # dropped unfinished may be closed on another thread, which an RLock would refuse.
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        """Free llama.cpp's memory now (not at interpreter exit, where it can fail noisily),
        once no call is using it; every later call raises :class:`ModelUnloaded`."""
        with self.lock:
            if not self.closed:
                self.closed = True
                self.llama.close()

    def _check_loaded(self) -> None:
        """Call with :attr:`lock` held."""
        if self.closed:
            raise ModelUnloaded("The model was unloaded to make room for another one.")

    @property
    def n_ctx(self) -> int:
        """The context window in tokens."""
        with self.lock:
            self._check_loaded()
            return self._n_ctx

    def render(self, messages: list[dict]) -> tuple[str, list[str]]:
        """The exact prompt text llama.cpp will see for ``messages``, and its stop strings. A
        final assistant message is the start of the reply, which the model continues."""
        return render_prompt(self.formatter, messages)

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes with this model's tokenizer."""
        with self.lock:
            self._check_loaded()
            return self._count(text)

    def _count(self, text: str) -> int:
        """Call with :attr:`lock` held and the model checked."""
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(
        self,
        messages: list[dict],
        params: SamplingParams,
        cancel: CancelToken | None = None,
    ) -> Iterator[TokenEvent | Reply]:
        """Generate a reply to ``messages`` token by token; the last event is a :class:`Reply`.

        Setting ``cancel`` stops at the next token: a normal outcome, so the reply so far still
        arrives, with ``stop_reason == "cancelled"``. :class:`ModelUnloaded` can only come
        before the first event: the model stays loaded until the reply is complete.
        """
        start_text = reply_start(messages)
        parts: list[str] = []
        stop_reason = ""
        with self.lock:
            self._check_loaded()
            prompt, stop = self.render(messages)
            prompt_tokens = self._count(prompt)
            room = self._n_ctx - prompt_tokens
            if room < 1:
                raise TailorError(
                    f"The conversation ({prompt_tokens} tokens) no longer fits the model's "
                    f"context window ({self._n_ctx} tokens). Start a new chat or use fewer "
                    "examples."
                )
            max_tokens = min(params.max_tokens, room)
            start = time.perf_counter()
            first = 0.0
            if start_text:  # shown at once: the model writes what follows it
                yield TokenEvent(start_text)
            chunks = self.llama.create_completion(
                prompt,
                max_tokens=max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                stop=stop + (params.stop or []),
                seed=params.seed,
                stream=True,
            )
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    piece = choice["text"]
                    if piece:
                        if not parts:
                            first = time.perf_counter() - start
                        parts.append(piece)
                        yield TokenEvent(piece)
                    if choice.get("finish_reason"):
                        stop_reason = choice["finish_reason"]
                    if cancel is not None and cancel.cancelled:
                        stop_reason = "cancelled"
                        break
            finally:
                chunks.close()
            total = time.perf_counter() - start
            written = "".join(parts)
            completion_tokens = self._count(written) if written else 0
        stats = GenerationStats.measured(
            prompt_tokens, completion_tokens, first, total, stop_reason
        )
        yield Reply(start_text + written, stats, prompt, messages)
