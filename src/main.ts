/**
 * The daemon: `node dist/main.js` runs the runtime and its HTTP API until SIGINT/SIGTERM, then
 * drains HTTP and stops the runtime in order. `node dist/main.js token` prints the stored API token;
 * `--help` prints the usage, and any other argument is refused with it.
 */
import { HttpServer } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Config, ConfigError, Effect, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ApiToken, readStoredToken } from "./http/ApiToken.js"
import { HttpEnvConfig } from "./http/HttpOptions.js"
import { DaemonConfig } from "./layers/Config.js"
import { Herald } from "./layers/Herald.js"
import { daemonLayer, HttpOptions } from "./layers/Http.js"
import { describeConfigError } from "./lib/envVar.js"
import { isPostgresUrl, maskedDatabase } from "./store/StorageConfig.js"

/** The database the config names: PostgreSQL when HERALD_DATABASE_URL is set, else the SQLite file at HERALD_DB. */
const databaseOf = (config: { readonly database: string; readonly databaseUrl: Option.Option<string> }) =>
  Option.getOrElse(config.databaseUrl, () => config.database)

/** The database as the daemon prints it: the SQLite file's full path, or the URL without its password. */
const shown = (database: string) => (isPostgresUrl(database) ? maskedDatabase(database) : path.resolve(database))

const origin = (address: HttpServer.Address) => {
  if (address._tag === "UnixAddress") return `http+unix://${address.path}`
  const host = address.hostname === "0.0.0.0" || address.hostname === "::" ? "127.0.0.1" : address.hostname
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`
}

const tokenAgain = "npm start -- token   (or: node dist/main.js token)"

/**
 * What a person needs to start using it; stderr, so stdout stays one JSON object per line.
 * The dashboard link carries the token only for a person at a terminal: stderr that goes to
 * a log (systemd, a container) would keep it, and a token from HERALD_TOKEN is never echoed.
 */
const banner = (url: string, token: ApiToken["Type"], database: string) => {
  const dashboard = token.source !== "env" && process.stderr.isTTY === true
    ? `${url}/#token=${encodeURIComponent(Redacted.value(token.token))}`
    : `${url}/   (add #token=<token> to the address)`
  const source = token.source === "env"
    ? "from HERALD_TOKEN"
    : token.source === "generated"
    ? `generated now and stored in ${database}; print it again with: ${tokenAgain}`
    : `stored in ${database}; print it again with: ${tokenAgain}`
  return [
    "",
    `Herald is listening on ${url}`,
    `  API        ${url}/v1   (send Authorization: Bearer <token>)`,
    `  Docs       ${url}/docs   (OpenAPI: ${url}/openapi.json)`,
    `  Dashboard  ${dashboard}`,
    `  Token      ${source}`,
    `  Metrics    ${url}/metrics   Health ${url}/healthz`,
    "Ctrl-C stops it.",
    ""
  ].join("\n")
}

const serve = Effect.gen(function* () {
  // Every variable is checked before anything starts: a bad HERALD_PORT must not leave a new database behind.
  const { config, http } = yield* Config.all({ config: DaemonConfig, http: HttpEnvConfig })
  const database = shown(databaseOf(config))
  yield* Effect.logInfo("starting").pipe(Effect.annotateLogs({ database, sync: config.sync }))
  yield* Layer.launch(
    Layer.scopedDiscard(
      Effect.gen(function* () {
        const server = yield* HttpServer.HttpServer
        const token = yield* ApiToken
        const stats = yield* (yield* Herald).stats()
        const url = origin(server.address)
        yield* Effect.logInfo("herald is running").pipe(Effect.annotateLogs({ database, url, deliveries: stats.byStatus }))
        yield* Effect.sync(() => process.stderr.write(banner(url, token, database)))
        yield* Effect.addFinalizer(() => Effect.logInfo("shutting down: draining HTTP, then the runtime, then closing the database"))
      })
    ).pipe(Layer.provide(daemonLayer({
      database: databaseOf(config),
      sync: config.sync,
      runtime: {
        changeRetentionMs: config.changeRetentionHours * 3_600_000,
        historyRetentionMs: config.historyRetentionDays * 86_400_000,
        maxQueuedEnqueues: config.maxQueuedEnqueues,
        logDir: Option.getOrUndefined(config.logDir)
      }
    }, HttpOptions.layer(http))))
  )
})

