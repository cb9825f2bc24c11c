/**
 * The HTTP API as one HttpApi declaration: routes, Schemas of every path, query, header and
 * body, the problem each error becomes, and so the OpenAPI document. Handlers are in handlers/.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { JSONSchema, Schema } from "effect"
import { ConsumerName, DurableConsumer } from "../domain/Consumer.js"
import { Delivery, DeliveryAttempt, DeliveryStatus } from "../domain/Delivery.js"
import { DeliveryId, NotificationId } from "../domain/Ids.js"
import { Notification, NotificationInput } from "../domain/Notification.js"
import { Priority } from "../domain/Priority.js"
import { Settings } from "../domain/Settings.js"
import { SinkStatus } from "../domain/SinkStatus.js"
import { SinkTestResult } from "../services/SinkTester.js"
import { Authorization } from "./Authorization.js"
import { JsonBody } from "./JsonBody.js"
import { IntegrationsGroup, ProjectsGroup, SessionsGroup } from "./SessionsApi.js"
import {
  ConsumerNotFoundProblem,
  DeliveryNotFoundProblem,
  IdempotencyConflictProblem,
  IllegalTransitionProblem,
  InvalidInputProblem,
  NotificationNotFoundProblem,
  NotReadyProblem,
  OverloadedProblem,
  OffsetBehindProblem,
  SinkNotFoundProblem,
  StaleWriteProblem
} from "./Problem.js"

/** `delivery.version` from the claim answer: an outcome is accepted only for that lease. */
const LeaseVersion = Schema.Int.pipe(Schema.nonNegative()).annotations({
  description: "delivery.version from the claim answer; fences the outcome to that lease"
})

// Every group but health declares JsonBody, then Authorization: the middleware declared last
// runs first, so the token is checked before the body is read or judged.

// Bodies reject unknown fields: a misspelt field is a 400 with its path, not silently dropped.
const strict = { parseOptions: { onExcessProperty: "error" } } as const
const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1_000))
const Seq = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())
const Text = (max: number) => Schema.String.pipe(Schema.minLength(1), Schema.maxLength(max))
const page = <A, I>(item: Schema.Schema<A, I>) =>
  Schema.Struct({ items: Schema.Array(item), next: Schema.NullOr(Schema.String).annotations({ description: "the `after` cursor of the next page; null on the last" }) })

const deliveryPath = Schema.Struct({ id: DeliveryId })

// ---- notifications ---------------------------------------------------------------

export const Enqueued = Schema.Struct({ created: Schema.Literal(true), notification: Notification }).annotations(
  HttpApiSchema.annotations({ status: 201, identifier: "Created" }))
export const AlreadyEnqueued = Schema.Struct({ created: Schema.Literal(false), notification: Notification }).annotations(
  HttpApiSchema.annotations({ status: 200, identifier: "AlreadyEnqueued", description: "a repeated dedupeKey or Idempotency-Key: the original notification" }))

/** The most notifications one batch may carry; past it the whole request is a 400. */
export const maxBatchItems = 1_000

// Items are judged one by one (a bad item is its own 400 result, not the request's), so the
// body's Schema takes any value; the OpenAPI document still describes an item as an input.
const { $schema: _, ...notificationInputJsonSchema } = JSONSchema.make(NotificationInput)
const BatchItemInput = Schema.Unknown.annotations({ identifier: "BatchItemInput", jsonSchema: notificationInputJsonSchema })

export const BatchInput = Schema.Struct({
  notifications: Schema.Array(BatchItemInput).pipe(Schema.minItems(1), Schema.maxItems(maxBatchItems))
}).annotations({ ...strict, description: `1 to ${maxBatchItems} notifications, each as POST /v1/notifications takes it` })

const BatchItemResult = Schema.Union(
  Schema.Struct({ index: Schema.Int, status: Schema.Literal(201), notification: Notification }),
  Schema.Struct({ index: Schema.Int, status: Schema.Literal(200), notification: Notification })
    .annotations({ description: "a repeated dedupeKey (or the same batch again under its Idempotency-Key): the original notification" }),
  Schema.Struct({ index: Schema.Int, status: Schema.Literal(400), problem: InvalidInputProblem })
    .annotations({ description: "the item was rejected and nothing of it written; the problem's paths are within the item" })
)
const BatchResults = Schema.Struct({ results: Schema.Array(BatchItemResult) })
const failed = (r: typeof BatchResults.Type) => r.results.some((x) => x.status === 400)

export const BatchEnqueued = BatchResults.pipe(Schema.filter((r) => !failed(r))).annotations(
  HttpApiSchema.annotations({ status: 201, identifier: "BatchEnqueued", description: "every item enqueued (created or already there)" }))
