"""The one way the window runs engine work: on a background thread, never on the Qt thread.

Like Anki's ``CollectionOp``, a :class:`Job` ends in exactly one of three signals, delivered on
the Qt thread: ``succeeded(result)``, ``failed(error)`` or ``cancelled(result)`` (a user's Stop
is a normal ending, not an error; the result is what the operation kept, or None), then
``finished()`` for clean-up whichever it was. An engine operation's :class:`Outcome` decides
which. A failure
nobody handles becomes the default dialog (:func:`desktop.errors.show_error`), so no page has to
remember to show one; connecting ``failed`` replaces that dialog.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Iterator

from PySide6.QtCore import QMetaMethod, QObject, Signal, Slot

from desktop.errors import show_error
from engine.api import CancelToken, Outcome
from engine.errors import TailorError

_DONE, _FAILED, _CANCELLED = "done", "failed", "cancelled"


class Job(QObject):
    """``work(cancel)`` run on its own thread. It either returns an engine operation (an
    iterator of events ending in an :class:`Outcome`): each event before the outcome is
    delivered through ``event`` and the outcome decides the ending; or it returns a plain
    value, which ``succeeded`` carries (ending after ``cancel()`` is then ``cancelled``). An
    exception is ``failed``. Connect the signals before ``start()``; ``error_title`` titles the
    default failure dialog."""

    event = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception: a TailorError's text is written for the user
    cancelled = Signal(object)  # what the operation kept, or None
    finished = Signal()
    _ended = Signal(str, object)  # from the work's thread to _end on the Qt thread

    def __init__(
        self,
        work: Callable[[CancelToken], Iterator[object] | object],
        parent: QObject | None = None,
        error_title: str = "Tailor",
    ):
        super().__init__(parent)
        self._work = work
        self._error_title = error_title
        self.cancel_token = CancelToken()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ended.connect(self._end)
        # Keep a reference until the job ends, so Qt never deletes a live emitter.
        self._keepalive = self

    def start(self) -> Job:
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop at its next check; it ends with ``cancelled``."""
        self.cancel_token.cancel()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            result = self._work(self.cancel_token)
            ending = (_CANCELLED, None) if self.cancel_token.cancelled else (_DONE, result)
            if isinstance(result, Iterator):
                for event in result:
                    if isinstance(event, Outcome):
                        ending = (event.status, event.error or event.result)
                        break
                    self.event.emit(event)
                else:
                    raise RuntimeError(f"{self._work!r} gave events but no Outcome")
            if ending[0] == _FAILED and not isinstance(ending[1], TailorError):
                traceback.print_exception(ending[1])
        except Exception as exc:  # shown to the user; the app stays up
            if not isinstance(exc, TailorError):
                traceback.print_exc()
            ending = (_FAILED, exc)
        # RuntimeError: the window that asked was closed meanwhile, nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            self._ended.emit(*ending)

    @Slot(str, object)
    def _end(self, how: str, value: object) -> None:
        try:
            if how == _DONE:
                self.succeeded.emit(value)
            elif how == _CANCELLED:
                self.cancelled.emit(value)
            elif self.isSignalConnected(QMetaMethod.fromSignal(self.failed)):
                self.failed.emit(value)
            else:
                show_error(self.parent(), value, self._error_title)
            self.finished.emit()
        finally:
            self._keepalive = None
