/** Herald's expected failures. Each carries the facts a caller needs to act on it. */
import { Schema } from "effect"
import { DeliveryId, NotificationId } from "./Ids.js"

export class NotificationNotFound extends Schema.TaggedError<NotificationNotFound>()("NotificationNotFound", {
  notificationId: Schema.String
}) {
  override get message() {
    return `no notification with id ${this.notificationId}`
  }
}

export class DeliveryNotFound extends Schema.TaggedError<DeliveryNotFound>()("DeliveryNotFound", {
  deliveryId: Schema.String
}) {
  override get message() {
    return `no delivery with id ${this.deliveryId}`
  }
}

/** An event that does not apply in the delivery's current state (never silently ignored). */
export class IllegalTransition extends Schema.TaggedError<IllegalTransition>()("IllegalTransition", {
  deliveryId: Schema.optional(DeliveryId),
  state: Schema.String,
  event: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.event} does not apply to a ${this.state} delivery${this.deliveryId ? ` (${this.deliveryId})` : ""}: ${this.reason}`
  }
}

/**
 * An event that does not apply in a sink's circuit breaker state. Its own class, not an
 * IllegalTransition: that one names a delivery (its id and message), is public API that
 * callers match on, and the dispatcher treats it as a delivery's refusal.
 */
export class CircuitTransitionRefused extends Schema.TaggedError<CircuitTransitionRefused>()("CircuitTransitionRefused", {
  sink: Schema.optional(Schema.String),
  state: Schema.String,
  event: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.event} does not apply to a ${this.state} circuit${this.sink ? ` (sink ${this.sink})` : ""}: ${this.reason}`
  }
}

/**
 * An event that does not apply in a session's state: activity or a PR after the session ended,
 * liveness coming back to a session that died. Its own class, as CircuitTransitionRefused is:
 * it names a session, and the session API answers it on its own terms.
 */
