-- Per-sink breaker state, one row per push sink that has failed or has a circuit breaker:
-- the circuit machine's status and context (src/machines/circuit.ts), plus the sink's last
-- error for GET /v1/sinks. Every change of status writes a change_log row in the same
-- transaction; a count that moves without a change of status does not.
-- Forward-only: once landed this file is never edited.

CREATE TABLE circuits (
  sink                  TEXT    PRIMARY KEY,
  status                TEXT    NOT NULL CHECK (status IN ('closed', 'open', 'half_open')),
  consecutive_failures  INTEGER NOT NULL CHECK (consecutive_failures >= 0),
  opens                 INTEGER NOT NULL CHECK (opens >= 0),
  cooldown_ms           INTEGER,
  opened_at             INTEGER,
  probe_at              INTEGER,
  probe_delivery_id     TEXT,
  last_error_code       TEXT,
  last_error            TEXT,
  last_error_at         INTEGER,
  reason                TEXT,
  version               INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL,
  CHECK (status = 'closed' OR (cooldown_ms IS NOT NULL AND probe_at IS NOT NULL AND opened_at IS NOT NULL)),
  CHECK (status = 'half_open' OR probe_delivery_id IS NULL)
) WITHOUT ROWID;

CREATE TRIGGER circuits_change_insert AFTER INSERT ON circuits
WHEN NEW.status IS NOT 'closed'
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('circuit', NEW.sink, NEW.status,
          json_object('sink', NEW.sink, 'from', 'closed', 'status', NEW.status,
                      'consecutiveFailures', NEW.consecutive_failures, 'opens', NEW.opens,
                      'probeAt', NEW.probe_at, 'errorCode', NEW.last_error_code, 'reason', NEW.reason),
          NEW.updated_at);
END;

CREATE TRIGGER circuits_change_update AFTER UPDATE ON circuits
WHEN OLD.status IS NOT NEW.status
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('circuit', NEW.sink, NEW.status,
          json_object('sink', NEW.sink, 'from', OLD.status, 'status', NEW.status,
                      'consecutiveFailures', NEW.consecutive_failures, 'opens', NEW.opens,
                      'probeAt', NEW.probe_at, 'errorCode', NEW.last_error_code, 'reason', NEW.reason),
          NEW.updated_at);
END;

-- What held an attempt back before it started, without spending an attempt: the sink's rate
-- limit or its open circuit. NULL: it went out when it was due.
ALTER TABLE delivery_attempts ADD COLUMN held_by TEXT CHECK (held_by IN ('rate_limited', 'circuit_open'));
