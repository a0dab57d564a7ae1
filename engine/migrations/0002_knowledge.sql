-- Knowledge bases. config is the current chunking/embedder settings; active_index the index
-- version answering queries. A settings change builds a new index beside the active one.
CREATE TABLE knowledge_bases (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    active_index INTEGER,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE kb_roots (
    kb_id INTEGER NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    PRIMARY KEY (kb_id, path)
);

-- One row per built (or building) index: its settings and its LanceDB table.
CREATE TABLE kb_indexes (
    id INTEGER PRIMARY KEY,
    kb_id INTEGER NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('building', 'ready', 'retired')),
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- What each index holds, file by file: a file is 'done' only once its chunks are stored, so
-- an interrupted run redoes exactly the files it had not finished.
CREATE TABLE kb_files (
    index_id INTEGER NOT NULL REFERENCES kb_indexes(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'skipped', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    chunks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (index_id, path)
);