export class SessionTransitionRefused extends Schema.TaggedError<SessionTransitionRefused>()("SessionTransitionRefused", {
  sessionId: Schema.optional(Schema.String),
  state: Schema.String,
  event: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.event} does not apply to a ${this.state} session${this.sessionId ? ` (${this.sessionId})` : ""}: ${this.reason}`
  }
}

/** A write lost a compare-and-set: the row moved on (another worker, a rescue, an operator). */
export class StaleWrite extends Schema.TaggedError<StaleWrite>()("StaleWrite", {
  deliveryId: DeliveryId,
  reason: Schema.String
}) {
  override get message() {
    return `delivery ${this.deliveryId} changed underneath this write: ${this.reason}`
  }
}

export interface InputIssue {
  readonly path: string
  readonly message: string
}

/** Bad input: which field, and why. Nothing was written. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  what: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message() {
    return `invalid ${this.what}: ${this.issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`
  }
}

/**
 * The settings document in the database does not decode: it was changed outside Herald (by hand,
 * or by another program). Its issues name paths and what was expected, never the values found:
 * the document holds the sinks' secrets, and this error is printed and logged.
 */
export class StoredSettingsInvalid extends Schema.TaggedError<StoredSettingsInvalid>()("StoredSettingsInvalid", {
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message() {
    return `the settings document stored in the database is invalid (was it changed outside Herald?): ${this.issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`
  }
}

/** The database carries migrations this build does not know: it was written by a newer Herald. */
export class DatabaseTooNew extends Schema.TaggedError<DatabaseTooNew>()("DatabaseTooNew", {
  databaseVersion: Schema.Number,
  buildVersion: Schema.Number
}) {
  override get message() {
    return `the database is at migration ${this.databaseVersion} but this build of Herald knows migrations up to ${this.buildVersion}: run a newer Herald, or point HERALD_DB at another file`
  }
}

const restoreFile = "restore the file as released (reinstall Herald, or undo the edit); a schema change goes in a new migration"

/**
 * A migration the database has applied is not this build's file of that number: its text
 * changed since (SHA-256), or the file was renamed. Landed migrations are never edited.
 */
export class MigrationChanged extends Schema.TaggedError<MigrationChanged>()("MigrationChanged", {
  /** This build's file, `NNNN_name.sql`. */
  file: Schema.String,
  /** The file the database applied under that number; the same as `file` unless renamed. */
  appliedAs: Schema.String,
  recordedSha256: Schema.optional(Schema.String),
  fileSha256: Schema.optional(Schema.String)
}) {
  override get message() {
    if (this.appliedAs !== this.file) {
      return `migrations/${this.file} is not the migration this database applied as ${this.appliedAs}: ${restoreFile}`
    }
    return `migrations/${this.file} differs from the file this database was migrated with (SHA-256 recorded ${this.recordedSha256?.slice(0, 12)}..., the file's now ${this.fileSha256?.slice(0, 12)}...): ${restoreFile}`
  }
}

/**
 * A hole in the migrations: the database lacks one that a later applied migration followed
 * (it was not migrated in order), or this build lacks a file before its newest.
 */
export class MigrationMissing extends Schema.TaggedError<MigrationMissing>()("MigrationMissing", {
  /** `NNNN_name.sql`, or `NNNN_*.sql` for a file neither the build nor the database can name. */
  file: Schema.String,
  missingFrom: Schema.Literal("database", "build"),
  /** The migration after the hole: applied (database) or in this build (build). */
  laterMigration: Schema.Number,
  /** For a file this build lacks: whether the database has applied it. */
  applied: Schema.Boolean
}) {
  override get message() {
    return this.missingFrom === "database"
      ? `the database lacks migrations/${this.file} though migration ${this.laterMigration} after it is applied: it was not migrated in order, so its schema is not one this build knows; restore it from a backup, or point HERALD_DB at another file`
      : `this build of Herald lacks migrations/${this.file}${this.applied ? ", which the database has applied" : ` though it has migration ${this.laterMigration}`}: a landed migration is never deleted; reinstall Herald, or restore the file`
  }
}

/** The database file cannot be opened or written. */
export class StorageUnavailable extends Schema.TaggedError<StorageUnavailable>()("StorageUnavailable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot open the database at ${this.path}: ${this.reason}`
  }
}

/**
 * More enqueues wait to be written than the configured bound: nothing of this call was
 * accepted, nothing accepted before is dropped. Retry after `retryAfterSeconds`.
 */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {
  queued: Schema.Number,
  limit: Schema.Number,
  retryAfterSeconds: Schema.Number
}) {
  override get message() {
    return `${this.queued} notifications are waiting to be written, the limit is ${this.limit}: nothing was accepted; retry in ${this.retryAfterSeconds} s`
  }
}

export { DeliveryId, NotificationId }

/** A name that is not a sink in the settings document. */
export class SinkNotFound extends Schema.TaggedError<SinkNotFound>()("SinkNotFound", {
  sink: Schema.String
}) {
  override get message() {
    return `no sink named '${this.sink}' in the settings`
  }
}

/** No durable consumer of that name has committed an offset (or it was deleted). */
export class ConsumerNotFound extends Schema.TaggedError<ConsumerNotFound>()("ConsumerNotFound", {
  consumer: Schema.String
}) {
  override get message() {
    return `no durable consumer named '${this.consumer}'`
  }
}

/**
 * A commit behind the consumer's offset. Refused, not ignored: moving back would make the next
 * resume repeat changes already handled, and an older commit arriving late usually means two
 * readers share one name. Delete the consumer to start it over.
 */
export class OffsetBehind extends Schema.TaggedError<OffsetBehind>()("OffsetBehind", {
  consumer: Schema.String,
  committed: Schema.Number,
  requested: Schema.Number
}) {
  override get message() {
    return `consumer '${this.consumer}' has committed ${this.committed}; a commit only moves forward (asked ${this.requested}); delete the consumer to start it over`
  }
}
