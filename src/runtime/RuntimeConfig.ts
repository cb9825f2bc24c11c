/** Tuning of one runtime process: who it is (lease owner) and how hard it works. */
import { Context, Layer } from "effect"
import { hostname } from "node:os"
import { randomBytes } from "node:crypto"

export interface RuntimeOptions {
  /** The lease owner name of this process; unique per start so a restarted process never matches old leases. */
  readonly owner: string
  /** Run the dispatcher, supervisor and router fibers (off: a library that only enqueues and reads). */
  readonly background: boolean
  /** Deliveries claimed per claim transaction. */
  readonly claimBatch: number
  /** Deliveries being sent at once, over all sinks. */
  readonly maxInFlight: number
  /**
   * Notifications accepted but not yet written (enqueue callers waiting for their group commit,
   * enqueueMany and enqueueBatch calls waiting for the writer) beyond which `enqueue` fails
   * with Overloaded instead of queueing without bound. One batch larger than this is accepted
   * when nothing else waits.
   */
  readonly maxQueuedEnqueues: number
  /** How often change_log is polled for writes made by other processes. */
  readonly feedPollMs: number
  /** How long change_log keeps a change: a subscriber resuming from an older one gets a Resync. */
  readonly changeRetentionMs: number
  /**
   * How long a notification whose deliveries are all over (sent, skipped, cancelled) is kept after
   * the last one finished, with its deliveries and attempts; 0 keeps them for ever. Dead letters
   * are kept until requeued. Its dedupe key is remembered as long as it is kept, so over HTTP keep
   * it at least as long as an Idempotency-Key binds (24 h), as the daemon's setting requires.
   */
  readonly historyRetentionMs: number
  /**
   * The directory `log` sinks may write files in (the daemon's HERALD_LOG_DIR). Unset: a log
   * sink writes to stdout only, and settings naming a `path` are refused.
   */
  readonly logDir: string | undefined
  /**
   * How often the session reaper probes the runtimes of live sessions (src/services/sessions/Reaper.ts);
   * 0 turns its loop off (an embedder that reaps itself, through `reapOnce`).
   */
  readonly reaperIntervalMs: number
}

export const makeOwner = () => `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`

export const defaultRuntimeOptions = (): RuntimeOptions => ({
  owner: makeOwner(),
  background: true,
  claimBatch: 500,
  maxInFlight: 2_000,
  maxQueuedEnqueues: 10_000,
  feedPollMs: 250,
  changeRetentionMs: 7 * 24 * 60 * 60 * 1_000,
  historyRetentionMs: 30 * 24 * 60 * 60 * 1_000,
  logDir: undefined,
  reaperIntervalMs: 30_000
})

export class RuntimeConfig extends Context.Tag("herald/RuntimeConfig")<RuntimeConfig, RuntimeOptions>() {
  static readonly layer = (options: Partial<RuntimeOptions> = {}) =>
    Layer.sync(RuntimeConfig, () => ({ ...defaultRuntimeOptions(), ...options }))
}
