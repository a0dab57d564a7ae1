-- RAFT: a dataset's kind ("chat", or "raft" for retrieval-style examples with documents).
-- An adapter trained on a "raft" dataset is a RAFT adapter, served with its documents.
ALTER TABLE datasets ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat';
