"""The one way the window runs long work: an engine generator on a background thread.

Each event the generator yields arrives on the Qt thread through a signal; ``cancel()`` sets the
engine's :class:`CancelToken`, so a user's Stop is a normal ending, not an error.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, Signal

from engine.errors import TailorError
from engine.models.runtime import CancelToken


class Job(QObject):
    """A background job. Connect to ``event``, ``failed`` and ``finished`` before ``start()``."""

    event = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, work: Callable[[CancelToken], Iterator[object]], parent=None):
        super().__init__(parent)
        self._work = work
        self.cancel_token = CancelToken()
        self._thread = threading.Thread(target=self._run, daemon=True)
        # Keep a reference until the job ends, so Qt never deletes a live emitter.
        self._keepalive = self

    def start(self) -> Job:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            for item in self._work(self.cancel_token):
                self.event.emit(item)
        except TailorError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # shown to the user; the app stays up
            traceback.print_exc()
            self.failed.emit(f"Something went wrong: {type(exc).__name__}: {exc}")
        finally:
            self.finished.emit()
            self._keepalive = None
