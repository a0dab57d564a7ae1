"""The one progress printer for every long command (indexing, drafting, evaluating, training).

On a terminal it is a rich progress bar redrawn in place on stderr. Anywhere else (a pipe, a
log file, a test capturing output, CI) it prints plain lines, no control characters: one when
the phase changes and one each time the count moves by at least a hundredth of the total, so a
log of a long run stays short and a reader of the pipe still sees the count advance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import TracebackType

import click

from engine.api import Outcome, Progress


class Printer:
    """Show a long operation's events; use as a context manager around its loop.

    Each ``update`` gives the whole line to show (the operation's own words and counts), the
    phase it belongs to, and the count and total when there are any.
    """

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)
        self._live = None
        self._task = None
        self._last: tuple[str, int | None] | None = None

    def __enter__(self) -> Printer:
        if self._console.is_interactive:  # a terminal that redraws; not TERM=dumb, not a pipe
            from rich import progress

            self._live = progress.Progress(
                progress.SpinnerColumn(),
                progress.BarColumn(bar_width=24),
                progress.TextColumn("{task.description}", markup=False),
                console=self._console,
            )
            self._live.start()
            self._task = self._live.add_task("", total=None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()  # leaves the last state on screen, ends its line

    def update(
        self,
        text: str,
        phase: str = "",
        done: int | None = None,
        total: int | None = None,
        eta_s: float | None = None,
    ) -> None:
        """Show ``text`` (with the ETA, when known) as the operation's current state."""
        if eta_s:
            text += f" · ETA {eta_s:.0f} s"
        if self._live is not None:
            self._live.update(
                self._task, description=text, completed=done or 0, total=total or None
            )
        elif self._worth_a_line(phase, done, total):
            click.echo(text, err=True)

    def note(self, text: str) -> None:
        """A line of its own, kept above the progress bar (on a terminal) or among the lines."""
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(text, err=True)

    def _worth_a_line(self, phase: str, done: int | None, total: int | None) -> bool:
        last = self._last
        step = max(1, (total or 0) // 100)
        if (
            last is None
            or phase != last[0]
            or (done is not None and (last[1] is None or abs(done - last[1]) >= step))
            or (done is not None and done != last[1] and done == total)
        ):
            self._last = (phase, done)
            return True
        return False


def follow(
    events: Iterator[object],
    show: Callable[[Printer, Progress], None] | None = None,
    other: Callable[[Printer, object], None] | None = None,
) -> object:
    """Run an engine operation to its end on the one printer and give its result: each
    :class:`Progress` is shown by ``show`` (by default its label, or its phase, with the count
    and ETA), any other event goes to ``other``; a failure is raised again and a stop raises
    ``Cancelled``, as :func:`engine.events.run` does."""
    with Printer() as printer:
        for event in events:
            if isinstance(event, Outcome):
                return event.unwrap()
            if isinstance(event, Progress):
                if show is not None:
                    show(printer, event)
                else:
                    text = event.label or event.phase
                    if event.total:
                        text = f"{text} · {event.done:,}/{event.total:,}"
                    printer.update(text, event.phase, event.done, event.total, event.eta_s)
            elif other is not None:
                other(printer, event)
    raise RuntimeError("the operation ended without an Outcome")
