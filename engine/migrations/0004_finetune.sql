-- Fine-tuning datasets: normalised chat JSONL files in the workspace's datasets/ folder.
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    rows INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- Training jobs. A job's live state (status, step, losses) is in files in its folder, written
-- by the detached training process; this row names it.
CREATE TABLE training_jobs (
    id INTEGER PRIMARY KEY,
    adapter TEXT NOT NULL UNIQUE,
    base_model TEXT NOT NULL,
    dataset TEXT NOT NULL,
    folder TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- Trained adapters: PEFT folder and GGUF LoRA file, the base they belong to, and how they were
-- made. An adapter is only ever applied to its base model (name and file size must match).
CREATE TABLE adapters (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    base_model TEXT NOT NULL,
    base_size INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    job_id INTEGER REFERENCES training_jobs(id) ON DELETE SET NULL,
    peft_path TEXT NOT NULL,
    gguf_path TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'lora',
    hyperparameters TEXT NOT NULL,
    results TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
