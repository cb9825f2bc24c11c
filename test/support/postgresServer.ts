/**
 * Vitest globalSetup: a throwaway PostgreSQL server for the PostgreSQL suites, the way
 * scripts/ensure-chromium.mjs provisions Chromium (how: throwawayPostgres.ts), with a `herald`
 * database, stopped and removed at the end. No system cluster is read or touched.
 * HERALD_TEST_PG_URL, when set, names a server to use instead (a role that may CREATE
 * DATABASE). Per-file databases are test/support/postgres.ts's.
 */
import pg from "pg"
import type { TestProject } from "vitest/node"
import { startThrowawayPostgres } from "./throwawayPostgres.js"

declare module "vitest" {
  export interface ProvidedContext {
    /** A superuser URL of the throwaway server's `herald` database. */
    heraldPgUrl: string
    /** `pg` in the project that runs the engine-independent suites on PostgreSQL (vitest.config.ts); unset elsewhere. */
    heraldEngine: "sqlite" | "pg"
  }
}

export default async function setup(project: TestProject) {
  const given = process.env.HERALD_TEST_PG_URL
  if (given !== undefined && given !== "") {
    project.provide("heraldPgUrl", given)
    return
  }
  const started = performance.now()
  // fsync=off (and no full-page writes, asynchronous commit): a throwaway test server loses
  // nothing it needs on a crash, and every commit stops costing a disk flush.
  const server = await startThrowawayPostgres({
    purpose: "the PostgreSQL tests",
    rerun: "npm test",
    settings: { fsync: "off", full_page_writes: "off", synchronous_commit: "off", max_connections: 200 }
  })
  try {
    const admin = new pg.Client({ connectionString: `${server.baseUrl}/postgres` })
    await admin.connect()
    try {
      await admin.query("CREATE DATABASE herald")
    } finally {
      await admin.end()
    }
    const url = `${server.baseUrl}/herald`
    project.provide("heraldPgUrl", url)
    // Child processes (the e2e workers) read it from the environment.
    process.env.HERALD_TEST_PG_URL = url
    console.error(`herald: throwaway PostgreSQL on 127.0.0.1:${server.port} ready in ${Math.round(performance.now() - started)} ms`)
  } catch (e) {
    server.stop()
    throw e
  }

  return () => {
    const stopping = performance.now()
    server.stop()
    console.error(`herald: throwaway PostgreSQL stopped and removed in ${Math.round(performance.now() - stopping)} ms`)
  }
}
