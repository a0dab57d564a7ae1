-- Remote model providers: any OpenAI-compatible endpoint. The API key is never stored here:
-- it lives in the OS keyring (or, headless, in an environment variable read at use time);
-- key_source only says which of the two to look in, or that the provider needs none.
CREATE TABLE providers (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    base_url TEXT NOT NULL,
    key_source TEXT NOT NULL DEFAULT 'none' CHECK (key_source IN ('none', 'keyring', 'env')),
    context_size INTEGER NOT NULL DEFAULT 8192 CHECK (context_size >= 256),
    timeout_s REAL NOT NULL DEFAULT 120 CHECK (timeout_s > 0),
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
