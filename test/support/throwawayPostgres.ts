/**
 * A throwaway PostgreSQL server: finds `initdb`/`pg_ctl` (installing Debian's `postgresql` when
 * missing and running as root), runs `initdb` into a fresh temp directory and `pg_ctl start` on
 * a free port of 127.0.0.1, and stops and removes it on `stop`. No system cluster is read or
 * touched. Shared by the tests' globalSetup (postgresServer.ts) and the bench (bench/pgServer.ts),
 * which differ only in the server settings they pass and who they are when something is missing.
 */
import { execFileSync, type ExecFileSyncOptions } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface ThrowawayOptions {
  /** Who needs the server, for the one line printed when PostgreSQL is missing: "the PostgreSQL tests". */
  readonly purpose: string
  /** The command to run again once it is installed: "npm test". */
  readonly rerun: string
  /** Server settings passed as `-c name=value` to `postgres`. */
  readonly settings: Readonly<Record<string, string | number>>
}

export interface ThrowawayServer {
  /** `postgres://herald:<password>@127.0.0.1:<port>`, a superuser; append `/database`. */
  readonly baseUrl: string
  readonly port: number
  /** The postmaster's process id (its backends are its children). */
  readonly pid: number
  /** Stops the server (fast shutdown) and removes its directory. */
  readonly stop: () => void
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

const installPostgres = (purpose: string) => {
  console.error(`herald: installing Debian's postgresql for ${purpose} (apt-get, about a minute) ...`)
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

const binDir = (options: ThrowawayOptions): string => {
  const found = findBinDir()
  if (found !== undefined) return found
  if (!isRoot || !fs.existsSync("/usr/bin/apt-get")) {
    return fail(
      `${options.purpose} need initdb and pg_ctl (PostgreSQL 13 or newer). Install them ` +
        `(Debian/Ubuntu: \`sudo apt-get install postgresql\`) or put their directory on PATH, then run \`${options.rerun}\` again.`
    )
  }
  installPostgres(options.purpose)
  return findBinDir() ?? fail("apt-get installed postgresql but initdb and pg_ctl were not found under /usr/lib/postgresql/*/bin")
}

/**
 * initdb refuses to run as root, and the server too: as root both run as an unprivileged user,
 * `postgres` (which Debian's package creates) or else `nobody`, who is given the directory.
 */
const serverUser = (options: ThrowawayOptions): { readonly name: string; readonly uid: number; readonly gid: number } | undefined => {
  if (!isRoot) return undefined
  const passwd = fs.readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"))
  for (const name of ["postgres", "nobody"]) {
    const entry = passwd.find((f) => f[0] === name)
    if (entry !== undefined) return { name, uid: Number(entry[2]), gid: Number(entry[3]) }
  }
  return fail(`running as root, ${options.purpose} need an unprivileged user to run the server as (\`postgres\` or \`nobody\`); create one, or run \`${options.rerun}\` as another user`)
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

/** Starts a throwaway server; the caller must `stop` it (it is not stopped when the process exits). */
export const startThrowawayPostgres = async (options: ThrowawayOptions): Promise<ThrowawayServer> => {
  const bin = binDir(options)
  const user = serverUser(options)
  const run = (tool: string, args: ReadonlyArray<string>, execOptions: ExecFileSyncOptions = {}) => {
    const exe = path.join(bin, tool)
    const [cmd, argv] = user === undefined ? [exe, args] : ["runuser", ["-u", user.name, "--", exe, ...args]]
    return execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], ...execOptions })
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
    // --no-sync: initdb's own files need not survive a power cut; the superuser `herald` logs
    // in with a random password over TCP (scram), so other local users cannot use the server.
    run("initdb", [
      "-D", data, "-U", "herald", "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
      "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"
    ])
    fs.rmSync(pwfile)
    const settings = Object.entries(options.settings).map(([k, v]) => `-c ${k}=${v}`).join(" ")
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      try {
        run("pg_ctl", [
          "-D", data, "-l", path.join(root, "server.log"), "-w", "-t", "30",
          "-o", `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 ${settings}`,
          "start"
        ])
        const pid = Number(fs.readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0])
        return { baseUrl: `postgres://herald:${encodeURIComponent(password)}@127.0.0.1:${port}`, port, pid, stop }
      } catch (e) {
        // Another process may have taken the port between freePort and the server's bind.
        if (attempt >= 3) {
          const log = fs.existsSync(path.join(root, "server.log")) ? fs.readFileSync(path.join(root, "server.log"), "utf8") : ""
          throw new Error(`herald: the throwaway PostgreSQL server did not start: ${String(e)}\n${log}`)
        }
      }
    }
  } catch (e) {
    stop()
    throw e
  }
}
