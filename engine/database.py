"""SQLite for the workspace's records, with numbered migrations.

Migrations are the files ``engine/migrations/NNNN_name.sql``, applied in order, each in its own
transaction; ``PRAGMA user_version`` records the last one applied.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

from engine.errors import TailorError


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


def connect(path: Path) -> sqlite3.Connection:
    """Open (and migrate) the database at ``path``.

    WAL lets the window and a ``tailor`` command in a terminal read and write at the same time.
    """
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database; return the resulting schema version."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    shipped = migrations()
    if current > len(shipped):
        raise TailorError(
            f"This workspace was written by a newer Tailor (schema {current}, this version "
            f"knows {len(shipped)}). Update Tailor to open it."
        )
    for number, _name, sql in shipped[current:]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # executescript would commit on its own; run statement by statement instead.
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return conn.execute("PRAGMA user_version").fetchone()[0]


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
