-- Herald core schema: settings, notifications, deliveries, attempts, change_log.
-- Forward-only: once landed this file is never edited; changes are new migrations.
-- Times are integer milliseconds since the epoch, written by the runtime's Clock
-- (never SQLite's clock), so tests that drive a TestClock see consistent rows.

CREATE TABLE settings (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  document    TEXT    NOT NULL CHECK (json_valid(document)),
  version     INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE notifications (
  id          TEXT    PRIMARY KEY,
  kind        TEXT    NOT NULL CHECK (length(kind) BETWEEN 1 AND 200),
  priority    TEXT    NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  title       TEXT    NOT NULL,
  body        TEXT    NOT NULL DEFAULT '',
  payload     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
  dedupe_key  TEXT    UNIQUE,
  project_id  TEXT,
  session_id  TEXT,
  created_at  INTEGER NOT NULL,
  routed_at   INTEGER
);

-- The router's scan: notifications that waited while routing was disabled.
CREATE INDEX notifications_unrouted ON notifications (created_at) WHERE routed_at IS NULL;

CREATE TABLE deliveries (
  id                TEXT    PRIMARY KEY,
  notification_id   TEXT    NOT NULL REFERENCES notifications (id),
  sink              TEXT    NOT NULL,
  status            TEXT    NOT NULL CHECK (status IN
                      ('pending', 'leased', 'retry_wait', 'sent', 'dead', 'skipped', 'cancelled')),
  attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
  rescues           INTEGER NOT NULL DEFAULT 0 CHECK (rescues >= 0),
  next_attempt_at   INTEGER,
  lease_owner       TEXT,
  lease_expires_at  INTEGER,
  last_error_code   TEXT,
  last_error        TEXT,
  external_id       TEXT,
  reason            TEXT,
  version           INTEGER NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  UNIQUE (notification_id, sink),
  CHECK ((status = 'leased') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- The dispatcher's and the claim API's due-scan, per sink.
CREATE INDEX deliveries_due ON deliveries (sink, next_attempt_at)
  WHERE status IN ('pending', 'retry_wait');
-- The supervisor's lease-expiry scan.
CREATE INDEX deliveries_lease_expiry ON deliveries (lease_expires_at) WHERE status = 'leased';
-- Listing by status (the dead letter queue, the dashboard), newest id last.
CREATE INDEX deliveries_status ON deliveries (status, id);

CREATE TABLE delivery_attempts (
  id               INTEGER PRIMARY KEY,
  delivery_id      TEXT    NOT NULL REFERENCES deliveries (id),
  attempt          INTEGER NOT NULL,
  outcome          TEXT    NOT NULL CHECK (outcome IN ('sent', 'failed', 'lease_expired')),
  error_code       TEXT,
  error            TEXT,
  retryable        INTEGER,
  lease_owner      TEXT,
  started_at       INTEGER,
  finished_at      INTEGER NOT NULL,
  duration_ms      INTEGER,
  next_attempt_at  INTEGER,
  wait_reason      TEXT CHECK (wait_reason IN ('backoff', 'retry_after'))
);

CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, attempt);

-- AUTOINCREMENT: a sequence number is never reused after retention deletes old rows,
-- so a client's Last-Event-ID can never point at a different change.
CREATE TABLE change_log (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  entity      TEXT    NOT NULL,
  entity_id   TEXT    NOT NULL,
  event       TEXT    NOT NULL,
  payload     TEXT    NOT NULL CHECK (json_valid(payload)),
  created_at  INTEGER NOT NULL
);

CREATE TABLE consumer_offsets (
  consumer    TEXT    PRIMARY KEY,
  seq         INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TRIGGER settings_change_insert AFTER INSERT ON settings
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('settings', 'settings', 'updated', json_object('version', NEW.version), NEW.updated_at);
END;

CREATE TRIGGER settings_change_update AFTER UPDATE ON settings
WHEN OLD.document IS NOT NEW.document
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('settings', 'settings', 'updated', json_object('version', NEW.version), NEW.updated_at);
END;

CREATE TRIGGER notifications_change_insert AFTER INSERT ON notifications
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('notification', NEW.id, 'created',
          json_object('kind', NEW.kind, 'priority', NEW.priority, 'title', NEW.title,
                      'projectId', NEW.project_id, 'sessionId', NEW.session_id,
                      'routedAt', NEW.routed_at),
          NEW.created_at);
END;

CREATE TRIGGER notifications_change_routed AFTER UPDATE OF routed_at ON notifications
WHEN OLD.routed_at IS NOT NEW.routed_at
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('notification', NEW.id, 'routed', json_object('routedAt', NEW.routed_at), NEW.routed_at);
END;

CREATE TRIGGER deliveries_change_insert AFTER INSERT ON deliveries
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('delivery', NEW.id, 'created',
          json_object('notificationId', NEW.notification_id, 'sink', NEW.sink,
                      'status', NEW.status, 'attempts', NEW.attempts,
                      'version', NEW.version, 'reason', NEW.reason),
          NEW.created_at);
END;

-- Fires only when a watched column really changed: a lease renewal (lease_expires_at
-- alone) or a re-poll that rewrites the same values is silent.
CREATE TRIGGER deliveries_change_update AFTER UPDATE ON deliveries
WHEN OLD.status IS NOT NEW.status
  OR OLD.attempts IS NOT NEW.attempts
  OR OLD.max_attempts IS NOT NEW.max_attempts
  OR OLD.next_attempt_at IS NOT NEW.next_attempt_at
  OR OLD.lease_owner IS NOT NEW.lease_owner
  OR OLD.last_error_code IS NOT NEW.last_error_code
  OR OLD.external_id IS NOT NEW.external_id
  OR OLD.reason IS NOT NEW.reason
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('delivery', NEW.id,
          CASE WHEN OLD.status IS NOT NEW.status THEN NEW.status ELSE 'updated' END,
          json_object('notificationId', NEW.notification_id, 'sink', NEW.sink,
                      'from', OLD.status, 'status', NEW.status, 'attempts', NEW.attempts,
                      'version', NEW.version, 'nextAttemptAt', NEW.next_attempt_at,
                      'errorCode', NEW.last_error_code, 'reason', NEW.reason),
          NEW.updated_at);
END;
