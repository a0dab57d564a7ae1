"""Numbered migrations: each applies in order, is recorded, and a newer schema is refused."""

import sqlite3
import subprocess
import sys

import pytest

from engine import database
from engine.assistants import Assistants
from engine.conversations import Conversations
from engine.errors import TailorError
from engine.examples import Example, ExampleSets
from engine.workspace import Workspace


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


def test_providers_are_recorded_without_any_place_for_a_key(tmp_path):
    """Migration 8: a provider's row says where its key is (keyring, environment or none),
    never the key itself."""
    conn = database.connect(tmp_path / "t.db")
    columns = {r["name"] for r in conn.execute("PRAGMA table_info(providers)")}
    assert columns == {"name", "base_url", "key_source", "context_size", "timeout_s", "created_at"}
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO providers(name, base_url, key_source) VALUES ('p', 'u', 'plaintext')"
        )
    conn.execute("INSERT INTO providers(name, base_url) VALUES ('Lab', 'http://h/v1')")
    with pytest.raises(sqlite3.IntegrityError):  # names are unique whatever their case
        conn.execute("INSERT INTO providers(name, base_url) VALUES ('lab', 'http://h/v1')")


OPENER = (
    "import sys\n"
    "from engine.workspace import Workspace\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "Workspace(sys.argv[1]).close()\n"
)


def test_first_starts_at_the_same_moment_apply_each_migration_once(tmp_path):
    """Two windows, or a window and a `tailor` command, opening a new workspace together: each
    migration is applied once, and every process opens the workspace."""
    for round_ in range(5):
        home = tmp_path / f"round{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, str(home)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        # All are started and imported; let them open the workspace at once.
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            _out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        conn = sqlite3.connect(home / "tailor.db")
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(database.migrations())
        conn.close()


def test_an_older_workspace_keeps_its_rows_when_migrated(tmp_path):
    """A workspace written by the previous release, with records in it, opened by this one."""
    home = tmp_path / "workspace"
    home.mkdir()
    shipped = database.migrations()
    conn = sqlite3.connect(home / "tailor.db", isolation_level=None)
    for number, _name, sql in shipped[:-1]:
        for statement in database._statements(sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute("INSERT INTO assistants(name) VALUES ('Helper')")
    conn.execute(
        "INSERT INTO assistant_versions(assistant_id, version, config, note) "
        "VALUES (1, 1, ?, 'Created')",
        ('{"model": "m", "system_prompt": "Be brief."}',),
    )
    conn.execute("INSERT INTO conversations(assistant_id, title) VALUES (1, 'Boiler')")
    conn.execute("INSERT INTO messages(conversation_id, role, content) VALUES (1, 'user', 'When?')")
    conn.execute("INSERT INTO example_sets(name) VALUES ('demo')")
    conn.execute("INSERT INTO examples(set_id, position, input, output) VALUES (1, 0, '1+1?', '2')")
    conn.execute("INSERT INTO settings(key, value) VALUES ('runtime', '{\"threads\": 2}')")
    conn.close()

    ws = Workspace(home)
    try:
        assert ws.db.execute("PRAGMA user_version").fetchone()[0] == len(shipped)
        assert Assistants(ws).current("Helper").config.system_prompt == "Be brief."
        conversations = Conversations(ws)
        [chat] = conversations.list()
        assert (chat.assistant, chat.title) == ("Helper", "Boiler")
        assert [m.content for m in conversations.messages(chat.id)] == ["When?"]
        assert ExampleSets(ws).get("demo") == [Example("1+1?", "2")]
        assert ws.get_setting("runtime") == {"threads": 2}
    finally:
        ws.close()
