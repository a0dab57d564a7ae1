"""What every command module shares: the engine of this invocation, and advice for errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from engine.errors import TailorError


def engine_of(ctx: click.Context):
    """Open the workspace once per invocation, on first use."""
    if ctx.obj is None:
        from engine.api import Engine

        ctx.obj = Engine()
        ctx.obj.first_run()
        ctx.call_on_close(ctx.obj.close)
    return ctx.obj


@contextmanager
def advice(error: type[TailorError], text: str) -> Iterator[None]:
    """Add what to type next to an engine error of this kind raised inside the block. The
    engine's messages are shown in the window too, so they never name a command."""
    try:
        yield
    except error as exc:
        exc.add_note(text)
        raise
