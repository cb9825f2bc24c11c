/**
 * The bench's throwaway PostgreSQL server (started by test/support/throwawayPostgres.ts, as the
 * tests' is), tuned for a bench rather than for tests: durable commits as in production, plus
 * room for the bench's connections and no checkpoint in the middle of a measurement. Each
 * measurement asks for a fresh database.
 */
import { randomBytes } from "node:crypto"
import pg from "pg"
import { startThrowawayPostgres } from "../test/support/throwawayPostgres.js"

/**
 * fsync, synchronous_commit and full_page_writes keep their defaults (on): every commit waits
 * for its WAL flush, so the figures are those of a server that keeps what it acknowledged.
 * shared_buffers 256MB holds a run's tables; max_wal_size 4GB and checkpoint_timeout 30min keep
 * checkpoints out of a run; max_connections 200 fits 4 Herald pools of 10 and 4 graphile-workers.
 */
export const benchSettings = {
  max_connections: 200,
  shared_buffers: "256MB",
  max_wal_size: "4GB",
  checkpoint_timeout: "30min"
} as const

export interface BenchPostgres {
  /** The postmaster's pid, whose children are the backends and PostgreSQL's own workers. */
  readonly pid: number
  /** The server's version, e.g. "15.14". */
  readonly version: () => Promise<string>
  /** A new empty database; its URL. */
  readonly freshDatabase: (prefix: string) => Promise<string>
  readonly stop: () => void
}

const admin = async (url: string, statement: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(statement)
  } finally {
    await client.end()
  }
}

export const startBenchPostgres = async (): Promise<BenchPostgres> => {
  const server = await startThrowawayPostgres({ purpose: "the PostgreSQL benchmarks", rerun: "npm run bench", settings: benchSettings })
  return {
    pid: server.pid,
    version: async () => String((await admin(`${server.baseUrl}/postgres`, "SHOW server_version")).rows[0]?.server_version).split(" ")[0]!,
    freshDatabase: async (prefix) => {
      const name = `${prefix}_${randomBytes(4).toString("hex")}`
      await admin(`${server.baseUrl}/postgres`, `CREATE DATABASE ${name}`)
      return `${server.baseUrl}/${name}`
    },
    stop: server.stop
  }
}
