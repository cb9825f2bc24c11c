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

/** The database carries migrations this build does not know: it was written by a newer Herald. */
export class DatabaseTooNew extends Schema.TaggedError<DatabaseTooNew>()("DatabaseTooNew", {
  databaseVersion: Schema.Number,
  buildVersion: Schema.Number
}) {
  override get message() {
    return `the database is at migration ${this.databaseVersion} but this build of Herald knows migrations up to ${this.buildVersion}: run a newer Herald, or point HERALD_DB at another file`
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
