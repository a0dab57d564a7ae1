"""Following watched folders while the app runs: add, change, delete and rename.

watchdog reports file-system events; they are debounced (editors write a file several times
in a row) and turned into one incremental index run per knowledge base, which finds exactly
what changed by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path


class FolderWatcher:
    """Calls ``on_change(kb_name)`` at most once per ``delay`` seconds of quiet after changes
    under any of that knowledge base's folders."""

    def __init__(self, on_change: Callable[[str], None], delay: float = 1.0):
        from watchdog.observers import Observer

        self.on_change = on_change
        self.delay = delay
        self._observer = Observer()
        self._timers: dict[str, threading.Timer] = {}
        self._watches: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._observer.daemon = True
        self._observer.start()

    def watch(self, kb: str, folders: list[str]) -> None:
        from watchdog.events import FileSystemEventHandler

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.event_type in ("created", "modified", "deleted", "moved"):
                    name = Path(event.src_path).name
                    if not name.startswith("."):
                        watcher._changed(kb)

        for folder in folders:
            key = (kb, folder)
            if key in self._watches or not Path(folder).is_dir():
                continue
            self._watches[key] = self._observer.schedule(Handler(), folder, recursive=True)

    def unwatch(self, kb: str) -> None:
        for key in [k for k in self._watches if k[0] == kb]:
            self._observer.unschedule(self._watches.pop(key))

    def _changed(self, kb: str) -> None:
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
