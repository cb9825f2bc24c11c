/** How long one sink call may take, and the failure it ends with when it takes longer. */
import type { SinkConfig } from "../../domain/Settings.js"
import { SinkFailure } from "../../domain/Sink.js"

/** A sink call's own timeout: its configured one, never more than half the lease. */
export const callTimeoutMs = (config: SinkConfig, leaseMs: number) =>
  Math.min(config.type === "webhook" || config.type === "agent" ? config.timeoutMs : leaseMs / 2, leaseMs / 2)

export const timeoutFailure = new SinkFailure({ retryable: true, code: "timeout", message: "the sink did not answer in time" })