export const BatchPartlyEnqueued = BatchResults.pipe(Schema.filter(failed)).annotations(
  HttpApiSchema.annotations({ status: 207, identifier: "BatchPartlyEnqueued", description: "some items rejected: the others were enqueued" }))

export class NotificationsGroup extends HttpApiGroup.make("notifications")
  .add(
    HttpApiEndpoint.post("enqueue", "/notifications")
      .setPayload(NotificationInput.annotations(strict))
      .setHeaders(Schema.Struct({ "idempotency-key": Schema.optional(Text(200)) }))
      .addSuccess(Enqueued)
      .addSuccess(AlreadyEnqueued)
      .addError(InvalidInputProblem)
      .addError(IdempotencyConflictProblem)
      .addError(OverloadedProblem)
  )
  .add(
    HttpApiEndpoint.post("enqueueBatch", "/notifications/batch")
      .setPayload(BatchInput)
      .setHeaders(Schema.Struct({ "idempotency-key": Schema.optional(Text(200)) }))
      .addSuccess(BatchEnqueued)
      .addSuccess(BatchPartlyEnqueued)
      .addError(InvalidInputProblem)
      .addError(IdempotencyConflictProblem)
      .addError(OverloadedProblem)
      .annotate(OpenApi.Description,
        "One result per item, in order; the valid items are enqueued in one transaction even when others are rejected (then 207). An Idempotency-Key covers the batch as a whole")
  )
  .add(
    HttpApiEndpoint.get("getNotification", "/notifications/:id")
      .setPath(Schema.Struct({ id: NotificationId }))
      .addSuccess(Schema.Struct({ notification: Notification, deliveries: Schema.Array(Delivery) }))
      .addError(NotificationNotFoundProblem)
  )
  .add(
    HttpApiEndpoint.get("listNotifications", "/notifications")
      .setUrlParams(Schema.Struct({
        kind: Schema.optional(Schema.String),
        priority: Schema.optional(Priority),
        project: Schema.optional(Schema.String),
        session: Schema.optional(Schema.String),
        since: Schema.optional(Seq.annotations({ description: "created at or after (ms since the epoch)" })),
        after: Schema.optional(Schema.String),
        limit: Schema.optional(Limit)
      }))
      .addSuccess(page(Notification))
      .addError(InvalidInputProblem)
  )
  .prefix("/v1")
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "Enqueue and read notifications") {}

// ---- deliveries, dead letter, pull sinks --------------------------------------------

export const RequeueReport = Schema.Struct({
  summary: Schema.String.annotations({ examples: ["3 of 5 requeued"] }),
  requested: Schema.Number,
  requeued: Schema.Array(Schema.String),
  failed: Schema.Array(Schema.Struct({ id: Schema.String, code: Schema.String, reason: Schema.String }))
})

export const RequeueSelector = Schema.Union(
  Schema.Struct({ ids: Schema.Array(DeliveryId).pipe(Schema.minItems(1), Schema.maxItems(1_000)) }),
  Schema.Struct({
    status: Schema.optional(DeliveryStatus),
    sink: Schema.optional(Schema.String),
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000))),
    all: Schema.optional(Schema.Boolean.annotations({ description: "required (true) when neither status nor sink is given: every dead delivery" }))
  })
).annotations({ ...strict, description: "explicit ids, or a filter (status defaults to dead); a filter with neither status nor sink must say all: true" })

export const Claimed = Schema.Struct({ delivery: Delivery, notification: Notification })

