"""The workspace: one folder holding everything Tailor keeps.

Its location is the platform's user data folder, or ``$TAILOR_HOME`` when set (tests use a
temporary one). Inside: ``tailor.db`` (SQLite records), ``models/`` (imported GGUF files),
``app.lock`` (held by the open window).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from engine import database
from engine.errors import WorkspaceInUse


def default_home() -> Path:
    """Where the workspace lives unless ``TAILOR_HOME`` says otherwise."""
    if env := os.environ.get("TAILOR_HOME"):
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("Tailor", appauthor=False))


class Workspace:
    """Paths, the records database, settings and the single-window lock of one workspace."""

    def __init__(self, home: Path | None = None):
        self.home = Path(home) if home else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.models_dir.mkdir(exist_ok=True)
        self.db: sqlite3.Connection = database.connect(self.home / "tailor.db")
        self._app_lock: FileLock | None = None

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    # -- the window's lock -------------------------------------------------------------------

    def acquire_app_lock(self) -> None:
        """Claim the workspace for one window. An OS-level lock: a crashed or killed window
        releases it, so a stale lock never keeps the user out.
        """
        lock = FileLock(self.home / "app.lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise WorkspaceInUse(
                f"Tailor is already open with this workspace ({self.home}). "
                "Switch to that window, or close it first."
            ) from None
        self._app_lock = lock

    def release_app_lock(self) -> None:
        if self._app_lock is not None:
            self._app_lock.release()
            self._app_lock = None

    # -- settings ----------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def close(self) -> None:
        self.release_app_lock()
        self.db.close()
