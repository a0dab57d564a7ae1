"""Tailor's local server: every assistant (and every local model) behind an OpenAI-compatible
API, so editors, notebooks, Open WebUI and scripts using the ``openai`` client can talk to it.

A front end like the window and the command line: it holds one :class:`engine.api.Engine` and
calls its verbs. ``app`` builds the FastAPI application, ``schemas`` holds OpenAI's request and
response shapes, ``queue`` the per-model bounded queues, ``auth`` the API key kept in the OS
keyring, and ``runner`` runs uvicorn in the foreground (``tailor serve``) or in a background
thread (the window's "Local server" switch).

Beyond OpenAI's fields, documented for clients that want them:

- ``GET /v1/models``: each model has ``tailor: {kind, assistant, version, level, model}``;
  ``kind`` is ``"assistant"`` (``NAME`` = its current version, ``NAME@N`` = version N) or
  ``"model"`` (a raw model of the library, answering with no customisation).
- ``POST /v1/chat/completions``: an assistant with a knowledge base returns the passages it
  cited as ``[n]`` in ``choices[0].message.tailor_sources`` (streamed: in the last chunk's
  ``delta``), each ``{n, source, text, page, heading, start, end, score, similarity}``. A RAFT
  assistant returns its final answer as ``content`` and its reasoning (with the quotes) as
  ``reasoning_content``; streamed, the reasoning arrives token by token as
  ``reasoning_content`` and the answer in the last chunk.
"""

from engine.server.auth import ENV_VAR, SERVICE, USERNAME, KeyUnavailable, api_key, is_loopback
from engine.server.runner import DEFAULT_HOST, DEFAULT_PORT, Server

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ENV_VAR",
    "SERVICE",
    "USERNAME",
    "KeyUnavailable",
    "Server",
    "api_key",
    "is_loopback",
]
