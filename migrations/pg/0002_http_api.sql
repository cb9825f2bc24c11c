-- The HTTP API's own state: the bearer token (when HERALD_TOKEN is not set) and the
-- request hashes behind the Idempotency-Key header of POST /v1/notifications.
-- The same step as migrations/0002_http_api.sql for SQLite.
-- Forward-only: once landed this file is never edited; changes are new migrations.

-- One row. Kept readable (not hashed) so an operator can print it again (`herald token`);
-- the database's privileges guard it like the sink secrets in `settings`.
CREATE TABLE api_token (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  token       TEXT    NOT NULL CHECK (length(token) >= 32),
  created_at  BIGINT  NOT NULL
);

-- An Idempotency-Key fixes the body it was first used with; the notification itself is
-- deduplicated by its dedupe_key (UNIQUE), so a repeat answers the original.
CREATE TABLE idempotency_keys (
  key           TEXT    PRIMARY KEY,
  request_hash  TEXT    NOT NULL,
  created_at    BIGINT  NOT NULL
);
