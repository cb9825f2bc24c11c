/**
 * Durable consumers of the change feed: a name and the sequence number it last committed.
 * Names share consumer_offsets with the runtime's own readers, so those names are reserved.
 */
import { Schema } from "effect"

/** The supervisor's offset: what it has published (retention never deletes past it). */
export const supervisorConsumer = "supervisor"

/**
 * Names Herald's own readers use or may use: `supervisor`, and anything starting with
 * `herald`, in any case. A client can neither read nor move them.
 */
const isReserved = (name: string) => {
  const lower = name.toLowerCase()
  return lower === supervisorConsumer || lower.startsWith("herald")
}

/** A durable consumer's name, as `subscribeDurable`, `commitOffset` and `?consumer=` take it. */
export const ConsumerName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
    message: () => "a consumer name is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
  }),
  Schema.filter((name) => !isReserved(name) || `the consumer name '${name}' is reserved for Herald's own readers`),
  Schema.brand("ConsumerName")
).annotations({ identifier: "ConsumerName", description: "1-64 letters, digits, '_', '.' or '-'; `supervisor` and names starting with `herald` are reserved" })
export type ConsumerName = typeof ConsumerName.Type

/** A durable consumer as stored: where it resumes, and how far behind the newest change it is. */
export class DurableConsumer extends Schema.Class<DurableConsumer>("DurableConsumer")({
  name: Schema.String,
  seq: Schema.Number.annotations({ description: "the last committed change_log sequence number: a subscription resumes after it" }),
  lag: Schema.Number.annotations({ description: "changes after `seq` up to the newest one" }),
  updatedAt: Schema.Number.annotations({ description: "when it last committed (ms since the epoch)" })
}) {}
