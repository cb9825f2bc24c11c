/**
 * Every example in README.md, run as written: its shell commands against a built dist/ in a temp
 * directory (the daemon on ./herald.db there), its settings document sent to that daemon, and the
 * receiver's verification snippet on a delivery that daemon made. The embedding example has its
 * own test (readme-example.test.ts). Needs `npm run build` first.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { readmeBlocks, shellCommands } from "../support/readme.js"

const root = new URL("../..", import.meta.url).pathname
const packageJson = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }

/** What the README's shell commands are, and how each is checked. */
const kindOf = (command: string) =>
  command === "npm install" ? "install" as const
  : command === "npm start" ? "start" as const
  : command === "npm start -- token" || command === "node dist/main.js token" ? "token" as const
  : /^npm (test|run \S+)$/.test(command) ? "script" as const
  : command.startsWith("curl ") ? "curl" as const
  // The PostgreSQL lines: test/pg/daemon.test.ts starts node dist/main.js with HERALD_DATABASE_URL
  // on a database made as createdb makes it (CREATE DATABASE, test/support/postgres.ts).
  : command === "createdb herald" ? "pgSetup" as const
  : /^HERALD_DATABASE_URL=postgres:\/\/\S+ npm start$/.test(command) ? "pgStart" as const
  : "unknown" as const

const commands = readmeBlocks().filter((b) => b.lang === "sh").flatMap((b) => shellCommands(b.code))
const ofKind = (kind: ReturnType<typeof kindOf>) => commands.filter((c) => kindOf(c) === kind)

/** The environment a reader's shell has: none of Herald's variables (the tests' own HERALD_* are dropped). */
const readerEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HERALD_"))) as Record<string, string>

/** A directory that looks like a checkout with dist/ built: the package's files linked in. */
const checkout = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-readme-"))
  for (const name of ["package.json", "dist", "migrations", "src", "scripts", "node_modules", "tsconfig.json", "tsconfig.build.json"]) {
    fs.symlinkSync(path.join(root, name), path.join(dir, name))
  }
  return dir
}

const sh = (command: string, cwd: string, env: Record<string, string> = readerEnv()) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile("bash", ["-c", command], { cwd, env, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr }))
  })

/**
 * `command` as a person runs it at a terminal, in its own process group so that the SIGINT of a
 * Ctrl-C reaches npm, its shell and the daemon alike. Resolves once the daemon says it is running.
 */
const startAsAtATerminal = (command: string, cwd: string) =>
  new Promise<{ child: ChildProcess; url: string; output: { stdout: string }; exited: Promise<number | null> }>((resolve, reject) => {
    // HERALD_PORT=0: the README's 7878 may be taken on a shared machine; the commands below are pointed at the port it got.
    const child = spawn("bash", ["-c", command], { cwd, env: { ...readerEnv(), HERALD_PORT: "0" }, detached: true, stdio: ["ignore", "pipe", "pipe"] })
    const output = { stdout: "" }
    let stderr = ""
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
    const guard = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 60_000)
    void exited.then(() => clearTimeout(guard))
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdout!.on("data", (d: Buffer) => {
      output.stdout += d.toString()
      const running = /\{"message":"herald is running".*\}/.exec(output.stdout)
      if (running) resolve({ child, url: (JSON.parse(running[0]) as { annotations: { url: string } }).annotations.url, output, exited })
    })
    void exited.then((code) => reject(new Error(`'${command}' exited (${code}) before it was running: ${stderr}`)))
  })

