-- Models in the library: a bundled model points into site-packages, an imported one into
-- the workspace's models/ folder. metadata is what the GGUF header says, as JSON.
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    bundled INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE example_sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE examples (
    id INTEGER PRIMARY KEY,
    set_id INTEGER NOT NULL REFERENCES example_sets(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL
);
CREATE INDEX examples_by_set ON examples(set_id, position);

-- Embeddings of example inputs for dynamic few-shot, cached per embedder and text.
CREATE TABLE example_embeddings (
    embedder TEXT NOT NULL,
    text_sha TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (embedder, text_sha)
);

CREATE TABLE assistants (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- Every save is a new row; rows are never updated.
CREATE TABLE assistant_versions (
    id INTEGER PRIMARY KEY,
    assistant_id INTEGER NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    config TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    UNIQUE (assistant_id, version)
);
CREATE TRIGGER assistant_versions_immutable BEFORE UPDATE ON assistant_versions
BEGIN
    SELECT RAISE(ABORT, 'assistant versions are immutable');
END;

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    assistant_id INTEGER REFERENCES assistants(id) ON DELETE SET NULL,
    title TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- prompt holds the exact messages and rendered prompt sent for an assistant reply;
-- stats its token counts and timings; version the assistant version that answered.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    assistant_version INTEGER,
    prompt TEXT,
    stats TEXT,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
