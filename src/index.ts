/**
 * Herald as a library: provide `Herald.layer({ database })` inside your Effect program and
 * use the `Herald` service; no HTTP needed. Machines, store rows and internals stay private.
 */
export { Herald, type ClaimedDelivery, type DurableOptions, type HeraldConfig, type RequeueReport, type Stats } from "./layers/Herald.js"
export { MemorySink, type MemoryHandler } from "./sinks/memory.js"
export type { RuntimeOptions } from "./runtime/RuntimeConfig.js"
export { type RetrySchedule, retrySchedule } from "./runtime/RetrySchedules.js"
export type { SyncMode } from "./store/sqlite/Sqlite.js"
export { Notification, NotificationInput, type BatchItemResult, type Enqueued } from "./domain/Notification.js"
export { Delivery, DeliveryAttempt, DeliveryFilter, DeliveryStatus, HeldBy, type Page } from "./domain/Delivery.js"
export { CircuitState, SinkStatus } from "./domain/SinkStatus.js"
export { ChangeEvent, Resync } from "./domain/ChangeEvent.js"
export { ConsumerName, DurableConsumer } from "./domain/Consumer.js"
export { CircuitSettings, RateLimit, Settings, defaultSettings, type SettingsInput, type SinkConfig } from "./domain/Settings.js"
export { Priority, priorities } from "./domain/Priority.js"
export { DeliveryId, NotificationId } from "./domain/Ids.js"
export { SinkFailure, type SinkDelivery, type SinkReceipt } from "./domain/Sink.js"
export {
  CircuitTransitionRefused,
  ConsumerNotFound,
  DatabaseTooNew,
  DeliveryNotFound,
  IllegalTransition,
  InvalidInput,
  MigrationChanged,
  MigrationMissing,
  NotificationNotFound,
  OffsetBehind,
  Overloaded,
  SinkNotFound,
  StaleWrite,
  StorageUnavailable,
  StoredSettingsInvalid
} from "./domain/errors.js"
