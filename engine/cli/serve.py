"""``tailor serve``: every assistant and local model behind an OpenAI-compatible API."""

from __future__ import annotations

import contextlib
import os

import click

from engine.cli.common import engine_of


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port (0: any free port).")
@click.option(
    "--queue",
    "queue_size",
    default=8,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="Requests per model that may wait while another generates (then 429).",
)
@click.option("--show-key", is_flag=True, help="Print the API key (made the first time) and exit.")
@click.pass_context
def serve(ctx, host: str, port: int, queue_size: int, show_key: bool) -> None:
    """Serve every assistant (NAME, NAME@VERSION) and local model over an OpenAI-compatible API
    at http://HOST:PORT/v1. Any address but 127.0.0.1 requires an API key, kept in the OS
    keyring (or given in TAILOR_SERVER_API_KEY). Ctrl-C stops it."""
    from engine.server import (
        ENV_VAR,
        SERVICE,
        USERNAME,
        KeyUnavailable,
        Server,
        api_key,
        is_loopback,
    )

    if show_key:
        click.echo(api_key())
        return
    engine = engine_of(ctx)
    try:
        server = Server(engine, host, port, queue_size)
    except KeyUnavailable as exc:
        exc.add_note("Or serve on this machine only: tailor serve --host 127.0.0.1.")
        raise
    click.echo(f"Tailor serves an OpenAI-compatible API at {server.url}")
    if server.keyed:
        where = (
            f"the environment variable {ENV_VAR}"
            if os.environ.get(ENV_VAR)
            else f'the OS keyring (service "{SERVICE}", user "{USERNAME}"; '
            "tailor serve --show-key prints it)"
        )
        click.echo(f"Clients must send Authorization: Bearer <key>; the key is in {where}.")
    elif not is_loopback(host):
        click.echo("Warning: no API key.", err=True)
    click.echo("Models:")
    for m in engine.served_models():
        kind = m.level if m.kind == "assistant" else "raw model"
        click.echo(f"  {m.id:40} {kind}")
    click.echo("Press Ctrl-C to stop.")
    # uvicorn stops cleanly first, then passes Ctrl-C on.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    click.echo("Stopped.")
