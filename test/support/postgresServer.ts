/**
 * Vitest globalSetup: a throwaway PostgreSQL server for the PostgreSQL suites, the way
 * scripts/ensure-chromium.mjs provisions Chromium. It finds `initdb`/`pg_ctl` (installing
 * Debian's `postgresql` when missing and running as root), runs `initdb` into a fresh temp
 * directory and `pg_ctl start` on a free port of 127.0.0.1, and stops and removes it at the end.
 * No system cluster is read or touched. HERALD_TEST_PG_URL, when set, names a server to use
 * instead (a role that may CREATE DATABASE). Per-file databases are test/support/postgres.ts's.
 */
import { execFileSync, type ExecFileSyncOptions } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    /** A superuser URL of the throwaway server's `herald` database. */
    heraldPgUrl: string
    /** `pg` in the project that runs the engine-independent suites on PostgreSQL (vitest.config.ts); unset elsewhere. */
    heraldEngine: "sqlite" | "pg"
  }
}

/** Fails the run with one line (no stack: the line says what to do). */
const fail = (line: string): never => {
  const error = new Error(`herald: ${line}`)
  error.stack = error.message
  throw error
}

const isExecutable = (file: string) => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** A directory holding both `initdb` and `pg_ctl`: PATH, /usr/local/bin, then the newest /usr/lib/postgresql/N/bin. */
const findBinDir = (): string | undefined => {
  const versioned = fs.existsSync("/usr/lib/postgresql")
    ? fs.readdirSync("/usr/lib/postgresql")
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`)
    : []
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter((d) => d !== ""), "/usr/local/bin", ...versioned]
  return dirs.find((d) => isExecutable(path.join(d, "initdb")) && isExecutable(path.join(d, "pg_ctl")))
}

const isRoot = process.getuid?.() === 0

const installPostgres = () => {
  console.error("herald: installing Debian's postgresql for the PostgreSQL tests (apt-get, about a minute) ...")
  // A fresh VM may hold the dpkg lock for a while (unattended upgrades): wait for it. The
  // package may create its own `main` cluster; this setup never uses it.
  const apt = (args: ReadonlyArray<string>) =>
    execFileSync("apt-get", ["-o", "DPkg::Lock::Timeout=180", ...args], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
    })
  try {
    apt(["install", "-y", "postgresql"])
  } catch {
    console.error("herald: apt-get could not install postgresql from its cached lists; updating them and trying again ...")
    apt(["update"])
    apt(["install", "-y", "postgresql"])
  }
}

const binDir = (): string => {
  const found = findBinDir()
  if (found !== undefined) return found
  if (!isRoot || !fs.existsSync("/usr/bin/apt-get")) {
    return fail(
      "the PostgreSQL tests need initdb and pg_ctl (PostgreSQL 13 or newer). Install them " +
        "(Debian/Ubuntu: `sudo apt-get install postgresql`) or put their directory on PATH, then run `npm test` again."
    )
  }
  installPostgres()
  return findBinDir() ?? fail("apt-get installed postgresql but initdb and pg_ctl were not found under /usr/lib/postgresql/*/bin")
}

/**
 * initdb refuses to run as root, and the server too: as root both run as an unprivileged user,
 * `postgres` (which Debian's package creates) or else `nobody`, who is given the directory.
 */
const serverUser = (): { readonly name: string; readonly uid: number; readonly gid: number } | undefined => {
  if (!isRoot) return undefined
  const passwd = fs.readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"))
  for (const name of ["postgres", "nobody"]) {
    const entry = passwd.find((f) => f[0] === name)
    if (entry !== undefined) return { name, uid: Number(entry[2]), gid: Number(entry[3]) }
  }
  return fail("running as root, the PostgreSQL tests need an unprivileged user to run the server as (`postgres` or `nobody`); create one, or run `npm test` as another user")
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      server.close(() => resolve(address.port))
    })
  })

export default async function setup(project: TestProject) {
  const given = process.env.HERALD_TEST_PG_URL
  if (given !== undefined && given !== "") {
    project.provide("heraldPgUrl", given)
    return
  }
  const started = performance.now()
  const bin = binDir()
  const user = serverUser()
  const run = (tool: string, args: ReadonlyArray<string>, options: ExecFileSyncOptions = {}) => {
    const exe = path.join(bin, tool)
    const [cmd, argv] = user === undefined ? [exe, args] : ["runuser", ["-u", user.name, "--", exe, ...args]]
    return execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], ...options })
  }

  const root = fs.mkdtempSync(path.join(os.tmpdir(), "herald-pg-"))
  const data = path.join(root, "data")
  const socketDir = path.join(root, "socket")
  fs.mkdirSync(socketDir)
  const password = randomBytes(18).toString("base64url")
  const pwfile = path.join(root, "pwfile")
  fs.writeFileSync(pwfile, password, { mode: 0o600 })
  if (user !== undefined) {
    for (const p of [root, socketDir, pwfile]) fs.chownSync(p, user.uid, user.gid)
  }

  const stop = () => {
    try {
      if (fs.existsSync(path.join(data, "postmaster.pid"))) run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"])
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  }

  try {
    // --no-sync: nothing here must survive a power cut; the superuser `herald` logs in with a
    // random password over TCP (scram), so other local users cannot use the server meanwhile.
    run("initdb", [
      "-D", data, "-U", "herald", "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
      "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"
    ])
    fs.rmSync(pwfile)
    let port = 0
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      try {
        // fsync=off (and no full-page writes, asynchronous commit): a throwaway test server
        // loses nothing it needs on a crash, and every commit stops costing a disk flush.
        run("pg_ctl", [
          "-D", data, "-l", path.join(root, "server.log"), "-w", "-t", "30",
          "-o", `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200`,
          "start"
        ])
        break
      } catch (e) {
        // Another process may have taken the port between freePort and the server's bind.
        if (attempt >= 3) {
          const log = fs.existsSync(path.join(root, "server.log")) ? fs.readFileSync(path.join(root, "server.log"), "utf8") : ""
          throw new Error(`herald: the throwaway PostgreSQL server did not start: ${String(e)}\n${log}`)
        }
      }
    }
    const base = `postgres://herald:${encodeURIComponent(password)}@127.0.0.1:${port}`
    const admin = new pg.Client({ connectionString: `${base}/postgres` })
    await admin.connect()
    try {
      await admin.query("CREATE DATABASE herald")
    } finally {
      await admin.end()
    }
    const url = `${base}/herald`
    project.provide("heraldPgUrl", url)
    // Child processes (the e2e workers) read it from the environment.
    process.env.HERALD_TEST_PG_URL = url
    console.error(`herald: throwaway PostgreSQL on 127.0.0.1:${port} ready in ${Math.round(performance.now() - started)} ms`)
  } catch (e) {
    stop()
    throw e
  }

  return () => {
    const stopping = performance.now()
    stop()
    console.error(`herald: throwaway PostgreSQL stopped and removed in ${Math.round(performance.now() - stopping)} ms`)
  }
}
