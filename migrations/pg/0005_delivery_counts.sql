-- Delivery counts by sink and status, kept by triggers in the same transaction as the change.
-- Stats and /metrics read this small table instead of a GROUP BY over every delivery ever made.
-- The same step as migrations/0005_delivery_counts.sql for SQLite.
-- On PostgreSQL each count is a row that concurrent writers of the same sink and status update
-- in turn (a row lock held to commit); that is the price of an exact count in the same
-- transaction. Forward-only: never edited once landed.
CREATE TABLE delivery_counts (
  sink    TEXT    NOT NULL,
  status  TEXT    NOT NULL,
  -- No CHECK (n >= 0): a count damaged by hand must show as a wrong statistic, never stop a write.
  n       BIGINT  NOT NULL,
  PRIMARY KEY (sink, status)
);

INSERT INTO delivery_counts (sink, status, n)
  SELECT sink, status, count(*) FROM deliveries GROUP BY sink, status;

CREATE FUNCTION delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO delivery_counts (sink, status, n) VALUES (NEW.sink, NEW.status, 1)
    ON CONFLICT (sink, status) DO UPDATE SET n = delivery_counts.n + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
  FOR EACH ROW EXECUTE FUNCTION delivery_counts_insert();

CREATE FUNCTION delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE sink = OLD.sink AND status = OLD.status;
  INSERT INTO delivery_counts (sink, status, n) VALUES (NEW.sink, NEW.status, 1)
    ON CONFLICT (sink, status) DO UPDATE SET n = delivery_counts.n + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER delivery_counts_update AFTER UPDATE OF status, sink ON deliveries
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.sink IS DISTINCT FROM NEW.sink)
  EXECUTE FUNCTION delivery_counts_update();

CREATE FUNCTION delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE sink = OLD.sink AND status = OLD.status;
  RETURN NULL;
END
$$;

CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
  FOR EACH ROW EXECUTE FUNCTION delivery_counts_delete();
