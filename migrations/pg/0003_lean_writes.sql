-- The same step as migrations/0003_lean_writes.sql for SQLite: cheaper writes on the hot path.
-- Forward-only: once landed this file is never edited.
--
-- Of SQLite's three changes, the first two have no meaning here: change_log was created in
-- 0001 without a sequence table to rewrite (its numbers come from the transaction id) and with
-- a jsonb payload that is valid by its type, not by a CHECK that re-parses it. The third holds:
-- deliveries_status indexes every status but 'sent', the one most rows end in and the one a
-- status listing can walk in id order anyway; each send no longer moves an index entry.

DROP INDEX deliveries_status;
CREATE INDEX deliveries_status ON deliveries (status, id) WHERE status <> 'sent';
