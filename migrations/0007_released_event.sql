-- A lease given back before its sink call started (a graceful stop) moves a delivery from
-- leased back to pending without an attempt; its change event is `released`, so a feed
-- reader can tell it from a requeue or a retry becoming due. Otherwise the trigger of
-- 0003_lean_writes.sql, unchanged. Forward-only: once landed this file is never edited.

DROP TRIGGER deliveries_change_update;

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
          CASE WHEN OLD.status = 'leased' AND NEW.status = 'pending' THEN 'released'
               WHEN OLD.status IS NOT NEW.status THEN NEW.status
               ELSE 'updated' END,
          json_object('notificationId', NEW.notification_id, 'sink', NEW.sink,
                      'from', OLD.status, 'status', NEW.status, 'attempts', NEW.attempts,
                      'version', NEW.version, 'nextAttemptAt', NEW.next_attempt_at,
                      'errorCode', NEW.last_error_code, 'reason', NEW.reason),
          NEW.updated_at);
END;
