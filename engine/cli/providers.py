"""``tailor providers``: remote model servers (any OpenAI-compatible endpoint), whose models are
then used as ``PROVIDER/MODEL``. A key is never taken as a command-line value (process
arguments are visible to other users): it is typed at a hidden prompt, or read from an
environment variable, and kept in the OS keyring."""

from __future__ import annotations

import json
import os

import click

from engine.cli.common import advice, engine_of
from engine.errors import NotFound


@click.group()
def providers() -> None:
    """Remote model servers (OpenAI, OpenRouter, vLLM, llama.cpp, Ollama, another Tailor)."""


@providers.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--key", "prompt_key", is_flag=True, help="Type the API key at a hidden prompt.")
@click.option(
    "--key-from-env",
    "key_env",
    metavar="VAR",
    help="Read the API key from environment variable VAR (once, to store it in the keyring).",
)
@click.option(
    "--context-size",
    type=int,
    default=8192,
    show_default=True,
    help="The remote model's context window in tokens (prompts are packed to fit).",
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for the server before giving up.",
)
@click.option(
    "--concurrency",
    type=int,
    default=4,
    show_default=True,
    help="How many requests an evaluation run sends the server at once.",
)
@click.option("--price-in", type=float, help="API price per million prompt tokens.")
@click.option("--price-out", type=float, help="API price per million completion tokens.")
@click.pass_context
def providers_add(
    ctx, name, url, prompt_key, key_env, context_size, timeout, concurrency, price_in, price_out
) -> None:
    """Add the OpenAI-compatible server at URL (e.g. http://127.0.0.1:8080/v1) as NAME.

    Without --key or --key-from-env the server is used without a key (a local server), or
    with the key in $TAILOR_KEY_NAME when that is set. Nothing is sent to the server now."""
    if prompt_key and key_env:
        raise click.UsageError("Give either --key or --key-from-env, not both.")
    engine = engine_of(ctx)
    key = None
    if key_env:
        key = os.environ.get(key_env)
        if not key:
            raise click.UsageError(f"Environment variable {key_env} is not set or empty.")
    elif prompt_key:
        key = click.prompt("API key", hide_input=True)
    provider = engine.add_provider(
        name,
        url,
        key,
        context_size=context_size,
        timeout_s=timeout,
        concurrency=concurrency,
        price_in=price_in,
        price_out=price_out,
    )
    click.echo(
        f"Added provider {provider.name} at {provider.host} ({provider.key_description}); use "
        f"its models as {provider.name}/MODEL."
    )


@providers.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per provider.")
@click.pass_context
def providers_list(ctx, as_json: bool) -> None:
    """List the providers (asks no server)."""
    for p in engine_of(ctx).list_providers():
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "name": p.name,
                        "base_url": p.base_url,
                        "key": p.key_source,
                        "context_size": p.context_size,
                        "timeout_s": p.timeout_s,
                        "concurrency": p.concurrency,
                        "price_in": p.price_in,
                        "price_out": p.price_out,
                    }
                )
            )
        else:
            click.echo(
                f"{p.name:20} {p.base_url:40} {p.key_description}, ctx {p.context_size}, "
                f"{p.concurrency} at once, {_prices(p)}"
            )


def _prices(p) -> str:
    if p.price_in is None and p.price_out is None:
        return "no prices"
    return f"${p.price_in or 0:g} / ${p.price_out or 0:g} per 1M tokens in / out"


@providers.command("set")
@click.argument("name")
@click.option("--context-size", type=int, help="The remote model's context window in tokens.")
@click.option("--timeout", type=float, help="Seconds to wait for the server.")
@click.option("--concurrency", type=int, help="Requests an evaluation run sends at once.")
@click.option("--price-in", type=float, help="API price per million prompt tokens.")
@click.option("--price-out", type=float, help="API price per million completion tokens.")
@click.option("--no-prices", is_flag=True, help="Forget the prices (no cost is shown).")
@click.pass_context
def providers_set(ctx, name, context_size, timeout, concurrency, price_in, price_out, no_prices):
    """Change provider NAME's settings (asks no server). To change its address or key, remove
    it and add it again."""
    if no_prices and (price_in is not None or price_out is not None):
        raise click.UsageError("Give prices or --no-prices, not both.")
    changes = {
        k: v
        for k, v in (
            ("context_size", context_size),
            ("timeout_s", timeout),
            ("concurrency", concurrency),
            ("price_in", price_in),
            ("price_out", price_out),
        )
        if v is not None
    }
    if no_prices:
        changes |= {"price_in": None, "price_out": None}
    if not changes:
        raise click.UsageError("Say what to change (see --help).")
    with advice(NotFound, "See `tailor providers list`."):
        p = engine_of(ctx).update_provider(name, **changes)
    click.echo(f"{p.name}: ctx {p.context_size}, {p.concurrency} at once, {_prices(p)}.")


@providers.command("models")
@click.argument("name")
@click.pass_context
def providers_models(ctx, name: str) -> None:
    """List the models provider NAME's server offers (asks that server)."""
    engine = engine_of(ctx)
    with advice(NotFound, "See `tailor providers list`."):
        provider = engine.get_provider(name)
    click.echo(f"Asking {provider.host} …", err=True)
    for m in engine.provider_models(name):
        click.echo(f"{m.name}  (remote, {m.host})")


@providers.command("remove")
@click.argument("name")
@click.pass_context
def providers_remove(ctx, name: str) -> None:
    """Forget provider NAME and delete its key from the OS keyring."""
    with advice(NotFound, "See `tailor providers list`."):
        engine_of(ctx).remove_provider(name)
    click.echo(f"Removed provider {name}.")
