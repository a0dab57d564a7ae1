-- How evaluation runs use a provider: how many requests they send it at once, and its API
-- prices (per million prompt and completion tokens; NULL: not known, no cost is shown).
ALTER TABLE providers ADD COLUMN concurrency INTEGER NOT NULL DEFAULT 4
    CHECK (concurrency BETWEEN 1 AND 64);
ALTER TABLE providers ADD COLUMN price_in REAL CHECK (price_in IS NULL OR price_in >= 0);
ALTER TABLE providers ADD COLUMN price_out REAL CHECK (price_out IS NULL OR price_out >= 0);
