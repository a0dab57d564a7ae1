"""The workspace: one folder holding everything Tailor keeps.

Its location is the platform's user data folder, or ``$TAILOR_HOME`` when set (tests use a
temporary one). Inside: ``tailor.db`` (SQLite records), ``models/`` (imported GGUF files),
``app.lock`` (held by the open window).

The folder holds people's documents, chats and training data, so it is private to its owner
(0700) whatever the umask: Tailor makes it so when it creates the folder, when the folder is
empty, and always for the platform's own Tailor folder. A ``$TAILOR_HOME`` that already held
other things keeps the permissions its owner gave it (they are not Tailor's to change), but
the records database and ``models/`` in it are still private.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from engine import database
from engine.errors import WorkspaceInUse

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def default_home() -> Path:
    """Where the workspace lives unless ``TAILOR_HOME`` says otherwise."""
    if env := os.environ.get("TAILOR_HOME"):
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("Tailor", appauthor=False))


class Workspace:
    """Paths, the records database, settings and the single-window lock of one workspace."""

    def __init__(self, home: Path | None = None):
        own_folder = home is None and not os.environ.get("TAILOR_HOME")
        self.home = Path(home) if home else default_home()
        _make_private_folder(self.home, claim_existing=own_folder)
        _make_private_folder(self.models_dir, claim_existing=True)
        path = self.home / "tailor.db"
        if not path.exists():
            # SQLite creates its files with the umask's permissions; the -wal and -shm files
            # copy the database file's, so making this one private covers them too.
            path.touch(mode=PRIVATE_FILE)
        for name in ("tailor.db", "tailor.db-wal", "tailor.db-shm"):
            if (self.home / name).exists():
                (self.home / name).chmod(PRIVATE_FILE)
        self._connections = database.ThreadConnections(path)
        try:
            database.migrate(self._connections.get())
        except BaseException:
            self._connections.close()
            raise
        self._app_lock: FileLock | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection to the records database (each thread has its own).

        A single statement on it is atomic by itself; group several with :meth:`transaction`.
        """
        return self._connections.get()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block's statements as one transaction on this thread's connection: all are
        kept, or none if the block raises. Nested blocks join the outer transaction."""
        with database.transaction(self.db) as conn:
            yield conn

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
        """Release the window's lock and close every thread's database connection."""
        self.release_app_lock()
        self._connections.close()


def _make_private_folder(path: Path, claim_existing: bool) -> None:
    """Create ``path`` readable by its owner only; an existing folder is made private too when
    it is Tailor's (``claim_existing``) or empty."""
    try:
        path.mkdir(mode=PRIVATE_FOLDER, parents=True)
    except FileExistsError:
        if not claim_existing and any(path.iterdir()):
            return
    # mkdir's mode is filtered by the umask; chmod is not.
    path.chmod(PRIVATE_FOLDER)
