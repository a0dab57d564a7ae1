"""Remote model providers: any OpenAI-compatible endpoint (OpenAI, OpenRouter, a vLLM or
llama.cpp server, Ollama, another Tailor), added by name and base URL.

A provider's models are addressed as ``PROVIDER/MODEL`` (``openrouter/meta-llama/llama-3-8b``:
everything after the first ``/`` is the provider's own model id) wherever a model name is used.

The API key lives only in the OS keyring, under the service :data:`KEYRING_SERVICE` and the
user name ``provider:NAME``, or — headless, where there is no keyring — in the environment
variable :func:`env_var` names, read each time the provider is used. It is never written to
SQLite, settings, logs, messages or process arguments, and nothing falls back silently to a
plain file: without a keyring, adding a key is refused with that alternative named.

``keyring`` is imported when a key is first needed (it takes a fifth of a second to import).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from engine import storage
from engine.errors import AlreadyExists, NotFound, TailorError
from engine.workspace import Workspace

KEYRING_SERVICE = "Tailor"
DEFAULT_CONTEXT = 8192
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64


@dataclass(frozen=True)
class Provider:
    """An OpenAI-compatible endpoint. ``key_source`` says where its key is looked for:
    ``keyring``, ``env`` (the environment variable :attr:`key_env`) or ``none``; the key itself
    is never part of the record."""

    name: str
    base_url: str
    key_source: str = "none"
    context_size: int = DEFAULT_CONTEXT
    timeout_s: float = DEFAULT_TIMEOUT_S
    concurrency: int = DEFAULT_CONCURRENCY  # requests an evaluation run sends it at once
    price_in: float | None = None  # API price per million prompt tokens (None: unknown)
    price_out: float | None = None  # ... and per million completion tokens

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What a request with these token counts costs at the provider's prices (None when
        its prices are not known)."""
        if self.price_in is None and self.price_out is None:
            return None
        return (
            prompt_tokens * (self.price_in or 0.0) + completion_tokens * (self.price_out or 0.0)
        ) / 1e6

    @property
    def host(self) -> str:
        """The host (and port) requests go to, as commands and messages name it."""
        return urlsplit(self.base_url).netloc

    @property
    def key_env(self) -> str:
        return env_var(self.name)

    @property
    def key_description(self) -> str:
        return {
            "keyring": "key in the OS keyring",
            "env": f"key from ${self.key_env}",
            "none": "no key",
        }[self.key_source]


@dataclass(frozen=True)
class RemoteModel:
    """A model offered by a provider, addressed as ``provider/model_id``."""

    provider: str
    model_id: str
    host: str
    remote: bool = True  # beside local models in a list, this marks it

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model_id}"


def env_var(provider: str) -> str:
    """The environment variable a provider's key may come from: ``TAILOR_KEY_`` and the name in
    upper snake case (``my-vllm`` → ``TAILOR_KEY_MY_VLLM``)."""
    return "TAILOR_KEY_" + (re.sub(r"[^A-Za-z0-9]+", "_", provider).strip("_").upper() or "_")


def keyring_available() -> bool:
    """Whether an OS keyring backend (Secret Service, macOS Keychain, Windows Credential
    Locker, …) is there to hold keys."""
    import keyring
    import keyring.backends.fail

    backend = keyring.get_keyring()
    if isinstance(backend, keyring.backends.fail.Keyring):
        return False
    # A chainer with nothing to chain is the same as none.
    return getattr(backend, "backends", None) != []


def _no_keyring_message(name: str) -> str:
    return (
        "No OS keyring is available on this system (on Linux that means no Secret Service, "
        "such as GNOME Keyring or KWallet, is running), and Tailor never stores a key "
        f"anywhere else. For headless use, put the key in the environment variable "
        f"{env_var(name)} and add provider '{name}' without a key: Tailor reads it from there "
        "each time the provider is used and never writes it down."
    )


def _check_settings(
    context_size: int,
    timeout_s: float,
    concurrency: int,
    price_in: float | None,
    price_out: float | None,
) -> None:
    if context_size < 256:
        raise TailorError("A provider's context size must be at least 256 tokens.")
    if timeout_s <= 0:
        raise TailorError("A provider's timeout must be more than 0 seconds.")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise TailorError(
            f"A provider's concurrency must be between 1 and {MAX_CONCURRENCY} requests at once."
        )
    for which, price in (("prompt", price_in), ("completion", price_out)):
        if price is not None and price < 0:
            raise TailorError(f"A provider's {which} token price cannot be negative.")


