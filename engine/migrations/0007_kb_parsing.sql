-- A file being parsed. Indexing marks a file 'parsing' (committed) before handing it to the
-- parser and clears the mark when the parser returns, so a run that dies while a file is being
-- parsed leaves a record of which file it was: the next run gives it one more try, then fails
-- it with a reason instead of being stopped by it on every run. For a 'parsing' row, reason
-- holds the number of tries so far, and size -1 means "parsed; chunks not stored yet".
-- SQLite cannot change a CHECK constraint in place: the table is copied into a new one.
CREATE TABLE kb_files_new (
    index_id INTEGER NOT NULL REFERENCES kb_indexes(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'skipped', 'failed', 'parsing')),
    reason TEXT NOT NULL DEFAULT '',
    chunks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (index_id, path)
);
INSERT INTO kb_files_new SELECT index_id, path, size, mtime_ns, sha256, status, reason, chunks
FROM kb_files;
DROP TABLE kb_files;
ALTER TABLE kb_files_new RENAME TO kb_files;