export class DeliveriesGroup extends HttpApiGroup.make("deliveries")
  .add(
    HttpApiEndpoint.get("listDeliveries", "/deliveries")
      .setUrlParams(Schema.Struct({
        status: Schema.optional(DeliveryStatus),
        sink: Schema.optional(Schema.String),
        notification: Schema.optional(NotificationId),
        after: Schema.optional(DeliveryId),
        limit: Schema.optional(Limit)
      }))
      .addSuccess(page(Delivery))
      .addError(InvalidInputProblem)
  )
  .add(
    HttpApiEndpoint.get("getDelivery", "/deliveries/:id")
      .setPath(deliveryPath)
      .addSuccess(Schema.Struct({ delivery: Delivery, attempts: Schema.Array(DeliveryAttempt) }))
      .addError(DeliveryNotFoundProblem)
  )
  .add(
    HttpApiEndpoint.post("requeueMany", "/deliveries/requeue")
      .setPayload(RequeueSelector)
      .addSuccess(RequeueReport)
      .addError(InvalidInputProblem)
  )
  .add(
    HttpApiEndpoint.post("requeue", "/deliveries/:id/requeue")
      .setPath(deliveryPath)
      .addSuccess(Delivery)
      .addError(DeliveryNotFoundProblem)
      .addError(IllegalTransitionProblem)
      .addError(StaleWriteProblem)
  )
  .add(
    HttpApiEndpoint.post("cancel", "/deliveries/:id/cancel")
      .setPath(deliveryPath)
      .setPayload(Schema.NullOr(Schema.Struct({ reason: Schema.optional(Text(1_000)) }).annotations(strict)))
      .addSuccess(Delivery)
      .addError(DeliveryNotFoundProblem)
      .addError(IllegalTransitionProblem)
      .addError(StaleWriteProblem)
  )
  .add(
    HttpApiEndpoint.post("claim", "/sinks/:sink/claim")
      .setPath(Schema.Struct({ sink: Schema.String }))
      .setPayload(Schema.Struct({
        owner: Text(200),
        limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 500))),
        leaseSeconds: Schema.optional(Schema.Int.pipe(Schema.between(1, 3_600)))
      }).annotations(strict))
      .addSuccess(Schema.Array(Claimed))
      .addError(InvalidInputProblem)
  )
  .add(
    HttpApiEndpoint.post("ack", "/deliveries/:id/ack")
      .setPath(deliveryPath)
      .setPayload(Schema.Struct({ owner: Text(200), version: LeaseVersion, externalId: Schema.optional(Text(1_000)) }).annotations(strict))
      .addSuccess(Delivery)
      .addError(InvalidInputProblem)
      .addError(DeliveryNotFoundProblem)
      .addError(StaleWriteProblem)
      .addError(IllegalTransitionProblem)
  )
  .add(
    HttpApiEndpoint.post("nack", "/deliveries/:id/nack")
      .setPath(deliveryPath)
      .setPayload(Schema.Struct({
        owner: Text(200),
        version: LeaseVersion,
        code: Text(200),
        message: Schema.String.pipe(Schema.maxLength(10_000)),
        retryable: Schema.Boolean,
        retryAfter: Schema.optional(Schema.Number.pipe(Schema.nonNegative()).annotations({ description: "seconds the receiver asks to wait" }))
      }).annotations(strict))
      .addSuccess(Delivery)
      .addError(DeliveryNotFoundProblem)
      .addError(StaleWriteProblem)
      .addError(IllegalTransitionProblem)
      .addError(InvalidInputProblem)
  )
  .prefix("/v1")
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "Deliveries, the dead letter queue and pull-sink claims") {}

// ---- change feed, settings, operations -------------------------------------------------

const changeEntities: ReadonlyArray<string> = ["notification", "delivery", "settings", "circuit", "session", "pull_request", "check", "github_delivery"]
const ChangeEntity = Schema.Trim.pipe(Schema.filter((e) => changeEntities.includes(e) || `expected one of ${changeEntities.join(", ")}`))
/** `?entity=notification,delivery`: which entities' changes to stream; an unknown one is a 400, not a silent filter. */
const ChangeEntities = Schema.compose(Schema.split(","), Schema.NonEmptyArray(ChangeEntity))
  .annotations({ description: `comma-separated entities: ${changeEntities.join(", ")}` })

export class EventsGroup extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("events", "/events")
      .setUrlParams(Schema.Struct({
        after: Schema.optional(Seq),
        entity: Schema.optional(ChangeEntities),
        project: Schema.optional(Text(200).annotations({ description: "only changes that carry this project id (sessions, pull requests, checks, notifications)" })),
        session: Schema.optional(Text(200).annotations({ description: "only changes that carry this session id" })),
        consumer: Schema.optional(ConsumerName.annotations({ description: "a durable consumer: resume after its committed offset" }))
      }))
      .setHeaders(Schema.Struct({ "last-event-id": Schema.optional(Seq) }))
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .addError(InvalidInputProblem)
  )
  .prefix("/v1")
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description,
    "The change feed (Server-Sent Events). Starts after Last-Event-ID (a reconnect), else a durable consumer's committed offset (?consumer=), else ?after=, else the newest change") {}

const consumerPath = Schema.Struct({ name: ConsumerName })

