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
    """Follows one knowledge base's folders: calls ``on_change(kb)`` (on a thread of its own)
    after ``delay`` seconds of quiet following changes under any of them. Nothing under
    ``workspace`` counts as a change. ``problems`` lists the folders that cannot be followed,
    with why (they are still indexed by every run, only not followed between runs); ``stop()``
    ends it."""

    def __init__(
        self,
        kb: str,
        folders: list[str],
        on_change: Callable[[str], None],
        *,
        delay: float = 1.0,
        workspace: Path | None = None,
    ):
        from watchdog.observers import Observer

        self.kb = kb
        self.on_change = on_change
        self.delay = delay
        self.workspace = str(Path(workspace).resolve()) if workspace else None
        self._observer = Observer()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._observer.daemon = True
        self._observer.start()
        self.problems = self._follow(folders)

    def _follow(self, folders: list[str]) -> list[tuple[str, str]]:
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
                        watcher._changed(path)
                        return

        for folder in folders:
            if not Path(folder).is_dir():
                continue
            try:
                self._observer.schedule(Handler(folder), folder, recursive=True)
            except RecursionError:
                # watchdog lists folders recursively; a tree this deep is indexed but not followed.
                problems.append((folder, "too deeply nested to follow; Re-index picks up changes"))
            except OSError as exc:  # e.g. the system's limit on watched folders
                problems.append((folder, f"cannot be followed ({exc.strerror or exc})"))
        return problems

    def _changed(self, path: str) -> None:
        """``path`` changed under one of the folders: index after ``delay`` of quiet."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.delay, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        self.on_change(self.kb)

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self._observer.stop()
        self._observer.join(timeout=5)
