"""Following watched folders while the app runs: add, change, delete and rename.

watchdog reports file-system events; they are debounced (editors write a file several times
in a row) and turned into one incremental index run per knowledge base, which finds exactly
what changed by itself. Events on paths that indexing leaves out are ignored with the walk's own
rule (:func:`engine.knowledge.walk.left_out`): the workspace (a root that contains it would
otherwise re-index after every write of its own database, for ever), version-control and
package folders, hidden files.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from engine.knowledge.walk import left_out


class FolderWatcher:
    """Calls ``on_change(kb_name)`` at most once per ``delay`` seconds of quiet after changes
    under any of that knowledge base's folders. Nothing under ``workspace`` counts as a
    change."""

    def __init__(
        self, on_change: Callable[[str], None], delay: float = 1.0, workspace: Path | None = None
    ):
        from watchdog.observers import Observer

        self.on_change = on_change
        self.delay = delay
        self.workspace = str(Path(workspace).resolve()) if workspace else None
        self._observer = Observer()
        self._timers: dict[str, threading.Timer] = {}
        self._watches: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._observer.daemon = True
        self._observer.start()

    def watch(self, kb: str, folders: list[str]) -> list[tuple[str, str]]:
        """Follow ``folders`` for ``kb``; return those that cannot be followed, with why (they
        are still indexed by every run, only not followed between runs)."""
        from watchdog.events import FileSystemEventHandler

        watcher = self
        problems = []

        class Handler(FileSystemEventHandler):
            def __init__(self, root: str):
                self.root = root

            def on_any_event(self, event):
                if event.event_type not in ("created", "modified", "deleted", "moved"):
                    return
                if event.is_directory and event.event_type == "modified":
                    return  # a folder's own times; the entries that changed report themselves
                paths = [os.fsdecode(event.src_path)]
                if event.event_type == "moved":
                    paths.append(os.fsdecode(event.dest_path))
                for path in paths:
                    if not left_out(path, self.root, watcher.workspace, event.is_directory):
                        watcher._changed(kb, path)
                        return

        for folder in folders:
            key = (kb, folder)
            if key in self._watches or not Path(folder).is_dir():
                continue
            try:
                self._watches[key] = self._observer.schedule(
                    Handler(folder), folder, recursive=True
                )
            except RecursionError:
                # watchdog lists folders recursively; a tree this deep is indexed but not followed.
                problems.append((folder, "too deeply nested to follow; Re-index picks up changes"))
            except OSError as exc:  # e.g. the system's limit on watched folders
                problems.append((folder, f"cannot be followed ({exc.strerror or exc})"))
        return problems

    def unwatch(self, kb: str) -> None:
        for key in [k for k in self._watches if k[0] == kb]:
            self._observer.unschedule(self._watches.pop(key))

    def _changed(self, kb: str, path: str) -> None:
        """``path`` changed under one of ``kb``'s folders: index it after ``delay`` of quiet."""
        with self._lock:
            if timer := self._timers.get(kb):
                timer.cancel()
            timer = threading.Timer(self.delay, self._fire, args=(kb,))
            timer.daemon = True
            self._timers[kb] = timer
            timer.start()

    def _fire(self, kb: str) -> None:
        with self._lock:
            self._timers.pop(kb, None)
        self.on_change(kb)

    def stop(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
        self._observer.stop()
        self._observer.join(timeout=5)