/** `herald token`: the stored token, or why there is none. */
const printToken = Effect.gen(function* () {
  const { config, http } = yield* Config.all({ config: DaemonConfig, http: HttpEnvConfig })
  // Nothing on stdout: `$(npm start --silent -- token)` would send the explanation as the token.
  if (Option.isSome(http.token)) {
    return yield* Effect.fail(new Error("the token is HERALD_TOKEN's value, which Herald does not store: use that value (or unset HERALD_TOKEN to use the stored token)"))
  }
  const database = databaseOf(config)
  // A mistyped HERALD_DB must not create (and migrate) an empty database just to find no token in it.
  if (!isPostgresUrl(database) && !fs.existsSync(path.resolve(database))) {
    return yield* Effect.fail(new Error(`no database at ${shown(database)}: start the daemon once (npm start), or set HERALD_DB to the one it uses`))
  }
  const stored = yield* readStoredToken.pipe(
    Effect.provide(Herald.layer({ database, sync: config.sync, runtime: { background: false } }))
  )
  yield* Effect.sync(() =>
    process.stdout.write(Option.match(stored, {
      onNone: () => `no token is stored in ${shown(database)} yet: start the daemon once (npm start)\n`,
      onSome: (token) => `${token}\n`
    })))
})

/** A startup failure as one line: its message, or for a listen error the system's reason and what to change. */
const describe = (e: unknown): string => {
  const { _tag, message, cause } = e as { _tag?: string; message?: string; cause?: { message?: string } }
  if (_tag === "ServeError") {
    return `cannot listen: ${cause?.message || "the server did not start"}; choose another HERALD_PORT or HERALD_HOST`
  }
  return message || String(e)
}

/** The usage, in one place: shown by `--help` and with a refused argument. */
const usage = "usage: node dist/main.js [token | --help]   (or: npm start -- [token | --help])"
const help = [
  usage,
  "",
  "  (no argument)  run the daemon; the HERALD_* variables configure it (see README.md)",
  "  token          print the API token stored in the database (HERALD_DATABASE_URL, else HERALD_DB)",
  "  --help, -h     print this",
  ""
].join("\n")

/** What the arguments ask for; a person who asks for help is not in error. */
const commandOf = (args: ReadonlyArray<string>): Effect.Effect<unknown, unknown> => {
  if (args.some((a) => a === "--help" || a === "-h" || a === "help")) return Effect.sync(() => process.stdout.write(help))
  if (args.length === 0) return serve
  if (args[0] === "token" && args.length === 1) return printToken
  const unknown = args[0] === "token" ? args[1]! : args[0]!
  return Effect.sync(() => {
    process.stderr.write(`herald: unknown argument '${unknown}'\n${usage}\n`)
    process.exitCode = 2
  })
}

/** A startup error is one clear line on stderr and a non-zero exit. */
const main = commandOf(process.argv.slice(2)).pipe(
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    const failure = Cause.failureOption(cause)
    const message = Option.isNone(failure)
      ? Cause.pretty(cause)
      : ConfigError.isConfigError(failure.value)
      ? describeConfigError(failure.value)
      : describe(failure.value)
    return Effect.sync(() => {
      process.stderr.write(`herald: ${message}\n`)
      process.exitCode = 1
    })
  }),
  Effect.provide(Logger.json),
  Logger.withMinimumLogLevel(LogLevel.Info)
)

NodeRuntime.runMain(main, { disableErrorReporting: true, disablePrettyLogger: true })
