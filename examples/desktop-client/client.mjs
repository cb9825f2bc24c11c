#!/usr/bin/env node
/**
 * A desktop notifier for Herald's pull sinks: claims due deliveries of one desktop sink, shows
 * each notification (a line on stdout), acks it, and nacks it with a reason when showing fails.
 * Plain ESM for Node 20+, no dependencies: fetch and node: built-ins only, no build step.
 * Notifications go to stdout, everything else (acks, nacks, errors) to stderr.
 */
import * as os from "node:os"
import { pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

const usage = `usage: node client.mjs [--once] [--limit N] [--lease-seconds N]

  --once             handle what is due now, then exit (exit 1 on an error)
  --limit N          deliveries per claim (1-500, default 10)
  --lease-seconds N  how long a claim is ours (1-3600; default: the daemon's leaseMs)

environment:
  HERALD_URL         the daemon (default http://127.0.0.1:7878)
  HERALD_TOKEN       its API token (required; print it with: npm start --silent -- token)
  HERALD_SINK        the desktop sink to claim from (default desk)
  HERALD_OWNER       the name leases are taken in (default <hostname>-<pid>)
  HERALD_FAIL_KIND   a regular expression: notifications whose kind matches it fail to show
                     (a simulated failure) and are nacked as retryable`

/** Idle polls wait 1 s, then twice as long each time nothing was due, up to 15 s. */
const idleMinMs = 1_000
const idleMaxMs = 15_000
/** Every request has its own deadline, so a hung daemon is an error, not a frozen client. */
const requestTimeoutMs = 10_000

/** An answer that retrying will not change (a bad token, a sink that is not a desktop sink). */
export class Fatal extends Error {}
/** An answer or a failure that may pass (daemon down or restarting, 503, 5xx). */
export class Transient extends Error {
  constructor(message, retryAfterMs) {
    super(message)
    this.retryAfterMs = retryAfterMs
  }
}

const describeProblem = async (response) => {
  const text = await response.text().catch(() => "")
  try {
    const problem = JSON.parse(text)
    return problem.detail ?? problem.title ?? text
  } catch {
    return text || response.statusText
  }
}

/** Seconds or an HTTP date, as RFC 9110 allows; undefined when absent or unreadable. */
const retryAfterMsOf = (response) => {
  const value = response.headers.get("retry-after")
  if (value === null) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1_000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/**
 * A settle is worth a few quick tries (a daemon restarting, a busy moment): the lease is still
 * ours, and letting it expire would cost the delivery an attempt.
 */
const settleTries = 3
const retryTransient = async (request, tries) => {
  for (let i = 1; ; i++) {
    try {
      return await request()
    } catch (error) {
      if (!(error instanceof Transient) || i >= tries) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.min(error.retryAfterMs ?? 1_000, 5_000)))
    }
  }
}

