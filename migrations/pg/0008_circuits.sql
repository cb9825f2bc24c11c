-- Per-sink breaker state, one row per push sink that has failed or has a circuit breaker:
-- the circuit machine's status and context (src/machines/circuit.ts), plus the sink's last
-- error for GET /v1/sinks. Every change of status writes a change_log row in the same
-- transaction; a count that moves without a change of status does not.
-- The same step as migrations/0008_circuits.sql for SQLite.
-- Forward-only: once landed this file is never edited.

CREATE TABLE circuits (
  sink                  TEXT    PRIMARY KEY,
  status                TEXT    NOT NULL CHECK (status IN ('closed', 'open', 'half_open')),
  consecutive_failures  INTEGER NOT NULL CHECK (consecutive_failures >= 0),
  opens                 INTEGER NOT NULL CHECK (opens >= 0),
  cooldown_ms           BIGINT,
  opened_at             BIGINT,
  probe_at              BIGINT,
  probe_delivery_id     TEXT,
  last_error_code       TEXT,
  last_error            TEXT,
  last_error_at         BIGINT,
  reason                TEXT,
  version               INTEGER NOT NULL,
  updated_at            BIGINT  NOT NULL,
  CHECK (status = 'closed' OR (cooldown_ms IS NOT NULL AND probe_at IS NOT NULL AND opened_at IS NOT NULL)),
  CHECK (status = 'half_open' OR probe_delivery_id IS NULL)
);

-- One function for both triggers: an insert's `from` is 'closed' (a new circuit starts closed).
CREATE FUNCTION circuits_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('circuit', NEW.sink, NEW.status,
          jsonb_build_object('sink', NEW.sink,
                             'from', CASE WHEN TG_OP = 'INSERT' THEN 'closed' ELSE OLD.status END,
                             'status', NEW.status,
                             'consecutiveFailures', NEW.consecutive_failures, 'opens', NEW.opens,
                             'probeAt', NEW.probe_at, 'errorCode', NEW.last_error_code, 'reason', NEW.reason),
          NEW.updated_at);
  RETURN NULL;
END
$$;

CREATE TRIGGER circuits_change_insert AFTER INSERT ON circuits
  FOR EACH ROW WHEN (NEW.status <> 'closed')
  EXECUTE FUNCTION circuits_change();

CREATE TRIGGER circuits_change_update AFTER UPDATE ON circuits
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION circuits_change();

-- What held an attempt back before it started, without spending an attempt: the sink's rate
-- limit or its open circuit. NULL: it went out when it was due.
ALTER TABLE delivery_attempts ADD COLUMN held_by TEXT CHECK (held_by IN ('rate_limited', 'circuit_open'));
