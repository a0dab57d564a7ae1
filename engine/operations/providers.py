"""The providers operations of :class:`engine.api.Engine`: remote model servers (any
OpenAI-compatible endpoint) and their models, addressed as ``PROVIDER/MODEL``. Only
:meth:`ProvidersOperations.provider_models` and generation with a remote model contact a
provider's host; the rest stays on this machine."""

from __future__ import annotations

from engine.providers import (
    DEFAULT_CONCURRENCY,
    DEFAULT_CONTEXT,
    DEFAULT_TIMEOUT_S,
    Provider,
    RemoteModel,
    env_var,
    keyring_available,
)
from engine.services import Services


class ProvidersOperations:
    services: Services

    def add_provider(
        self,
        name: str,
        base_url: str,
        api_key: str | None = None,
        *,
        context_size: int = DEFAULT_CONTEXT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        concurrency: int = DEFAULT_CONCURRENCY,
        price_in: float | None = None,
        price_out: float | None = None,
    ) -> Provider:
        """Add an OpenAI-compatible server as provider ``name``. Its key, if it needs one, is
        kept in the OS keyring only; where there is no keyring this is refused, and the key is
        given instead in the environment variable :meth:`provider_key_variable` names. Prompts
        for its models are packed to ``context_size`` tokens (estimated); evaluation runs send
        it ``concurrency`` requests at once and price its answers at ``price_in`` /
        ``price_out`` per million prompt / completion tokens, when given."""
        return self.services.providers.add(
            name, base_url, api_key, context_size, timeout_s, concurrency, price_in, price_out
        )

    def update_provider(self, name: str, **changes) -> Provider:
        """Change a provider's ``context_size``, ``timeout_s``, ``concurrency``, ``price_in``
        or ``price_out`` (a price of None forgets it). Asks no host."""
        return self.services.providers.update(name, **changes)

    def list_providers(self) -> list[Provider]:
        return self.services.providers.list()

    def get_provider(self, name: str) -> Provider:
        return self.services.providers.get(name)

    def remove_provider(self, name: str) -> None:
        """Forget a provider and delete its key from the OS keyring."""
        self.services.providers.remove(name)

    def provider_models(self, name: str) -> list[RemoteModel]:
        """The models provider ``name``'s server offers (asks its host: ``GET /v1/models``)."""
        return self.services.remote.models(self.services.providers.get(name))

    def list_remote_models(self) -> list[RemoteModel]:
        """Every added provider's models, each marked remote (asks every provider's host; the
        first that cannot answer raises its error)."""
        return [m for p in self.services.providers.list() for m in self.services.remote.models(p)]

    def is_remote_model(self, name: str) -> bool:
        """Whether ``name`` is ``PROVIDER/MODEL`` for an added provider (asks no host)."""
        return self.services.remote.resolve(name) is not None

    def model_host(self, name: str) -> str | None:
        """The host a remote model's prompts are sent to; None for a local model (asks no
        host). Front ends say it before they use the model."""
        handle = self.services.remote.resolve(name)
        return handle.provider.host if handle else None

    def keyring_available(self) -> bool:
        """Whether an OS keyring can hold provider keys on this system."""
        return keyring_available()

    def provider_key_variable(self, name: str) -> str:
        """The environment variable a provider's key may be given in (headless use)."""
        return env_var(name)
