-- The SHA-256 of each applied migration file, kept beside @effect/sql's effect_sql_migrations,
-- so a start refuses a database whose applied migration's file has been edited or renamed
-- since: forward-only is checked, not only a convention. src/layers/Migrations.ts writes the
-- rows in the transaction that runs the migrations. The text is hashed with CRLF read as LF:
-- a Windows checkout of the released file is the same migration.
-- Forward-only: never edited once landed.
CREATE TABLE herald_migrations (
  migration_id  INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL,
  sha256        TEXT    NOT NULL CHECK (length(sha256) = 64),
  -- 'applied': recorded by the start that ran the migration. 'adopted': the migration ran
  -- under a build before this table, and its file as found on the first start since was
  -- trusted (trust on first use).
  recorded_as   TEXT    NOT NULL CHECK (recorded_as IN ('applied', 'adopted')),
  recorded_at   INTEGER NOT NULL
);
