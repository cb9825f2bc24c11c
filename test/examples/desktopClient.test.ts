/**
 * examples/desktop-client/client.mjs against a real daemon on 127.0.0.1: run as a person runs it
 * (a child process, `--once` or until Ctrl-C), and its settle step imported for the lease-lost case.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { readmeBlocks, shellCommands } from "../support/readme.js"
import { call, eventually, TestServer, testServer, token } from "../http/support.js"

const root = new URL("../..", import.meta.url).pathname
const clientPath = `${root}examples/desktop-client/client.mjs`
const readmeCommands = shellCommands(readmeBlocks(fs.readFileSync(`${root}examples/desktop-client/README.md`, "utf8"))
  .filter((b) => b.lang === "sh").map((b) => b.code).join("\n"))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment of a shell with none of the tests' own HERALD_* variables. */
const shellEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HERALD_"))) as Record<string, string>

/**
 * Starts the client; `whileRunning` gets its output so far and may signal it. Killed after 20 s
 * so a client that never exits fails the test instead of hanging it.
 */
const runClient = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  whileRunning: (child: { output: () => Run; signal: (s: NodeJS.Signals) => void }) => Effect.Effect<void, unknown, TestServer> = () => Effect.void
) =>
  Effect.gen(function* () {
    const { url } = yield* TestServer
    const child = spawn(process.execPath, [clientPath, ...args], {
      env: { ...shellEnv(), HERALD_URL: url, HERALD_TOKEN: token, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    const guard = setTimeout(() => child.kill("SIGKILL"), 20_000)
    yield* whileRunning({ output: () => ({ code: null, stdout, stderr }), signal: (s) => child.kill(s) }).pipe(
      Effect.onError(() => Effect.sync(() => child.kill("SIGKILL"))))
    const code = yield* Effect.promise(() => exited)
    clearTimeout(guard)
    return { code, stdout, stderr } satisfies Run
  })

const enqueue = (body: Record<string, unknown>) =>
  call("POST", "/v1/notifications", { body }).pipe(Effect.map((r) => r.body.notification.id as string))

/** A notification's delivery to `sink`, with its attempts. */
const deliveryOf = (notificationId: string, sink: string) =>
  Effect.gen(function* () {
    const got = yield* call("GET", `/v1/notifications/${notificationId}`)
    const delivery = (got.body.deliveries as ReadonlyArray<{ id: string; sink: string }>).find((d) => d.sink === sink)!
    const detail = yield* call("GET", `/v1/deliveries/${delivery.id}`)
    return detail.body as {
      delivery: { id: string; status: string; attempts: number; lastErrorCode: string | null; lastError: string | null; leaseOwner: string | null }
      attempts: ReadonlyArray<{ outcome: string; errorCode: string | null; retryable: boolean | null }>
    }
  })

/**
 * Routes everything to one desktop sink of its own per test: the tests share a daemon, and a
 * delivery another test left in retry_wait must not come due in this one's claims.
 */
const useSink = (sink: string) =>
  call("PUT", "/v1/settings", { body: { sinks: { [sink]: { type: "desktop" } }, routes: [{ sink, minPriority: "low" }] } }).pipe(
    Effect.tap((r) => expect(r.status, JSON.stringify(r.body)).toBe(200)))

/** Waits until `n` deliveries of `sink` are due, so a --once run has them all to claim. */
const pendingFor = (sink: string, n: number) =>
  eventually(call("GET", `/v1/deliveries?sink=${sink}&status=pending`), (r) => r.body.items.length === n)

layer(testServer(), { excludeTestServices: true })("examples/desktop-client", (it) => {
  it.effect("--once shows each due notification and acks it, nacks the one that fails to show with its reason, and claims again at once after a full batch", () =>
    Effect.gen(function* () {
      yield* useSink("desk-once")
      const green = yield* enqueue({ kind: "ci.passed", title: "CI passed on #42", priority: "low" })
      const broken = yield* enqueue({ kind: "display.broken", title: "This one cannot be shown", priority: "urgent" })
      const deploy = yield* enqueue({ kind: "deploy.finished", title: "Deploy finished", body: "v1.2 is live\non every host", priority: "high" })
      yield* pendingFor("desk-once", 3)

      // --limit 2 with three due: the first claim comes back full, so the client claims again at once.
      const run = yield* runClient(["--once", "--limit", "2"], { HERALD_SINK: "desk-once", HERALD_FAIL_KIND: "^display\\.", HERALD_OWNER: "desk-test" })

      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout.trimEnd().split("\n")).toEqual([
        "[low] CI passed on #42 (ci.passed)",
        "[high] Deploy finished — v1.2 is live on every host (deploy.finished)"
      ])
      expect(run.stderr).toContain(`"This one cannot be shown": simulated_failure`)
      expect(run.stderr).toContain("handled 3: 2 acked, 1 nacked, 0 skipped")

      for (const id of [green, deploy]) {
        const sent = yield* deliveryOf(id, "desk-once")
        expect(sent.delivery).toMatchObject({ status: "sent", attempts: 1 })
        expect(sent.attempts.map((a) => a.outcome)).toEqual(["sent"])
      }
      const nacked = yield* deliveryOf(broken, "desk-once")
      expect(nacked.delivery).toMatchObject({
        status: "retry_wait",
        attempts: 1,
        lastErrorCode: "simulated_failure",
        lastError: "simulated failure: kind 'display.broken' matches HERALD_FAIL_KIND /^display\\./"
      })
      expect(nacked.attempts).toMatchObject([{ outcome: "failed", errorCode: "simulated_failure", retryable: true }])
    }))

  it.effect("an ack whose lease was lost is logged and skipped, and the rest of the batch is still handled", () =>
    Effect.gen(function* () {
      yield* useSink("desk-lost")
      const { url } = yield* TestServer
      const lost = yield* enqueue({ kind: "ci.failed", title: "Settled elsewhere" })
      const kept = yield* enqueue({ kind: "ci.failed", title: "Still ours" })
      yield* pendingFor("desk-lost", 2)
      const client = (yield* Effect.promise(() => import(clientPath))) as {
        connect: (c: object) => { claim: (limit: number) => Promise<ReadonlyArray<{ delivery: { id: string; version: number }; notification: { title: string } }>> }
        handle: (herald: object, claimed: object, io: object) => Promise<string>
      }
      const herald = client.connect({ url, token, sink: "desk-lost", owner: "desk-lost" })
      const batch = yield* Effect.promise(() => herald.claim(10))
      expect(batch.map((c) => c.notification.title)).toEqual(["Settled elsewhere", "Still ours"])
      // Its lease is lost: settled already, by the same owner from another window, say.
      const first = batch[0]!.delivery
      expect((yield* call("POST", `/v1/deliveries/${first.id}/ack`, { body: { owner: "desk-lost", version: first.version } })).status).toBe(200)

      const out: Array<string> = []
      const io = { stdout: { write: (s: string) => out.push(`out ${s}`) }, stderr: { write: (s: string) => out.push(`err ${s}`) } }
      const outcomes: Array<string> = []
      for (const claimed of batch) outcomes.push(yield* Effect.promise(() => client.handle(herald, claimed, io)))

      expect(outcomes).toEqual(["skipped", "acked"])
      expect(out.find((l) => l.startsWith("err lease lost"))).toMatch(/^err lease lost, skipped \S+ "Settled elsewhere" \(409: .*not leased/)
      expect((yield* deliveryOf(lost, "desk-lost")).attempts.map((a) => a.outcome)).toEqual(["sent"])
      expect((yield* deliveryOf(kept, "desk-lost")).delivery).toMatchObject({ status: "sent", attempts: 1 })
    }))

  it.effect("without --once it shows what is enqueued after it started, and Ctrl-C stops it cleanly", () =>
    Effect.gen(function* () {
      yield* useSink("desk-loop")
      let id = ""
      const run = yield* runClient([], { HERALD_SINK: "desk-loop" }, ({ output, signal }) =>
        Effect.gen(function* () {
          yield* eventually(Effect.sync(output), (o) => o.stderr.includes("claiming from sink 'desk-loop'"))
          id = yield* enqueue({ kind: "session.done", title: "Session done", priority: "normal" })
          yield* eventually(Effect.sync(output), (o) => o.stderr.includes("acked"))
          signal("SIGINT")
        }))
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toBe("[normal] Session done (session.done)\n")
      expect(run.stderr).toContain("stopping")
      expect(run.stderr).toContain("handled 1: 1 acked, 0 nacked, 0 skipped")
      expect((yield* deliveryOf(id, "desk-loop")).delivery).toMatchObject({ status: "sent", attempts: 1 })
    }))

  it.effect("a wrong token stops it with a line that says to check HERALD_TOKEN", () =>
    Effect.gen(function* () {
      const run = yield* runClient([], { HERALD_TOKEN: "not-the-token-0123456789" })
      expect(run.code).toBe(1)
      expect(run.stderr).toContain("Herald refused the token (401): check HERALD_TOKEN")
    }))

  it.effect("a sink that is not a desktop sink stops it with the daemon's reason and what to set", () =>
    Effect.gen(function* () {
      const run = yield* runClient(["--once"], { HERALD_SINK: "nosuch" })
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/Herald refused the claim \(400\): .*no sink named 'nosuch'.*set HERALD_SINK/)
    }))

  it.effect("without a daemon, --once fails with a line saying where it looked and what to check", () =>
    Effect.gen(function* () {
      // A port that was just free: bound, then closed, so connecting to it is refused.
      const port = yield* Effect.promise(() => new Promise<number>((resolve) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as AddressInfo
          server.close(() => resolve(port))
        })
      }))
      const run = yield* runClient(["--once"], { HERALD_URL: `http://127.0.0.1:${port}` })
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`cannot reach Herald at http://127.0.0.1:${port} (ECONNREFUSED)`)
      expect(run.stderr).toContain("check HERALD_URL")
    }))

  it.effect("the commands of its README work as written, against the daemon and its token", () =>
    Effect.gen(function* () {
      const { url } = yield* TestServer
      // The daemon and the token are this test's own; every other command runs as written, the
      // client's with --once so that it ends (HERALD_URL points it at this daemon's port).
      const run = readmeCommands.filter((c) => c !== "npm start" && !c.startsWith("export HERALD_TOKEN=$(npm start --silent -- token)"))
      expect(run.map((c) => c.split(" ")[0])).toEqual(["curl", "node", "curl", "HERALD_FAIL_KIND='^deploy\\.'"])
      const results: Array<{ command: string; code: number | null; stdout: string; stderr: string }> = []
      for (const command of run) {
        const line = command.startsWith("curl ") ? command.replaceAll("http://127.0.0.1:7878", url) : command.includes("--once") ? command : `${command} --once`
        results.push(yield* Effect.promise(() => new Promise<(typeof results)[number]>((resolve) =>
          execFile("bash", ["-c", line], { cwd: root, env: { ...shellEnv(), HERALD_TOKEN: token, HERALD_URL: url }, timeout: 20_000 }, (error, stdout, stderr) =>
            resolve({ command, code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })))))
        // A person reads the answer before typing on; routing the notification takes a moment too.
        if (command.includes("/v1/notifications")) yield* pendingFor("desk", 1)
      }
      for (const r of results) expect(r.code, `${r.command}: ${r.stderr}`).toBe(0)
      expect(JSON.parse(results[0]!.stdout)).toMatchObject({ sinks: { desk: { type: "desktop" } } })
      expect(results[1]!.stderr).toContain("claiming from sink 'desk'")
      const enqueued = JSON.parse(results[2]!.stdout) as { notification: { id: string } }
      expect(enqueued).toMatchObject({ notification: { kind: "deploy.finished", title: "Deploy finished" } })
      expect(results[3]!.stderr).toContain(`"Deploy finished": simulated_failure: simulated failure: kind 'deploy.finished' matches HERALD_FAIL_KIND /^deploy\\./`)
      expect((yield* deliveryOf(enqueued.notification.id, "desk")).delivery).toMatchObject({ status: "retry_wait", lastErrorCode: "simulated_failure" })
    }))
})
