-- A lease given back before its sink call started (a graceful stop) moves a delivery from
-- leased back to pending without an attempt; its change event is `released`, so a feed
-- reader can tell it from a requeue or a retry becoming due. Otherwise the trigger function of
-- 0001_core.sql, unchanged (its trigger and WHEN stay). The same step as migrations/0007.
-- Forward-only: once landed this file is never edited.

CREATE OR REPLACE FUNCTION deliveries_change_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO change_log (entity, entity_id, event, payload, created_at)
  VALUES ('delivery', NEW.id,
          CASE WHEN OLD.status = 'leased' AND NEW.status = 'pending' THEN 'released'
               WHEN OLD.status IS DISTINCT FROM NEW.status THEN NEW.status
               ELSE 'updated' END,
          jsonb_build_object('notificationId', NEW.notification_id, 'sink', NEW.sink,
                             'from', OLD.status, 'status', NEW.status, 'attempts', NEW.attempts,
                             'version', NEW.version, 'nextAttemptAt', NEW.next_attempt_at,
                             'errorCode', NEW.last_error_code, 'reason', NEW.reason),
          NEW.updated_at);
  RETURN NULL;
END
$$;
