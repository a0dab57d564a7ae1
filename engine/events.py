"""What a long operation says while it runs, and how it ends: one :class:`Progress` type and one
:class:`Outcome` for every operation (indexing, drafting, evaluating, training, importing).

An operation is a generator. It yields :class:`Progress` (and, for a chat, :class:`Loading` and
the reply's :class:`TokenEvent` s), and its last event is always exactly one :class:`Outcome`:
``done`` with the result, ``cancelled`` (a person's Stop is a normal ending, not an error) or
``failed`` with the error. Front ends show the events and act on the outcome; the window's one
worker turns it into its succeeded / cancelled / failed signals, the command line into a result,
a message or an exit status.

    for event in engine.index("Notes", cancel=token):
        if isinstance(event, Progress): show(event.label, event.done, event.total)
    outcome = event                      # the last one
    result = run(engine.index("Notes"))  # or: run it to its end, for scripts and tests
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from engine.errors import Cancelled
from engine.models.runtime import CancelToken, Reply, TokenEvent

__all__ = [
    "CancelToken",
    "Loading",
    "Outcome",
    "Progress",
    "Reply",
    "TokenEvent",
    "operation",
    "run",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """Where a long operation stands.

    ``phase`` names the step ("waiting", "scanning", "indexing", "drafting", "answering",
    "judging", "training", …); ``done`` of ``total`` (``total`` 0 when not known yet);
    ``eta_s`` the seconds left when they can be estimated; ``label`` a line for a person (the
    file, the question, the step). ``detail`` holds the facts only one kind of operation has (an
    indexing run's chunk rate and failed files, the drafts kept so far, a case's scores, the
    training loss), typed by that operation.
    """

    phase: str
    done: int = 0
    total: int = 0
    eta_s: float | None = None
    label: str = ""
    detail: Any = None

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


@dataclass(frozen=True)
class Loading:
    """A model (the chat model, or the embedder) is being loaded before the work starts."""

    model: str


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """How an operation ended: ``done`` with its ``result``, ``cancelled`` (with what it had
    finished, when it keeps that), or ``failed`` with the ``error``."""

    status: Literal["done", "cancelled", "failed"]
    result: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def unwrap(self) -> T | None:
        """The result; the error raised again when the operation failed; ``Cancelled`` when it
        was stopped."""
        if self.status == "failed":
            assert self.error is not None
            raise self.error
        if self.status == "cancelled":
            raise Cancelled("Stopped.")
        return self.result


def operation(work: Callable[..., Generator[Any, None, T]]) -> Callable[..., Iterator[Any]]:
    """Make a generator function an operation: its events pass through, its ``return`` value
    becomes ``Outcome("done", value)``, an exception ``Outcome("failed", error=…)`` and a stop
    asked through its ``cancel`` token (or a :class:`Cancelled` raised inside)
    ``Outcome("cancelled", value)``. The one place an operation's ending is decided."""

    @functools.wraps(work)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        cancel: CancelToken | None = kwargs.get("cancel")
        try:
            result = yield from work(*args, **kwargs)
        except Cancelled:
            yield Outcome("cancelled")
            return
        except GeneratorExit:
            raise
        except Exception as exc:
            yield Outcome("failed", error=exc)
            return
        yield Outcome("cancelled" if cancel is not None and cancel.cancelled else "done", result)

    return wrapper


def run(events: Iterator[Any], on_event: Callable[[Any], None] | None = None) -> Any:
    """Run an operation to its end and give its result (the one way to do that, for scripts,
    tests and background work): each event before the outcome goes to ``on_event``; a failure
    is raised again, a stop raises :class:`Cancelled`."""
    last = None
    for last in events:
        if isinstance(last, Outcome):
            return last.unwrap()
        if on_event is not None:
            on_event(last)
    raise RuntimeError(f"{events!r} ended without an Outcome")
