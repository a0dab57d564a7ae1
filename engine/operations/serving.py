"""The serving operations of :class:`engine.api.Engine`: what an OpenAI-compatible front end
(``engine/server``) needs — the models it offers, a completion from a whole message list, and
embeddings from the bundled embedder."""

from __future__ import annotations

from collections.abc import Iterator

from engine.assistants import AssistantVersion
from engine.errors import NotFound, TailorError
from engine.events import CancelToken, Loading, Outcome, Reply, TokenEvent
from engine.services import Services
from engine.serving import ServedModel, epoch


class ServingOperations:
    services: Services

    def served_models(self) -> list[ServedModel]:
        """Every assistant as ``NAME`` (its current version) and ``NAME@N`` (each version),
        then every model of the library that no assistant's name hides."""
        out: list[ServedModel] = []
        for name in self.services.assistants.names():
            versions = self.services.assistants.history(name)  # newest first
            current = self.services.assistants.current(name)
            for ver, model_id in [(current, name)] + [(v, f"{name}@{v.version}") for v in versions]:
                out.append(_served(model_id, name, ver))
        taken = {m.id for m in out}
        for model in self.services.models.list():
            if model.name not in taken:
                out.append(ServedModel(model.name, "model", model=model.name))
        return out

    def served_model(self, model_id: str) -> ServedModel:
        """What a client's ``model`` names: an assistant (``NAME`` or ``NAME@N``) before a
        library model of the same name; :class:`NotFound` when nothing has that name."""
        assistants = set(self.services.assistants.names())
        name, version = model_id, None
        if name not in assistants and "@" in model_id:
            head, _, tail = model_id.rpartition("@")
            if head in assistants and tail.isdigit():
                name, version = head, int(tail)
        if name in assistants:
            return _served(model_id, name, self.services.assistants.get(name, version))
        if model_id in {m.name for m in self.services.models.list()}:
            return ServedModel(model_id, "model", model=model_id)
        raise NotFound(f"There is no assistant or model called {model_id!r}.")

    def complete(
        self,
        messages: list[dict],
        model: str,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        seed: int | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[Loading | TokenEvent | Outcome[Reply]]:
        """A chat operation answering the last user message of ``messages`` (OpenAI's
        ``{"role", "content"}`` dicts), the earlier ones its history, as ``model`` (a
        :meth:`served_model` id) answers in the app: an assistant with its prompt, examples,
        knowledge base and adapter; a raw model with the first system message as its system
        prompt. The sampling values given replace the assistant's; ``stop`` strings end the
        reply early."""
        served = self.served_model(model)
        if not messages or messages[-1]["role"] != "user":
            raise TailorError("The last message must be the user's question.")
        question = messages[-1]["content"]
        history = list(messages[:-1])
        system = None
        if served.kind == "model" and history and history[0]["role"] == "system":
            system = history.pop(0)["content"]
        config, ver = self.services.chat.resolve(
            served.assistant, served.version, None if served.assistant else served.model, system
        )
        changes = {
            k: v
            for k, v in (("temperature", temperature), ("top_p", top_p), ("max_tokens", max_tokens))
            if v is not None
        }
        if changes:
            config = config.model_copy(update=changes)
        return self.services.chat.answer(
            question, config, version=ver, history=history, stop=stop, cancel=cancel, seed=seed
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length vectors of ``texts`` from the bundled embedder."""
        return self.services.embedder.encode(texts).tolist()

    @property
    def embedder_name(self) -> str:
        """The name of the bundled embedding model."""
        return self.services.embedder.name


def _served(model_id: str, name: str, ver: AssistantVersion) -> ServedModel:
    """How assistant ``name``'s version ``ver`` is offered under ``model_id``."""
    return ServedModel(
        model_id,
        "assistant",
        name,
        ver.version,
        ver.level_label,
        ver.config.model,
        epoch(ver.created_at),
        ver.adapter_kind == "raft",
    )
