/**
 * The layer that builds the whole runtime from one config: SQLite, migrations, stores, router,
 * dispatcher, supervisor, the commands and the Herald service. Composition only: the work is
 * theirs. Layer order is shutdown order: the runtime drains before the writer flushes and closes.
 */
import type { SqlError } from "../store/errors.js"
import { Effect, Layer } from "effect"
import type { DatabaseTooNew, InvalidInput, MigrationChanged, MigrationMissing, StorageUnavailable, StoredSettingsInvalid } from "../domain/errors.js"
import { Broadcaster } from "../runtime/Broadcaster.js"
import { Circuits } from "../runtime/Circuits.js"
import { Dispatcher } from "../runtime/Dispatcher.js"
import { HistoryRetention } from "../runtime/HistoryRetention.js"
import { Retention } from "../runtime/Retention.js"
import { type RetrySchedule, RetrySchedules } from "../runtime/RetrySchedules.js"
import { Router } from "../runtime/Router.js"
import { RuntimeConfig, type RuntimeOptions } from "../runtime/RuntimeConfig.js"
import { Supervisor } from "../runtime/Supervisor.js"
import { DurableConsumers } from "../services/DurableConsumers.js"
import { Enqueuer } from "../services/Enqueuer.js"
import { Herald as HeraldService, makeHerald } from "../services/Herald.js"
import { OperatorCommands } from "../services/OperatorCommands.js"
import { Sessions } from "../services/Sessions.js"
import { AgentMessageWatch } from "../services/sessions/AgentMessageWatch.js"
import { GithubIntake } from "../services/sessions/GithubIntake.js"
import { Reaper } from "../services/sessions/Reaper.js"
import { PullSinks } from "../services/PullSinks.js"
import { SinkStatuses } from "../services/SinkStatuses.js"
import { SinkTester } from "../services/SinkTester.js"
import { AgentEndpoints } from "../sinks/AgentEndpoints.js"
import { SessionStore } from "../store/SessionStore.js"
import { MemorySink } from "../sinks/memory.js"
import type { SyncMode } from "../store/sqlite/Sqlite.js"
import { sinksLayer } from "./Sinks.js"
import { storageLayer } from "./Storage.js"

export type { ClaimedDelivery, DurableOptions, RequeueReport, Stats } from "../services/Herald.js"

export interface HeraldConfig {
  /**
   * Where Herald keeps its state: a SQLite file (created if missing), or a PostgreSQL database
   * as a `postgres://user:password@host:port/database` URL, which several Herald processes may
   * share.
   */
  readonly database: string
  /** SQLite: `NORMAL` (default): a power loss may lose the last commits, a process crash never. `FULL`: neither. */
  readonly sync?: SyncMode | undefined
  /** Tuning of this process; `background: false` runs no dispatcher or supervisor. */
  readonly runtime?: Partial<RuntimeOptions> | undefined
  /**
   * A retry Schedule per sink name, in place of the one its settings' `retry` fields compile
   * to. It is stepped once per failed attempt with that attempt's `SinkFailure`; its delay is
   * the wait before the next attempt (a longer `Retry-After` still wins), and once it ends the
   * delivery goes `dead`. The settings' `maxAttempts` and `maxRescues` still apply. Its
   * randomness (`Schedule.jittered`) is seeded per delivery, so one delivery's plan is stable.
   */
  readonly retrySchedules?: Readonly<Record<string, RetrySchedule>> | undefined
}

/** The runtime as a service (src/services/Herald.ts), with the layer that builds it. */
export class Herald extends HeraldService {
  /** Builds the whole runtime on one database; closing the layer shuts it down in order. */
  static readonly layer = (config: HeraldConfig) => heraldLayer(config)
}

export type HeraldError = SqlError | StorageUnavailable | DatabaseTooNew | MigrationChanged | MigrationMissing | InvalidInput | StoredSettingsInvalid

/** The `agent` sink's endpoints: each session's `agentEndpoint`, read when a message goes out. */
const sessionAgentEndpoints = Layer.effect(AgentEndpoints, Effect.map(SessionStore, (store) => ({
  endpointOf: (sessionId: string) => store.session(sessionId).pipe(Effect.map((s) => s?.agentEndpoint ?? null), Effect.orDie)
})))

const heraldLayer = (config: HeraldConfig) => {
  // No session store provides agent endpoints yet: an `agent` delivery fails with agent_endpoint_missing.
  const process = Layer.mergeAll(RuntimeConfig.layer(config.runtime), RetrySchedules.layer(config.retrySchedules), MemorySink.Default)
  const storage = storageLayer(config).pipe(Layer.provideMerge(process))
  const stores = sinksLayer.pipe(Layer.provide(sessionAgentEndpoints), Layer.provideMerge(storage))
  const routing = Layer.mergeAll(Router.Default, Broadcaster.Default, Circuits.Default).pipe(Layer.provideMerge(stores))
  const supervised = Supervisor.Default.pipe(Layer.provideMerge(Dispatcher.Default.pipe(Layer.provideMerge(routing))))
  const commands = Layer.mergeAll(Enqueuer.Default, OperatorCommands.Default, PullSinks.Default, SinkTester.Default, SinkStatuses.Default, DurableConsumers.Default).pipe(Layer.provideMerge(supervised))
  const sessions = Layer.mergeAll(AgentMessageWatch.Default, GithubIntake.Default).pipe(Layer.provideMerge(Sessions.Default.pipe(Layer.provideMerge(commands))))
  const runtime = Layer.mergeAll(Retention.Default, HistoryRetention.Default, Reaper.Default).pipe(Layer.provideMerge(sessions))
  return Layer.effect(HeraldService, makeHerald).pipe(Layer.provideMerge(runtime))
}
