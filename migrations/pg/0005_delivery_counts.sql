-- Delivery counts by sink and status, kept by triggers in the same transaction as the change.
-- Stats and /metrics read `delivery_counts` instead of a GROUP BY over every delivery ever made.
-- The same step as migrations/0005_delivery_counts.sql for SQLite, read the same way
-- (`SELECT sink, status, n FROM delivery_counts`), kept differently.
--
-- SQLite's one row per (sink, status), updated in place, deadlocks on PostgreSQL: a transaction
-- that moves one delivery pending -> leased and another leased -> sent holds the rows it
-- touched until commit, and a second transaction moving deliveries the other way round waits
-- for them while holding what the first needs next (8 writers of 4 status changes each
-- deadlocked one transaction in four, each detected only after deadlock_timeout). So the
-- triggers only append +1/-1 rows to `delivery_count_deltas`, which takes no lock another
-- writer waits for; `delivery_counts` is their sum; `delivery_counts_compact()` folds them into
-- one row per key, safe to run from any process at any time (the runtime's retention calls it),
-- and keeps the sum's scan short. Forward-only: never edited once landed.

CREATE TABLE delivery_count_deltas (
  sink    TEXT    NOT NULL,
  status  TEXT    NOT NULL,
  -- No CHECK: a count damaged by hand must show as a wrong statistic, never stop a write.
  n       BIGINT  NOT NULL
);

INSERT INTO delivery_count_deltas (sink, status, n)
  SELECT sink, status, count(*) FROM deliveries GROUP BY sink, status;

CREATE VIEW delivery_counts AS
  SELECT sink, status, sum(n)::BIGINT AS n FROM delivery_count_deltas GROUP BY sink, status;

-- Folds the deltas into one row per key in one statement: the rows it deletes are the rows it
-- sums, so a concurrent writer's delta (not in its snapshot) or a concurrent compaction (whose
-- deleted rows it skips) loses nothing. Keys that sum to zero go.
CREATE FUNCTION delivery_counts_compact() RETURNS void LANGUAGE sql AS $$
  WITH folded AS (DELETE FROM delivery_count_deltas RETURNING sink, status, n)
  INSERT INTO delivery_count_deltas (sink, status, n)
    SELECT sink, status, sum(n) FROM folded GROUP BY sink, status HAVING sum(n) <> 0;
$$;

CREATE FUNCTION delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO delivery_count_deltas (sink, status, n) VALUES (NEW.sink, NEW.status, 1);
  RETURN NULL;
END
$$;

CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
  FOR EACH ROW EXECUTE FUNCTION delivery_counts_insert();

CREATE FUNCTION delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO delivery_count_deltas (sink, status, n) VALUES (OLD.sink, OLD.status, -1), (NEW.sink, NEW.status, 1);
  RETURN NULL;
END
$$;

CREATE TRIGGER delivery_counts_update AFTER UPDATE OF status, sink ON deliveries
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.sink IS DISTINCT FROM NEW.sink)
  EXECUTE FUNCTION delivery_counts_update();

CREATE FUNCTION delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO delivery_count_deltas (sink, status, n) VALUES (OLD.sink, OLD.status, -1);
  RETURN NULL;
END
$$;

CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
  FOR EACH ROW EXECUTE FUNCTION delivery_counts_delete();