/** The pull-sink API of one daemon, as one consumer (`owner`) of one sink. */
export const connect = ({ url, token, sink, owner }) => {
  const post = async (path, body) => {
    let response
    try {
      response = await fetch(new URL(path, url), {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(requestTimeoutMs)
      })
    } catch (error) {
      const cause = error.cause?.code ?? error.cause?.message ?? error.name
      throw new Transient(`cannot reach Herald at ${url} (${cause}): is the daemon running (npm start)? check HERALD_URL`)
    }
    if (response.status === 401) {
      throw new Fatal(`Herald refused the token (401): check HERALD_TOKEN; print the daemon's with: npm start --silent -- token`)
    }
    if (response.status === 503 || response.status === 429 || response.status >= 500) {
      const retryAfterMs = retryAfterMsOf(response)
      throw new Transient(`Herald answered ${response.status}: ${await describeProblem(response)}`, retryAfterMs)
    }
    return response
  }

  /** Leases up to `limit` due deliveries: `[{ delivery, notification }]`. */
  const claim = async (limit, leaseSeconds) => {
    const response = await post(`/v1/sinks/${encodeURIComponent(sink)}/claim`, {
      owner,
      limit,
      ...(leaseSeconds === undefined ? {} : { leaseSeconds })
    })
    if (response.ok) return response.json()
    const problem = await describeProblem(response)
    if (response.status === 400) {
      throw new Fatal(`Herald refused the claim (400): ${problem}. Add a sink {"type":"desktop"} named '${sink}' and a route to it in the settings (PUT /v1/settings), or set HERALD_SINK to yours`)
    }
    if (response.status === 404) throw new Fatal(`${url} has no pull-sink API (404): check that HERALD_URL points at a Herald daemon`)
    throw new Fatal(`claim answered ${response.status}: ${problem}`)
  }

  /**
   * Settles one claimed delivery. "settled" when Herald took it; "stale" when the lease was lost
   * (409: it expired and was rescued, or was settled already) or the delivery is gone (404): the
   * delivery is someone else's now, so this is logged and skipped, never retried.
   */
  const settle = async (verb, { delivery }, body) => {
    const request = () => post(`/v1/deliveries/${encodeURIComponent(delivery.id)}/${verb}`, { owner, version: delivery.version, ...body })
    const response = await retryTransient(request, settleTries)
    if (response.ok) {
      await response.body?.cancel()
      return { outcome: "settled" }
    }
    const problem = await describeProblem(response)
    if (response.status === 409 || response.status === 404) return { outcome: "stale", reason: `${response.status}: ${problem}` }
    throw new Fatal(`${verb} of ${delivery.id} answered ${response.status}: ${problem}`)
  }

  return {
    claim,
    ack: (claimed) => settle("ack", claimed, {}),
    nack: (claimed, failure) => settle("nack", claimed, failure)
  }
}

/** One line per notification: what a person reads at a glance. */
export const formatNotification = ({ priority, title, body, kind }) =>
  `[${priority}] ${title}${body === "" ? "" : ` — ${body.replace(/\s+/g, " ")}`} (${kind})`

/**
 * Shows one notification. Here it is a line on stdout; a real notifier would call the platform's
 * (notify-send, osascript, a toast) and throw when that fails. The simulated failure stands in
 * for that: a kind matching `failKind` cannot be shown.
 */
const show = (notification, { stdout, failKind }) => {
  if (failKind !== undefined && failKind.test(notification.kind)) {
    const error = new Error(`simulated failure: kind '${notification.kind}' matches HERALD_FAIL_KIND ${failKind}`)
    error.code = "simulated_failure"
    throw error
  }
  stdout.write(`${formatNotification(notification)}\n`)
}

/** Shows one claimed delivery, then acks it, or nacks it (retryable) with why it could not be shown. */
export const handle = async (herald, claimed, { stdout, stderr, failKind }) => {
  const { delivery, notification } = claimed
  let failure
  try {
    show(notification, { stdout, failKind })
  } catch (error) {
    // Within the nack's limits (a code of 1-200 characters, a message of at most 10,000), or it is a 400.
    failure = { code: String(error.code || "display_failed").slice(0, 200), message: String(error.message).slice(0, 10_000), retryable: true }
  }
  const settled = failure === undefined ? await herald.ack(claimed) : await herald.nack(claimed, failure)
  const what = `${delivery.id} "${notification.title}"`
  if (settled.outcome === "stale") {
    stderr.write(`lease lost, skipped ${what} (${settled.reason})\n`)
    return "skipped"
  }
  if (failure === undefined) {
    stderr.write(`acked ${what}\n`)
    return "acked"
  }
  stderr.write(`nacked ${what}: ${failure.code}: ${failure.message}\n`)
  return "nacked"
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })

/**
 * The poll loop: claim, handle the batch, claim again at once when the batch was full, else wait
 * (longer each idle round). `stop` ends it between batches: a batch claimed is always finished,
 * since a lease left to expire costs the delivery an attempt. Resolves to the exit code.
 */
