"""Helpers for tests that start training workers."""

from __future__ import annotations

import contextlib
import os
import signal


def stop(pid: int | None) -> None:
    """Kill a training worker a test started (a session of its own) and reap it."""
    if not pid:
        return
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
