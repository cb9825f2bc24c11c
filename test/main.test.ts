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

/** Runs the daemon; `stopWhen` sends SIGINT once stdout matches it; it is killed after `withinMs`. */
const daemon = (env: Record<string, string>, stopWhen?: RegExp, args: ReadonlyArray<string> = [], withinMs = 30_000) =>
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
    const guard = setTimeout(() => child.kill("SIGKILL"), withinMs)
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

  it("a bad value of any HERALD_* variable stops it before anything starts, with one line: the variable, its rule, what it got", async () => {
    // One bad value each (test/layers/Config.test.ts tries many in-process).
    const bad: Record<string, string> = {
      HERALD_DB: "",
      HERALD_DATABASE_URL: "mysql://localhost/herald",
      HERALD_SYNC: "SOMETIMES",
      HERALD_HOST: "",
      HERALD_PORT: "70000",
      HERALD_TOKEN: "short-secret",
      HERALD_MAX_BODY_BYTES: "1023",
      HERALD_CHANGE_RETENTION_HOURS: "0",
      HERALD_HISTORY_RETENTION_DAYS: "0.5",
      HERALD_MAX_QUEUED_ENQUEUES: "0",
      HERALD_LOG_DIR: "/nonexistent-herald-log-dir"
    }
    // Every variable the source reads has its bad values here.
    const read = new Set<string>()
    for (const file of fs.readdirSync(new URL("../src", import.meta.url), { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".ts")) continue
      for (const m of fs.readFileSync(new URL(`../src/${file}`, import.meta.url), "utf8").matchAll(/"(HERALD_[A-Z_]+)"/g)) read.add(m[1]!)
    }
    expect([...read].sort()).toEqual(Object.keys(bad).sort())
    const dir = tmp()
    const db = path.join(dir, "h.db")
    const runs = await Promise.all(Object.entries(bad).map(async ([name, value]) => [name, value, await daemon({ HERALD_DB: db, [name]: value })] as const))
    for (const [name, value, run] of runs) {
      expect(run.code, `${name}=${value}`).toBe(1)
      expect(run.stdout, `${name}=${value}`).toBe("")
      expect(run.stderr, `${name}=${value}`).toMatch(new RegExp(`^herald: ${name} must be [^\\n]+ \\(got [^\\n]+\\)\\n$`))
      if (name === "HERALD_TOKEN") expect(run.stderr).toBe("herald: HERALD_TOKEN must be at least 16 characters (got 12)\n")
      else expect(run.stderr).toContain(`(got ${JSON.stringify(value)})`)
    }
    expect(fs.existsSync(db)).toBe(false)
    const several = await daemon({ HERALD_DB: db, HERALD_SYNC: "x", HERALD_PORT: "y" })
    expect(several.stderr.trim().split("\n")).toHaveLength(1)
    expect(several.stderr).toMatch(/HERALD_SYNC must be .*; HERALD_PORT must be /)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("--help, -h and help print the usage on stdout and exit 0; any other argument is refused with the usage line, exit 2, and starts nothing", async () => {
    const dir = tmp()
    const db = path.join(dir, "h.db")
    const helps = await Promise.all(["--help", "-h", "help"].map((a) => daemon({ HERALD_DB: db }, undefined, [a], 10_000)))
    for (const help of helps) {
      expect(help.code).toBe(0)
      expect(help.stderr).toBe("")
      expect(help.stdout).toMatch(/^usage: node dist\/main\.js \[token \| --help\]/)
      expect(help.stdout).toContain("token")
    }
    const usageLine = helps[0]!.stdout.split("\n")[0]!
    for (const [args, named] of [[["--hlep"], "--hlep"], [["serve"], "serve"], [["token", "now"], "now"]] as const) {
      const run = await daemon({ HERALD_DB: db }, undefined, args, 10_000)
      expect(run.code, args.join(" ")).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toBe(`herald: unknown argument '${named}'\n${usageLine}\n`)
    }
    expect(fs.existsSync(db)).toBe(false)
    fs.rmSync(dir, { recursive: true, force: true })
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
    // With HERALD_TOKEN set there is no stored token to print: nothing on stdout, where
    // `$(herald token)` would take an explanation for the token.
    const fromEnv = await daemon({ HERALD_DB: db, HERALD_TOKEN: "a-token-from-the-environment-1234" }, undefined, ["token"])
    expect(fromEnv.code).not.toBe(0)
    expect(fromEnv.stdout).toBe("")
    expect(fromEnv.stderr).toMatch(/^herald: the token is HERALD_TOKEN's value[^\n]*\n$/)
    expect(fromEnv.stderr).not.toContain("a-token-from-the-environment-1234")
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