export const run = async (config, { stdout, stderr, stop }) => {
  const herald = connect(config)
  const counts = { acked: 0, nacked: 0, skipped: 0 }
  const summary = () => `handled ${counts.acked + counts.nacked + counts.skipped}: ${counts.acked} acked, ${counts.nacked} nacked, ${counts.skipped} skipped`
  let idleMs = idleMinMs
  while (!stop.aborted) {
    let batch
    try {
      batch = await herald.claim(config.limit, config.leaseSeconds)
    } catch (error) {
      if (error instanceof Fatal || config.once) {
        stderr.write(`herald-desktop: ${error.message}\n`)
        return 1
      }
      const waitMs = error.retryAfterMs ?? idleMs
      stderr.write(`herald-desktop: ${error.message}; retrying in ${Math.ceil(waitMs / 1_000)} s\n`)
      idleMs = Math.min(idleMaxMs, idleMs * 2)
      await sleep(waitMs, stop)
      continue
    }
    try {
      for (const claimed of batch) counts[await handle(herald, claimed, { stdout, stderr, failKind: config.failKind })]++
    } catch (error) {
      // A settle that failed for good (a bad token mid-run, the daemon gone): its lease expires and
      // Herald retries the delivery; the rest of the batch goes the same way.
      stderr.write(`herald-desktop: ${error.message}\n`)
      if (error instanceof Fatal || config.once) return 1
    }
    if (batch.length > 0) idleMs = idleMinMs
    if (batch.length >= config.limit) continue // a full batch: more may be due, claim again at once
    if (config.once) break
    await sleep(idleMs, stop)
    if (batch.length === 0) idleMs = Math.min(idleMaxMs, idleMs * 2)
  }
  stderr.write(`herald-desktop: ${summary()}\n`)
  return 0
}

/** Config from the environment and the arguments; a bad one is a usage error naming it. */
export const configFrom = (argv, env) => {
  const { values } = parseArgs({
    args: argv,
    options: { once: { type: "boolean" }, limit: { type: "string" }, "lease-seconds": { type: "string" }, help: { type: "boolean" } },
    strict: true
  })
  if (values.help) return { help: true }
  const int = (name, value, min, max) => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number, ${min}-${max} (got "${value}")`)
    return n
  }
  const token = env.HERALD_TOKEN ?? ""
  if (token === "") throw new Error("HERALD_TOKEN is not set: print the daemon's with: npm start --silent -- token")
  const url = env.HERALD_URL || "http://127.0.0.1:7878"
  if (!URL.canParse(url)) throw new Error(`HERALD_URL must be a URL (got "${url}")`)
  let failKind
  if (env.HERALD_FAIL_KIND) {
    try {
      failKind = new RegExp(env.HERALD_FAIL_KIND)
    } catch (error) {
      throw new Error(`HERALD_FAIL_KIND must be a regular expression: ${error.message}`)
    }
  }
  return {
    url,
    token,
    sink: env.HERALD_SINK || "desk",
    // Stable for the life of the process, and tells an operator where a lease is held.
    owner: env.HERALD_OWNER || `${os.hostname()}-${process.pid}`,
    once: values.once ?? false,
    limit: values.limit === undefined ? 10 : int("limit", values.limit, 1, 500),
    leaseSeconds: values["lease-seconds"] === undefined ? undefined : int("lease-seconds", values["lease-seconds"], 1, 3_600),
    failKind
  }
}

const main = async () => {
  let config
  try {
    config = configFrom(process.argv.slice(2), process.env)
  } catch (error) {
    process.stderr.write(`herald-desktop: ${error.message}\n${usage}\n`)
    return 2
  }
  if (config.help) {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  const stop = new AbortController()
  const onSignal = () => {
    if (stop.signal.aborted) process.exit(130) // a second Ctrl-C: quit now, leases expire
    process.stderr.write("herald-desktop: stopping: finishing the claimed deliveries (Ctrl-C again to quit now)\n")
    stop.abort()
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  process.stderr.write(`herald-desktop: claiming from sink '${config.sink}' at ${config.url} as ${config.owner}\n`)
  return run(config, { stdout: process.stdout, stderr: process.stderr, stop: stop.signal })
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main()
}
