"""SQLite for the workspace's records, with numbered migrations.

Migrations are the files ``engine/migrations/NNNN_name.sql``, applied in order, each in its own
transaction; ``PRAGMA user_version`` records the last one applied. Which migrations are pending is
decided inside that transaction, after the write lock is taken, so two processes opening a new
workspace at the same moment never apply one twice.

A connection must not be shared between threads: SQLite's transaction state belongs to the
connection, so one thread's ``ROLLBACK`` would undo another's writes. :class:`ThreadConnections`
gives each thread its own, and :func:`transaction` is the one way to group writes.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from engine.errors import TailorError

# Seconds a write waits for another thread or process (the window and a `tailor` command in a
# terminal share the file) to finish its transaction before giving up with "database is locked".
BUSY_TIMEOUT = 30


def migrations() -> list[tuple[int, str, str]]:
    """The shipped migrations as (number, name, sql), in order."""
    found = []
    for entry in resources.files("engine.migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {numbers}")
    return found


def open_connection(path: Path) -> sqlite3.Connection:
    """One connection to the database at ``path``, in autocommit mode, without migrating.

    WAL lets the window and a ``tailor`` command in a terminal read and write at the same time.
    """
    # check_same_thread is off only so that Workspace.close (and a finished thread's clean-up)
    # may close it; the connection is used by the one thread that opened it.
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT, check_same_thread=False, isolation_level=None
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    _use_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the database to WAL (once per file; the mode is stored in it).

    The switch needs the file to itself, and SQLite answers "database is locked" at once rather
    than waiting when another process holds it (two first starts at the same moment), so the
    wait is done here, for as long as any other write would wait.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def connect(path: Path) -> sqlite3.Connection:
    """Open (and migrate) the database at ``path``."""
    conn = open_connection(path)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Group the statements run inside the block on ``conn``: all of them are kept, or, when the
    block raises, none.

    The write lock is taken at the start (``BEGIN IMMEDIATE``), so a read-then-write inside the
    block never sees its read go stale. Nested blocks join the outer transaction through a
    savepoint: an inner failure undoes only the inner block, and nothing is committed until the
    outermost block ends.
    """
    if conn.in_transaction:
        # One name serves every level: ROLLBACK TO and RELEASE act on the innermost savepoint
        # of that name.
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO nested")
                conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # SQLite may already have rolled back on its own (a full disk, say).
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database; return the resulting schema version."""
    shipped = migrations()
    while True:
        # Cheap check first: an up-to-date workspace opens without waiting for the write lock.
        if _schema_version(conn, len(shipped)) == len(shipped):
            return len(shipped)
        with transaction(conn):
            # Decided under the write lock: another process may have migrated meanwhile.
            current = _schema_version(conn, len(shipped))
            if current == len(shipped):
                return current
            number, _name, sql = shipped[current]
            # executescript would commit on its own; run statement by statement instead.
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")


def _schema_version(conn: sqlite3.Connection, known: int) -> int:
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > known:
        raise TailorError(
            f"This workspace was written by a newer Tailor (schema {current}, this version "
            f"knows {known}). Update Tailor to open it."
        )
    return current


class ThreadConnections:
    """One connection per thread to one database file, all closed together by :meth:`close`.

    A thread's connection is closed when the thread ends, so the window's short-lived worker
    threads do not pile up open connections.
    """

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._open: dict[int, sqlite3.Connection] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        holder = getattr(self._local, "holder", None)
        if holder is not None:
            return holder.conn
        with self._lock:
            if self._closed:
                raise TailorError("This workspace has been closed.")
        conn = open_connection(self.path)
        holder = _Holder(conn)
        with self._lock:
            self._open[id(holder)] = conn
        # The thread-local drops the holder when the thread ends; closing then, from whichever
        # thread runs the clean-up, is safe because no one else uses this connection.
        weakref.finalize(holder, _close_one, self._open, self._lock, id(holder))
        self._local.holder = holder
        return conn

    def close(self) -> None:
        """Close every thread's connection; later use raises a clear error."""
        with self._lock:
            self._closed = True
            connections = list(self._open.values())
            self._open.clear()
        for conn in connections:
            conn.close()


class _Holder:
    """Lives in a thread-local; its finalizer closes the thread's connection."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn


def _close_one(open_: dict, lock: threading.Lock, key: int) -> None:
    with lock:
        conn = open_.pop(key, None)
    if conn is not None:
        conn.close()


def _statements(sql: str) -> list[str]:
    """Split a script into complete statements (triggers contain inner semicolons)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        if not buffer and line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
