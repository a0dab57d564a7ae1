-- Content hashes. A model's file is known by the SHA-256 of its content: the dequantised
-- training copy and an adapter's base are keyed by it, so another GGUF imported later under
-- the same name and size is never mistaken for it. size_bytes and mtime_ns say when the file
-- must be hashed again: a file changed in place after import is noticed before it is loaded.
-- Rows from before this migration are hashed on first use.
ALTER TABLE models ADD COLUMN sha256 TEXT;
ALTER TABLE models ADD COLUMN mtime_ns INTEGER;

-- The content hash of the base an adapter was trained on; NULL for adapters made before it,
-- which keep being matched by base name and file size.
ALTER TABLE adapters ADD COLUMN base_sha256 TEXT;