const json = async (url: string, init: RequestInit & { token: string }) => {
  const response = await fetch(url, { ...init, headers: { authorization: `Bearer ${init.token}`, "content-type": "application/json" } })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

/** The receiver's verification snippet as a module: `verify(secret, rawBody, headers)` runs its lines as written. */
const receiverSnippet = () => {
  const block = readmeBlocks().find((b) => b.lang === "ts" && b.code.includes("standardwebhooks"))
  if (block === undefined) throw new Error("README.md has no receiver snippet")
  const lines = block.code.trimEnd().split("\n")
  const imports = lines.filter((l) => l.startsWith("import "))
  const body = lines.filter((l) => !l.startsWith("import "))
  return [...imports, "export const verify = (secret: string, rawBody: string, headers: Record<string, string>) => {", ...body, "  return event", "}"].join("\n")
}

describe("README examples", () => {
  it("every shell command it shows is one these tests run or check, and every npm script it names exists", () => {
    expect(commands.filter((c) => kindOf(c) === "unknown")).toEqual([])
    for (const kind of ["install", "start", "token", "script", "curl", "pgSetup", "pgStart"] as const) expect(ofKind(kind), kind).not.toHaveLength(0)
    for (const c of ofKind("script")) expect(packageJson.scripts, c).toHaveProperty(c === "npm test" ? "test" : c.slice("npm run ".length))
    expect(packageJson.scripts).toHaveProperty("start")
    // Not run here (it would reinstall the shared packages): what it installs from is present.
    expect(fs.existsSync(path.join(root, "package-lock.json"))).toBe(true)
  })

  it("a rebuild by npm start writes nothing on stdout, so $(npm start --silent -- token) is the token alone", async () => {
    // A checkout whose dist/ is missing, with a stand-in build that prints what tsc would.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-rebuild-"))
    try {
      fs.mkdirSync(path.join(dir, "scripts"))
      fs.mkdirSync(path.join(dir, "src"))
      fs.copyFileSync(path.join(root, "scripts", "build-if-needed.mjs"), path.join(dir, "scripts", "build-if-needed.mjs"))
      fs.writeFileSync(path.join(dir, "src", "main.ts"), "")
      fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "x", scripts: { build: "node -e \"console.log('compiled')\"" } }))
      const run = await sh("node scripts/build-if-needed.mjs", dir)
      expect(run.code).toBe(0)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain("compiled")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("npm start, the token commands, curl, the settings document and the receiver snippet all work as written", async () => {
    const dir = checkout()
    const [start] = ofKind("start")
    const daemon = await startAsAtATerminal(start!, dir)
    try {
      // The token commands print the token stored in ./herald.db, on a line of its own.
      const stored = (new Database(path.join(dir, "herald.db"), { readonly: true }).prepare("SELECT token FROM api_token").get() as { token: string }).token
      for (const c of ofKind("token")) {
        const run = await sh(c, dir)
        expect(run.code, c).toBe(0)
        expect(run.stdout.split("\n"), c).toContain(stored)
      }

      // The curl examples in order (the sessions walk-through builds on itself), pointed at the port the daemon got.
      const answers: Array<Record<string, unknown>> = []
      for (const c of ofKind("curl")) {
        expect(c).toContain("http://127.0.0.1:7878/")
        const run = await sh(c.replaceAll("http://127.0.0.1:7878", daemon.url), dir)
        expect(run.code, run.stderr).toBe(0)
        const answer = JSON.parse(run.stdout) as Record<string, unknown>
        expect(answer["status"], run.stdout).toBeUndefined() // a problem body carries its status
        answers.push(answer)
        if (c.includes("/v1/notifications")) {
          expect(answer).toMatchObject({ notification: { kind: "ci.failed", title: "CI failed on #42", priority: "high" } })
        }
      }
      // The walk-through ends as the README says: the session in ci_failed with its failed run.
      expect(answers.at(-1)).toMatchObject({ id: "web-1", state: "ci_failed", pullRequests: [{ ciState: "failed", failedRuns: 1 }] })

      // The settings document is accepted whole.
      const [settingsBlock] = readmeBlocks().filter((b) => b.lang === "json")
      const settings = JSON.parse(settingsBlock!.code) as { sinks: Record<string, Record<string, unknown>> }
      const put = await json(`${daemon.url}/v1/settings`, { method: "PUT", body: settingsBlock!.code, token: stored })
      expect(put.status, JSON.stringify(put.body)).toBe(200)
      const got = await json(`${daemon.url}/v1/settings`, { method: "GET", token: stored })
      expect(Object.keys(got.body["sinks"] as object).sort()).toEqual(Object.keys(settings.sinks).sort())

      // The GET /v1/sinks example shows sinks of that document with the fields the daemon answers.
      const sinksBlock = readmeBlocks().find((b) => b.lang === "json" && b.code.includes('"consecutiveFailures"'))
      const example = (JSON.parse(sinksBlock!.code) as { sinks: Array<Record<string, unknown>> }).sinks
      const live = (await json(`${daemon.url}/v1/sinks`, { method: "GET", token: stored })).body["sinks"] as Array<Record<string, unknown>>
      expect(live.map((s) => s["name"])).toEqual(Object.keys(settings.sinks).sort())
      for (const shown of example) {
        const actual = live.find((s) => s["name"] === shown["name"])
        expect(actual, String(shown["name"])).toBeDefined()
        expect(Object.keys(shown).sort()).toEqual(Object.keys(actual!).sort())
        expect(shown["type"]).toBe(actual!["type"])
      }

      // The receiver snippet verifies a delivery this daemon signed with the document's secret.
      const received: Array<{ body: string; headers: Record<string, string> }> = []
      const server = http.createServer((req, res) => {
        let body = ""
        req.on("data", (c: Buffer) => (body += c.toString()))
        req.on("end", () => {
          received.push({ body, headers: req.headers as Record<string, string> })
          res.writeHead(204).end()
        })
      })
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
      try {
        const hook = { ...settings.sinks["hook"], url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, allowPrivateNetwork: true }
        const local = { ...settings, sinks: { ...settings.sinks, hook }, routes: [{ sink: "hook", minPriority: "low" }] }
        expect((await json(`${daemon.url}/v1/settings`, { method: "PUT", body: JSON.stringify(local), token: stored })).status).toBe(200)
        expect((await json(`${daemon.url}/v1/notifications`, { method: "POST", body: JSON.stringify({ kind: "deploy", title: "Deploy finished" }), token: stored })).status).toBe(201)
        const until = Date.now() + 15_000
        while (received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
        expect(received).toHaveLength(1)
        const file = path.join(new URL(".", import.meta.url).pathname, `.readme-receiver-${process.pid}.ts`)
        try {
          fs.writeFileSync(file, receiverSnippet())
          const { verify } = (await import(file)) as { verify: (secret: string, body: string, headers: Record<string, string>) => unknown }
          expect(verify(settings.sinks["hook"]!["secret"] as string, received[0]!.body, received[0]!.headers)).toMatchObject({
            type: "herald.delivery", data: { sink: "hook", notification: { title: "Deploy finished" } }
          })
          expect(() => verify(settings.sinks["hook"]!["secret"] as string, received[0]!.body.replace("Deploy", "Deplot"), received[0]!.headers)).toThrow()
        } finally {
          fs.rmSync(file, { force: true })
        }
      } finally {
        server.close()
      }
    } finally {
      // Ctrl-C: the whole foreground group gets SIGINT.
      process.kill(-daemon.child.pid!, "SIGINT")
      await daemon.exited
      fs.rmSync(dir, { recursive: true, force: true })
    }
    expect(daemon.output.stdout).toMatch(/"message":"shutting down/)
  })
})
