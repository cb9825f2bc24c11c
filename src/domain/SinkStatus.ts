/** A sink as GET /v1/sinks shows it: its settings' name, type and switch, its circuit, its queue and its last error. */
import { Schema } from "effect"
import { circuitStatuses } from "../machines/circuit.js"

export const CircuitState = Schema.Literal(...circuitStatuses).annotations({
  description: "closed: deliveries go out; open: they wait without spending attempts until probeAt; half_open: one probe is out"
})

export const SinkError = Schema.Struct({
  code: Schema.String,
  message: Schema.String,
  at: Schema.Number
})

export class SinkStatus extends Schema.Class<SinkStatus>("SinkStatus")({
  name: Schema.String,
  type: Schema.String,
  enabled: Schema.Boolean,
  /** "closed" for a sink without a circuit breaker. */
  circuit: CircuitState,
  /** Retryable failures in a row, as the breaker counts them. */
  consecutiveFailures: Schema.Number,
  /** While open: when the cooldown ends and one probe may go. */
  probeAt: Schema.NullOr(Schema.Number),
  /** Why the circuit is in its state (its last change), if it ever changed. */
  circuitReason: Schema.NullOr(Schema.String),
  /** Deliveries leased now, by any process. */
  inFlight: Schema.Number,
  /** Deliveries waiting: pending or retry_wait. */
  queued: Schema.Number,
  lastError: Schema.NullOr(SinkError)
}) {}
