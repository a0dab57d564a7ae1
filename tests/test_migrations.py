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
    assert columns == {
        "name",
        "base_url",
        "key_source",
        "context_size",
        "timeout_s",
        "created_at",
        "concurrency",  # migration 9
        "price_in",
        "price_out",
    }
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


def test_a_provider_added_before_migration_9_keeps_its_row_and_gets_run_settings(tmp_path):
    """Migration 9 adds how runs use a provider to the rows already there."""
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    for number, _name, sql in database.migrations()[:8]:
        for statement in database._statements(sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute(
        "INSERT INTO providers(name, base_url, key_source, context_size, timeout_s) "
        "VALUES ('corp', 'https://llm.example.com/v1', 'keyring', 32768, 30)"
    )
    conn.close()
    conn = database.connect(tmp_path / "old.db")
    row = dict(conn.execute("SELECT * FROM providers").fetchone())
    assert row | {"created_at": None} == {
        "name": "corp",
        "base_url": "https://llm.example.com/v1",
        "key_source": "keyring",
        "context_size": 32768,
        "timeout_s": 30.0,
        "created_at": None,
        "concurrency": 4,
        "price_in": None,
        "price_out": None,
    }
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE providers SET concurrency = 0")


def test_a_first_version_workspace_with_real_rows_opens_with_everything_in_it(tmp_path):
    """An upgrade over the oldest schema: the rows a version-1 Tailor wrote (an assistant with
    two versions, examples, a conversation, a preference) are all there after every migration,
    read through the engine as the window reads them."""
    from engine.api import Engine

    home = tmp_path / "old-workspace"
    home.mkdir()
    conn = sqlite3.connect(home / "tailor.db", isolation_level=None)
    _number, _name, sql = database.migrations()[0]
    for statement in database._statements(sql):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    v1 = '{"model": "smollm2-135m-instruct", "system_prompt": "Be brief.", "temperature": 0.2}'
    v2 = (
        '{"model": "smollm2-135m-instruct", "system_prompt": "Answer as Quillon support.", '
        '"temperature": 0.2, "example_set": "Support", "few_shot_k": 2}'
    )
    conn.executescript(
        f"""
        INSERT INTO assistants(id, name) VALUES (7, 'Support bot');
        INSERT INTO assistant_versions(assistant_id, version, config, note)
            VALUES (7, 1, '{v1}', 'first'), (7, 2, '{v2}', 'examples');
        INSERT INTO example_sets(id, name) VALUES (3, 'Support');
        INSERT INTO examples(set_id, position, input, output)
            VALUES (3, 0, 'Reset my password', 'Use Settings → Account → Reset.'),
                   (3, 1, 'Where is the invoice?', 'Billing → Invoices, as a PDF.');
        INSERT INTO conversations(id, assistant_id, title) VALUES (5, 7, 'Password help');
        INSERT INTO messages(conversation_id, role, content, assistant_version)
            VALUES (5, 'user', 'I forgot my password', NULL),
                   (5, 'assistant', 'Use Settings → Account → Reset.', 2);
        INSERT INTO settings(key, value) VALUES ('last_assistant', '"Support bot"');
        """
    )
    conn.close()

    engine = Engine(home)
    try:
        assert engine.services.workspace.db.execute("PRAGMA user_version").fetchone()[0] == len(
            database.migrations()
        )
        history = engine.assistant_history("Support bot")
        assert [(v.version, v.note) for v in history] == [(2, "examples"), (1, "first")]
        current = engine.get_assistant("Support bot")
        assert current.version == 2 and current.config.system_prompt == "Answer as Quillon support."
        assert current.config.example_set == "Support" and current.config.few_shot_k == 2
        assert [(e.input, e.output) for e in engine.get_example_set("Support")] == [
            ("Reset my password", "Use Settings → Account → Reset."),
            ("Where is the invoice?", "Billing → Invoices, as a PDF."),
        ]
        [conversation] = engine.list_conversations("Support bot")
        assert conversation.title == "Password help"
        messages = engine.conversation_messages(conversation.id)
        assert [(m.role, m.content) for m in messages] == [
            ("user", "I forgot my password"),
            ("assistant", "Use Settings → Account → Reset."),
        ]
        assert engine.preference("last_assistant") == "Support bot"
        # And the upgraded workspace takes new work as any other.
        changed = current.config.model_copy(update={"temperature": 0.3})
        engine.save_assistant("Support bot", changed, note="after the upgrade")
        assert engine.get_assistant("Support bot").version == 3
    finally:
        engine.close()
