"""Numbered migrations: each applies in order, is recorded, and a newer schema is refused."""

import sqlite3

import pytest

from engine import database
from engine.errors import TailorError


def test_migrations_are_numbered_without_gaps():
    numbers = [n for n, _, _ in database.migrations()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_fresh_database_reaches_latest_schema(tmp_path):
    conn = database.connect(tmp_path / "t.db")
    latest = len(database.migrations())
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"models", "assistants", "assistant_versions", "examples", "messages"} <= tables


def test_each_migration_applies_on_top_of_the_previous(tmp_path):
    conn = sqlite3.connect(tmp_path / "step.db", isolation_level=None)
    for number, _name, sql in database.migrations():
        for statement in database._statements(sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    # Already at the latest: migrating again is a no-op.
    assert database.migrate(conn) == len(database.migrations())


def test_reopening_keeps_data(tmp_path):
    conn = database.connect(tmp_path / "t.db")
    conn.execute("INSERT INTO settings(key, value) VALUES ('a', '1')")
    conn.close()
    again = database.connect(tmp_path / "t.db")
    assert again.execute("SELECT value FROM settings WHERE key='a'").fetchone()[0] == "1"


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    conn = sqlite3.connect(tmp_path / "new.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(TailorError, match="newer Tailor"):
        database.connect(tmp_path / "new.db")


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    good = database.migrations()
    monkeypatch.setattr(
        database, "migrations", lambda: [*good, (len(good) + 1, "broken", "CREATE TABLE x(;")]
    )
    path = tmp_path / "t.db"
    with pytest.raises(sqlite3.OperationalError):
        database.connect(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(good)


def test_assistant_versions_are_immutable(tmp_path):
    conn = database.connect(tmp_path / "t.db")
    conn.execute("INSERT INTO assistants(name) VALUES ('a')")
    conn.execute(
        "INSERT INTO assistant_versions(assistant_id, version, config) VALUES (1, 1, '{}')"
    )
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("UPDATE assistant_versions SET config = 'x'")
