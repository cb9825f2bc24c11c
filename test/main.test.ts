import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import Database from "better-sqlite3"

const main = new URL("../dist/main.js", import.meta.url).pathname

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the daemon; `stopWhen` sends SIGINT once stdout matches it. */
const daemon = (env: Record<string, string>, stopWhen?: RegExp, args: ReadonlyArray<string> = []) =>
  new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, HERALD_PORT: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let stopped = false
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      if (!stopped && stopWhen?.test(stdout)) {
        stopped = true // once: a second SIGINT, after Herald's handler is gone, would kill the process
        child.kill("SIGINT")
      }
    })
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const guard = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.on("exit", (code) => {
      clearTimeout(guard)
      resolve({ code, stdout, stderr })
    })
  })

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "herald-main-"))

describe("the daemon", () => {
  it("starts on the given file, logs JSON lines, and stops cleanly on SIGINT", async () => {
    const dir = tmp()
    const db = path.join(dir, "h.db")
    const run = await daemon({ HERALD_DB: db }, /running/)
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { message: string })
    expect(lines.some((l) => /shutting down/.test(l.message))).toBe(true)
    expect(fs.existsSync(db)).toBe(true)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("a directory that does not exist is one clear line on stderr and a non-zero exit", async () => {
    const run = await daemon({ HERALD_DB: "/nonexistent-herald-dir/x.db" })
    expect(run.code).not.toBe(0)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toMatch(/^herald: .*does not exist/)
  })

  it("a bad HERALD_SYNC or retention names the variable and what it must be", async () => {
    const run = await daemon({ HERALD_DB: path.join(tmp(), "h.db"), HERALD_SYNC: "SOMETIMES" })
    expect(run.code).not.toBe(0)
    expect(run.stderr).toContain("HERALD_SYNC")
    const history = await daemon({ HERALD_DB: path.join(tmp(), "h.db"), HERALD_HISTORY_RETENTION_DAYS: "0.5" })
    expect(history.code).not.toBe(0)
    expect(history.stderr).toContain("HERALD_HISTORY_RETENTION_DAYS")
    expect(history.stderr).toContain("at least 1")
  })

  it("a port already in use is one line that says so and what to change", async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r))
    const port = (blocker.address() as net.AddressInfo).port
    const run = await daemon({ HERALD_DB: path.join(tmp(), "h.db"), HERALD_HOST: "127.0.0.1", HERALD_PORT: String(port) })
    blocker.close()
    expect(run.code).not.toBe(0)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toMatch(/^herald: cannot listen: .*EADDRINUSE.*; choose another HERALD_PORT or HERALD_HOST/)
  })

  it("bad HERALD_TOKEN and HERALD_MAX_BODY_BYTES values name their variable; the token is not echoed", async () => {
    const short = await daemon({ HERALD_DB: path.join(tmp(), "h.db"), HERALD_TOKEN: "short-secret" })
    expect(short.code).not.toBe(0)
    expect(short.stderr).toContain("HERALD_TOKEN")
    expect(short.stderr).not.toContain("short-secret")
    const body = await daemon({ HERALD_DB: path.join(tmp(), "h.db"), HERALD_MAX_BODY_BYTES: "-1" })
    expect(body.code).not.toBe(0)
    expect(body.stderr).toContain("HERALD_MAX_BODY_BYTES")
  })

  it("a token from HERALD_TOKEN is not printed in the banner", async () => {
    const token = "a-token-from-the-environment-1234"
    const run = await daemon({ HERALD_DB: path.join(tmp(), "h.db"), HERALD_TOKEN: token }, /running/)
    expect(run.code).toBe(0)
    expect(run.stderr).toContain("Dashboard")
    expect(run.stderr + run.stdout).not.toContain(token)
  })

  it("`token` prints the stored token, and for a database that does not exist says so without creating it", async () => {
    const dir = tmp()
    const db = path.join(dir, "h.db")
    const missing = await daemon({ HERALD_DB: db }, undefined, ["token"])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/^herald: no database at .*h\.db/)
    expect(fs.existsSync(db)).toBe(false)
    expect((await daemon({ HERALD_DB: db }, /running/)).code).toBe(0)
    const printed = await daemon({ HERALD_DB: db }, undefined, ["token"])
    expect(printed.code).toBe(0)
    const stored = new Database(db, { readonly: true }).prepare("SELECT token FROM api_token").get() as { token: string }
    expect(printed.stdout.trim()).toBe(stored.token)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("a database from a newer Herald is refused with both versions", async () => {
    const dir = tmp()
    const db = path.join(dir, "h.db")
    expect((await daemon({ HERALD_DB: db }, /running/)).code).toBe(0)
    const raw = new Database(db)
    raw.prepare("INSERT INTO effect_sql_migrations (migration_id, name) VALUES (9999, 'future')").run()
    raw.close()
    const run = await daemon({ HERALD_DB: db })
    expect(run.code).not.toBe(0)
    expect(run.stderr).toMatch(/migration 9999 .* up to \d+/)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("a database whose applied migration differs from this build's file is refused with one line naming it", async () => {
    const dir = tmp()
    const db = path.join(dir, "h.db")
    expect((await daemon({ HERALD_DB: db }, /running/)).code).toBe(0)
    const raw = new Database(db)
    raw.prepare("UPDATE herald_migrations SET sha256 = ? WHERE migration_id = 2").run("0".repeat(64))
    raw.close()
    const run = await daemon({ HERALD_DB: db })
    expect(run.code).not.toBe(0)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toMatch(/^herald: migrations\/0002_http_api\.sql differs from the file this database was migrated with .*: restore the file as released/)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("a database lacking a migration in the middle is refused with one line naming it", async () => {
    const dir = tmp()
    const db = path.join(dir, "h.db")
    expect((await daemon({ HERALD_DB: db }, /running/)).code).toBe(0)
    const raw = new Database(db)
    raw.prepare("DELETE FROM effect_sql_migrations WHERE migration_id = 2").run()
    raw.close()
    const run = await daemon({ HERALD_DB: db })
    expect(run.code).not.toBe(0)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toMatch(/^herald: the database lacks migrations\/0002_http_api\.sql though migration 3 after it is applied/)
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
