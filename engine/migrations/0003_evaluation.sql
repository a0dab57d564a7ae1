-- Evaluation sets, versioned: a version's cases never change after it is saved.
CREATE TABLE eval_sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE eval_set_versions (
    id INTEGER PRIMARY KEY,
    set_id INTEGER NOT NULL REFERENCES eval_sets(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    UNIQUE (set_id, version)
);

-- refs and sources are JSON lists; pattern an optional regular expression.
CREATE TABLE eval_cases (
    id INTEGER PRIMARY KEY,
    set_version_id INTEGER NOT NULL REFERENCES eval_set_versions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    case_key TEXT NOT NULL,
    input TEXT NOT NULL,
    refs TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    pattern TEXT,
    UNIQUE (set_version_id, case_key)
);
CREATE TRIGGER eval_cases_immutable BEFORE UPDATE ON eval_cases
BEGIN
    SELECT RAISE(ABORT, 'evaluation set versions are immutable');
END;

-- A run: one set version against one or more configurations; options as JSON.
CREATE TABLE eval_runs (
    id INTEGER PRIMARY KEY,
    set_version_id INTEGER NOT NULL REFERENCES eval_set_versions(id) ON DELETE CASCADE,
    options TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'stopped', 'failed', 'done')),
    message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    finished_at TEXT
);

-- The exact configuration each row of the scoreboard ran with (a snapshot, not a reference).
CREATE TABLE eval_run_configs (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    assistant TEXT NOT NULL,
    version INTEGER,
    level INTEGER NOT NULL,
    config TEXT NOT NULL
);

-- One row per finished (configuration, case): written at once, so a run resumes where it was.
CREATE TABLE eval_results (
    run_config_id INTEGER NOT NULL REFERENCES eval_run_configs(id) ON DELETE CASCADE,
    case_id INTEGER NOT NULL REFERENCES eval_cases(id) ON DELETE CASCADE,
    response TEXT NOT NULL,
    prompt TEXT NOT NULL,
    sources TEXT NOT NULL,
    retrieved TEXT NOT NULL,
    scores TEXT NOT NULL,
    stats TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    PRIMARY KEY (run_config_id, case_id)
);
