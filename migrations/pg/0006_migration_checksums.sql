-- The same step as migrations/0006_migration_checksums.sql for SQLite: the SHA-256 of each
-- applied migration file is kept, so a start refuses a database whose applied migration's file
-- has been edited or renamed since. On PostgreSQL the table exists before 0001 runs: the runner
-- (src/store/pg/migrate.ts) creates it and records every step with its checksum from the
-- first, so there is no 'adopted' history to carry. This step makes the table's rule part of
-- the schema: a checksum is 64 lowercase hex digits.
-- Forward-only: never edited once landed.
ALTER TABLE herald_migrations
  ADD CONSTRAINT herald_migrations_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$');