export class ConsumersGroup extends HttpApiGroup.make("consumers")
  .add(
    HttpApiEndpoint.get("listConsumers", "/consumers")
      .addSuccess(Schema.Struct({ items: Schema.Array(DurableConsumer) }))
  )
  .add(
    HttpApiEndpoint.get("getConsumer", "/consumers/:name")
      .setPath(consumerPath)
      .addSuccess(DurableConsumer)
      .addError(ConsumerNotFoundProblem)
      .addError(InvalidInputProblem)
  )
  .add(
    HttpApiEndpoint.put("commitOffset", "/consumers/:name")
      .setPath(consumerPath)
      .setPayload(Schema.Struct({
        seq: Schema.Int.pipe(Schema.nonNegative()).annotations({ description: "the last change_log seq the consumer has handled" })
      }).annotations(strict))
      .addSuccess(DurableConsumer)
      .addError(InvalidInputProblem)
      .addError(OffsetBehindProblem)
      .annotate(OpenApi.Description, "Commits an offset (creating the consumer); the same seq again is accepted, an older one is 409, one past the newest change 400")
  )
  .add(
    HttpApiEndpoint.del("deleteConsumer", "/consumers/:name")
      .setPath(consumerPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ConsumerNotFoundProblem)
      .addError(InvalidInputProblem)
  )
  .prefix("/v1")
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "Durable consumers of the change feed: committed offsets that GET /v1/events?consumer= resumes after") {}

const SettingsDocument = Schema.encodedSchema(Settings).annotations({ identifier: "Settings" })

export class SettingsGroup extends HttpApiGroup.make("settings")
  .add(HttpApiEndpoint.get("getSettings", "/settings").addSuccess(SettingsDocument))
  .add(
    HttpApiEndpoint.put("putSettings", "/settings")
      .setPayload(SettingsDocument.annotations(strict))
      .addSuccess(SettingsDocument)
      .addError(InvalidInputProblem)
  )
  .add(
    HttpApiEndpoint.post("testSink", "/sinks/:name/test")
      .setPath(Schema.Struct({ name: Schema.String }))
      .addSuccess(SinkTestResult.annotations({ identifier: "SinkTestResult" }))
      .addError(SinkNotFoundProblem)
      .addError(InvalidInputProblem)
      .annotate(OpenApi.Description, "Sends a made-up notification through the named sink now (disabled ones too) and answers what happened; nothing is stored or retried")
  )
  .prefix("/v1")
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "The settings document; secrets come back masked. Test sends to a sink") {}

const sinkPath = Schema.Struct({ name: Schema.String })

export class SinksGroup extends HttpApiGroup.make("sinks")
  .add(
    HttpApiEndpoint.get("listSinks", "/sinks")
      .addSuccess(Schema.Struct({ sinks: Schema.Array(SinkStatus) }))
      .annotate(OpenApi.Description, "Every sink of the settings, in name order, with its circuit, queue, leases and last error")
  )
  .add(
    HttpApiEndpoint.get("getSink", "/sinks/:name")
      .setPath(sinkPath)
      .addSuccess(SinkStatus)
      .addError(SinkNotFoundProblem)
  )
  .add(
    HttpApiEndpoint.post("resetCircuit", "/sinks/:name/reset")
      .setPath(sinkPath)
      .addSuccess(SinkStatus)
      .addError(SinkNotFoundProblem)
      .annotate(OpenApi.Description,
        "Closes the sink's circuit by hand: its held deliveries go out at once. A closed circuit (or a sink without one) stays as it is; answers the status after")
  )
  .prefix("/v1")
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "Sinks as an operator sees them: circuit breakers, queues, last errors. Test sends and pull-sink claims are under settings and deliveries") {}

export const Stats = Schema.Struct({
  byStatus: Schema.Record({ key: Schema.String, value: Schema.Number }),
  bySink: Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.Number }) }),
  dead: Schema.Number,
  oldestDueAgeMs: Schema.NullOr(Schema.Number)
})

export class OpsGroup extends HttpApiGroup.make("ops")
  .add(HttpApiEndpoint.get("stats", "/v1/stats").addSuccess(Stats))
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })))
  .middleware(JsonBody)
  .middleware(Authorization)
  .annotate(OpenApi.Description, "Operations: stats and Prometheus metrics") {}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Schema.Struct({ status: Schema.Literal("ok") })))
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready"), migration: Schema.Number }))
      .addError(NotReadyProblem)
      .annotate(OpenApi.Description, "Ready: the database writable within a second and with room, migrations current, not draining")
  )
  .annotate(OpenApi.Description, "Liveness and readiness; they hold no data and need no token") {}

export class HeraldApi extends HttpApi.make("herald")
  .add(NotificationsGroup)
  .add(DeliveriesGroup)
  .add(EventsGroup)
  .add(ConsumersGroup)
  .add(SettingsGroup)
  .add(SinksGroup)
  .add(ProjectsGroup)
  .add(SessionsGroup)
  .add(IntegrationsGroup)
  .add(OpsGroup)
  .add(HealthGroup)
  .annotate(OpenApi.Title, "Herald")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Description, "A durable notification runtime. Send `Authorization: Bearer <token>` to every endpoint but /healthz and /readyz. Errors are RFC 9457 application/problem+json.") {}
