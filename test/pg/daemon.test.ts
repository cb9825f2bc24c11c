/**
 * The daemon on PostgreSQL: HERALD_DATABASE_URL selects it. It migrates a fresh database,
 * answers the API, prints where its state is without the password, and `token` reads the
 * token it stored there. Real processes (dist/main.js) against the throwaway server.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as readline from "node:readline"
import { freshDatabase } from "../support/postgres.js"

const main = new URL("../../dist/main.js", import.meta.url).pathname

/** Starts the daemon with `env`; resolves with its URL once it is listening; stops it (SIGINT) with the scope. */
const start = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.async<{ child: ChildProcess; url: string; stderr: () => string }>((resume) => {
      const child = spawn(process.execPath, [main], {
        env: { ...process.env, HERALD_PORT: "0", HERALD_TOKEN: "pg-daemon-token-0123456789", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stderr = ""
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
      readline.createInterface({ input: child.stdout! }).on("line", (line) => {
        const m = /"url":"(http:\/\/[^"]+)"/.exec(line)
        if (m) resume(Effect.succeed({ child, url: m[1]!, stderr: () => stderr }))
      })
      child.on("exit", () => resume(Effect.dieMessage(`the daemon exited before listening: ${stderr}`)))
      setTimeout(() => child.kill("SIGKILL"), 60_000).unref()
    }),
    ({ child }) => Effect.async<void>((resume) => {
      if (child.exitCode !== null) return resume(Effect.void)
      child.on("exit", () => resume(Effect.void))
      child.kill("SIGINT")
    })
  )

describe("the daemon on PostgreSQL", () => {
  it.scopedLive("HERALD_DATABASE_URL runs it on PostgreSQL: it migrates, serves the API, and never prints the password", () =>
    Effect.gen(function* () {
      const { url: database } = yield* freshDatabase
      const password = new URL(database).password
      const daemon = yield* start({ HERALD_DATABASE_URL: database, HERALD_DB: "/nonexistent-dir/not-used.db" })
      const auth = { authorization: "Bearer pg-daemon-token-0123456789", "content-type": "application/json" }
      const created = yield* Effect.promise(() => fetch(`${daemon.url}/v1/notifications`, { method: "POST", headers: auth, body: JSON.stringify({ kind: "pg", title: "hello" }) }))
      expect(created.status).toBe(201)
      const ready = yield* Effect.promise(() => fetch(`${daemon.url}/readyz`).then((r) => r.json() as Promise<{ status: string; migration: number }>))
      expect(ready).toMatchObject({ status: "ready", migration: 9 })
      expect(daemon.stderr()).toContain("Herald is listening")
      if (password !== "") expect(daemon.stderr()).not.toContain(password)
    }), 90_000)
})
