"""Generation with a remote model: any OpenAI-compatible server, through the official ``openai``
client, streaming over SSE.

Retrieval, examples and prompt building stay on this machine; only the finished messages go
out. Token counts come from the server's ``usage`` fields. For packing passages into the
remote model's context (whose tokenizer is not here) text is estimated at
:data:`CHARS_PER_TOKEN` characters a token, within the provider's configured context size.

Every failure becomes a :class:`RemoteModelError` naming the host, never the key. It is a
:class:`ModelUnavailable`: like a model another task unloaded, an unreachable model is no fault
of the work in hand, so an evaluation run or RAFT build leaves that work undone (to resume)
instead of recording the failure as its result, and a chat saves nothing of the exchange.

``openai`` (and ``httpx``) are imported on first use: together they take about a second, which
local-only use never pays.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import ModelUnavailable
from engine.models.library import Model, ModelLibrary
from engine.models.runtime import (
    CancelToken,
    GenerationStats,
    Reply,
    SamplingParams,
    TokenEvent,
)
from engine.providers import Provider, Providers, RemoteModel

if TYPE_CHECKING:
    import openai

# An estimate on the safe side: English averages 3.5–4.5 characters a token with common
# tokenizers, so 3 rarely undercounts and a packed prompt still fits.
CHARS_PER_TOKEN = 3
CONNECT_TIMEOUT_S = 10.0


class RemoteModelError(ModelUnavailable):
    """A remote model could not answer: host unreachable, key refused, timeout, or the
    connection lost mid-reply. The message names the host, never the key."""


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class RemoteHandle:
    """What a prompt is built against, standing in for a loaded model: the context size and a
    token estimate."""

    name: str
    provider: Provider
    model_id: str

    @property
    def n_ctx(self) -> int:
        return self.provider.context_size

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)


class RemoteModels:
    """Talks to providers' servers. Nothing here runs unless a remote model is used."""

    def __init__(self, providers: Providers):
        self._providers = providers

    def resolve(self, name: str) -> RemoteHandle | None:
        found = self._providers.resolve(name)
        return RemoteHandle(name, found[0], found[1]) if found else None

    def _client(self, provider: Provider) -> tuple[openai.OpenAI, str | None]:
        import httpx
        import openai

        key = self._providers.key(provider)
        client = openai.OpenAI(
            base_url=provider.base_url,
            # The client insists on a key; a local server without one ignores this placeholder.
            api_key=key or "no-key",
            timeout=httpx.Timeout(provider.timeout_s, connect=CONNECT_TIMEOUT_S),
            max_retries=0,
        )
        return client, key

    def models(self, provider: Provider) -> list[RemoteModel]:
        """The models the provider's server offers (``GET /v1/models``)."""
        import httpx
        import openai

        client, key = self._client(provider)
        try:
            with client:
                ids = sorted(m.id for m in client.models.list())
        except (openai.APIError, httpx.HTTPError) as exc:
            raise _error(exc, provider, "", key) from None
        return [RemoteModel(provider.name, i, provider.host) for i in ids]

    def stream(
        self,
        handle: RemoteHandle,
        messages: list[dict],
        params: SamplingParams,
        cancel: CancelToken | None = None,
    ) -> Iterator[TokenEvent | Reply]:
        """Stream a reply to ``messages``: :class:`TokenEvent` s, then the :class:`Reply` with
        the server's token counts (an estimate only when the server sends none). A stop through
        ``cancel`` ends the reply early, as with a local model."""
        import httpx
        import openai

        provider = handle.provider
        client, key = self._client(provider)
        extra = {"seed": params.seed} if params.seed is not None else {}
        parts: list[str] = []
        usage = None
        stop_reason = ""
        start = time.perf_counter()
        first = 0.0
        with client:
            try:
                chunks = client.chat.completions.create(
                    model=handle.model_id,
                    messages=messages,
                    max_tokens=params.max_tokens,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    stream=True,
                    stream_options={"include_usage": True},
                    **extra,
                )
            except (openai.APIError, httpx.HTTPError) as exc:
                raise _error(exc, provider, handle.model_id, key) from None
            try:
                for chunk in chunks:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        piece = choice.delta.content if choice.delta else None
                        if piece:
                            if not parts:
                                first = time.perf_counter() - start
                            parts.append(piece)
                            yield TokenEvent(piece)
                        if choice.finish_reason:
                            stop_reason = choice.finish_reason
                    if cancel is not None and cancel.cancelled:
                        stop_reason = "cancelled"
                        break
            except (openai.APIError, httpx.HTTPError) as exc:
                raise _error(exc, provider, handle.model_id, key, midway=bool(parts)) from None
            finally:
                chunks.close()
        total = time.perf_counter() - start
        text = "".join(parts)
        if usage is not None:
            prompt_tokens, completion_tokens = usage.prompt_tokens, usage.completion_tokens
        else:
            prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
            completion_tokens = estimate_tokens(text)
        stats = GenerationStats.measured(
            prompt_tokens, completion_tokens, first, total, stop_reason
        )
        yield Reply(text, stats, "", messages)


def _error(
    exc: Exception, provider: Provider, model_id: str, key: str | None, midway: bool = False
) -> RemoteModelError:
    """The failure in words, naming the host and never the key (a server's own message is
    shown only with the key taken out of it)."""
    import httpx
    import openai

    host = provider.host
    what = f"model '{model_id}' at {host}" if model_id else host
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        text = (
            f"{what} did not answer within {provider.timeout_s:g} seconds (provider "
            f"'{provider.name}'). Try again, or give it a longer timeout."
        )
    elif midway or (isinstance(exc, httpx.HTTPError) and not isinstance(exc, httpx.ConnectError)):
        text = (
            f"The connection to {host} broke off in the middle of the reply (provider "
            f"'{provider.name}'); nothing of it was kept. Try again."
        )
    elif isinstance(exc, (openai.APIConnectionError, httpx.ConnectError)):
        text = (
            f"Could not reach {host} (provider '{provider.name}'): is the server running and "
            "the address right?"
        )
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        given = "the API key it was given" if key else "the request: no API key was given"
        text = (
            f"{host} refused {given} ({exc.status_code}, provider '{provider.name}'). Check "
            f"the key, or set {provider.key_env}."
        )
    elif isinstance(exc, openai.NotFoundError) and model_id:
        text = f"{host} has no model '{model_id}' (provider '{provider.name}')."
    elif isinstance(exc, openai.APIStatusError):
        text = f"{host} answered with an error ({exc.status_code}): {_server_message(exc)}"
    else:
        text = f"{host} could not be used (provider '{provider.name}'): {type(exc).__name__}."
    if key:
        text = text.replace(key, "[key]")
    return RemoteModelError(text)


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(message, str):
            return message[:300]
    return str(exc)[:300]


class ModelCatalog:
    """Every name a model may be given by: the local library's and ``PROVIDER/MODEL`` for each
    added provider. Services that only check a name exists (the judge, the RAFT writer, an
    assistant's model) are given this; nothing here contacts a provider."""

    def __init__(self, library: ModelLibrary, remote: RemoteModels):
        self._library = library
        self._remote = remote

    def get(self, name: str) -> Model | RemoteHandle:
        """The remote model ``name`` stands for, or else the library's model of that name
        (:class:`NotFound` if neither)."""
        return self._remote.resolve(name) or self._library.get(name)


__all__ = ["ModelCatalog", "RemoteHandle", "RemoteModelError", "RemoteModels", "estimate_tokens"]
