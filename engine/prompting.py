"""Turning an assistant's configuration and a conversation into the messages sent to a model."""

from __future__ import annotations

import hashlib

import numpy as np

from engine.embeddings import Embedder
from engine.examples import Example
from engine.workspace import Workspace


def build_messages(
    system_prompt: str,
    demonstrations: list[Example],
    history: list[dict],
    user_message: str,
) -> list[dict]:
    """System prompt, then each example as a user/assistant turn pair, then the conversation."""
    messages: list[dict] = []
    if system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt})
    for example in demonstrations:
        messages.append({"role": "user", "content": example.input})
        messages.append({"role": "assistant", "content": example.output})
    messages.extend({"role": m["role"], "content": m["content"]} for m in history)
    messages.append({"role": "user", "content": user_message})
    return messages


class FewShotSelector:
    """Picks the k examples whose inputs are most similar to the user's message (dynamic
    few-shot). Example embeddings are cached in the workspace, so each is computed once."""

    def __init__(self, workspace: Workspace, embedder: Embedder):
        self.ws = workspace
        self.embedder = embedder

    def select(self, examples: list[Example], query: str, k: int) -> list[Example]:
        """The ``k`` most similar examples, least similar first so the closest sits nearest the
        question. With ``k`` 0 or at least the set's size, every example in its own order."""
        if k <= 0 or k >= len(examples):
            return list(examples)
        vectors = self._vectors([e.input for e in examples])
        q = self.embedder.encode([query])[0]
        scores = vectors @ q
        top = np.argsort(-scores, kind="stable")[:k]
        return [examples[i] for i in reversed(top)]

    def _vectors(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self.ws.db.execute(
                f"SELECT text_sha, vector FROM example_embeddings WHERE embedder = ? "
                f"AND text_sha IN ({','.join('?' * len(chunk))})",
                (self.embedder.name, *chunk),
            )
            for r in rows:
                found[r["text_sha"]] = np.frombuffer(r["vector"], dtype=np.float32)
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in found]
        if missing:
            fresh = self.embedder.encode([t for _, t in missing])
            self.ws.db.executemany(
                "INSERT OR REPLACE INTO example_embeddings(embedder, text_sha, vector) "
                "VALUES (?, ?, ?)",
                [
                    (self.embedder.name, k, v.tobytes())
                    for (k, _), v in zip(missing, fresh, strict=True)
                ],
            )
            found.update({k: v for (k, _), v in zip(missing, fresh, strict=True)})
        return np.stack([found[k] for k in keys])
