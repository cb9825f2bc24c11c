-- Idempotency keys expire (24 hours, as at most payment APIs); the hourly-growing table is
-- pruned by age, which needs an index on it. The same step as migrations/0004 for SQLite.
-- Forward-only: never edited once landed.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