def normalize_url(url: str) -> str:
    """A checked base URL: http(s), a host, no credentials in it, ``/v1`` added when no path
    is given (the usual mistake), no trailing slash."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TailorError(
            f"'{url}' is not a server address: give one such as http://127.0.0.1:8080/v1 or "
            "https://api.openai.com/v1."
        )
    if parts.username or parts.password:
        raise TailorError(
            "The address contains a user name or password; give the address without it and "
            "the key separately (it is kept in the OS keyring)."
        )
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class Providers:
    """The providers of one workspace, and their keys."""

    def __init__(self, workspace: Workspace):
        self._ws = workspace

    # -- records -----------------------------------------------------------------------------

    def add(
        self,
        name: str,
        base_url: str,
        api_key: str | None = None,
        context_size: int = DEFAULT_CONTEXT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        concurrency: int = DEFAULT_CONCURRENCY,
        price_in: float | None = None,
        price_out: float | None = None,
    ) -> Provider:
        """Record a provider; its key, if given, goes into the OS keyring (refused, with the
        environment-variable alternative, when there is none). Without a key, the provider
        uses :func:`env_var`'s variable if it is set, else no key (a local server)."""
        name = storage.check_name(name, "A provider")
        if "/" in name:
            raise TailorError(
                f"A provider name cannot contain '/': models are addressed as PROVIDER/MODEL "
                f"({name!r})."
            )
        url = normalize_url(base_url)
        _check_settings(context_size, timeout_s, concurrency, price_in, price_out)
        if self._row(name) is not None:
            raise AlreadyExists(f"A provider named '{name}' already exists.")
        if api_key:
            source = "keyring"
            self._store_key(name, api_key)
        else:
            source = "env" if os.environ.get(env_var(name)) else "none"
        try:
            self._ws.db.execute(
                "INSERT INTO providers(name, base_url, key_source, context_size, timeout_s, "
                "concurrency, price_in, price_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    url,
                    source,
                    int(context_size),
                    float(timeout_s),
                    int(concurrency),
                    price_in,
                    price_out,
                ),
            )
        except BaseException:
            if api_key:
                self._delete_key(name)
            raise
        return self.get(name)

    def update(self, name: str, **changes) -> Provider:
        """Change a provider's settings (``context_size``, ``timeout_s``, ``concurrency``,
        ``price_in``, ``price_out``; a price of None forgets it). Its address and key stay: to
        change those, remove it and add it again."""
        allowed = {"context_size", "timeout_s", "concurrency", "price_in", "price_out"}
        if unknown := set(changes) - allowed:
            raise TailorError(f"A provider has no setting {', '.join(sorted(unknown))}.")
        provider = self.get(name)
        values = {k: getattr(provider, k) for k in allowed} | changes
        _check_settings(**values)
        if changes:
            columns = ", ".join(f"{k} = ?" for k in changes)
            self._ws.db.execute(
                f"UPDATE providers SET {columns} WHERE name = ?",
                (*changes.values(), provider.name),
            )
        return self.get(provider.name)

    def list(self) -> list[Provider]:
        rows = self._ws.db.execute("SELECT * FROM providers ORDER BY name").fetchall()
        return [self._provider(r) for r in rows]

    def get(self, name: str) -> Provider:
        row = self._row(name)
        if row is None:
            raise NotFound(f"There is no provider named '{name}'.")
        return self._provider(row)

    def remove(self, name: str) -> None:
        """Forget a provider and delete its key from the keyring."""
        provider = self.get(name)
        self._ws.db.execute("DELETE FROM providers WHERE name = ?", (provider.name,))
        if provider.key_source == "keyring":
            self._delete_key(provider.name)

    def resolve(self, name: str) -> tuple[Provider, str] | None:
        """``(provider, model_id)`` when ``name`` is ``PROVIDER/MODEL`` for an added provider,
        else None (a local model's name). Names without ``/`` never touch the database."""
        if "/" not in (name or ""):
            return None
        prefix, model_id = name.split("/", 1)
        row = self._row(prefix)
        if row is None or not model_id:
            return None
        return self._provider(row), model_id

    def _row(self, name: str):
        return self._ws.db.execute("SELECT * FROM providers WHERE name = ?", (name,)).fetchone()

    @staticmethod
    def _provider(row) -> Provider:
        return Provider(
            row["name"],
            row["base_url"],
            row["key_source"],
            row["context_size"],
            row["timeout_s"],
            row["concurrency"],
            row["price_in"],
            row["price_out"],
        )

    # -- keys --------------------------------------------------------------------------------

    def key(self, provider: Provider) -> str | None:
        """The provider's key, read now: the environment variable first (headless use), then
        the OS keyring; None when it has none."""
        from_env = os.environ.get(provider.key_env)
        if from_env:
            return from_env
        if provider.key_source != "keyring":
            return None
        import keyring
        import keyring.errors

        if not keyring_available():
            raise TailorError(
                f"The key of provider '{provider.name}' is in the OS keyring, but no keyring is "
                f"available now. Unlock or start it, or set {provider.key_env}."
            )
        try:
            found = keyring.get_password(KEYRING_SERVICE, f"provider:{provider.name}")
        except keyring.errors.KeyringError as exc:
            raise TailorError(
                f"The OS keyring refused to give the key of provider '{provider.name}' "
                f"({type(exc).__name__}). Unlock it, or set {provider.key_env}."
            ) from None
        if not found:
            raise TailorError(
                f"The key of provider '{provider.name}' is no longer in the OS keyring. Remove "
                f"the provider and add it again with its key, or set {provider.key_env}."
            )
        return found

    def _store_key(self, name: str, key: str) -> None:
        import keyring
        import keyring.errors

        if not keyring_available():
            raise TailorError(_no_keyring_message(name))
        try:
            keyring.set_password(KEYRING_SERVICE, f"provider:{name}", key)
        except keyring.errors.KeyringError as exc:
            # The exception's text is not shown: a backend might repeat what it was given.
            raise TailorError(
                f"The OS keyring refused to store the key ({type(exc).__name__}); nothing was "
                f"saved. Unlock the keyring and try again, or use {env_var(name)}."
            ) from None

    @staticmethod
    def _delete_key(name: str) -> None:
        import keyring
        import keyring.errors

        # Already gone, or no keyring: then there is nothing of ours to delete.
        with contextlib.suppress(keyring.errors.KeyringError):
            keyring.delete_password(KEYRING_SERVICE, f"provider:{name}")
