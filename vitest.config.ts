import { defineConfig } from "vitest/config"

/**
 * The suites that do not depend on the engine, run again on PostgreSQL (project `pg`): their
 * test-support databases (test/support/herald.ts's tempDatabase, test/http/support.ts's
 * testServer) are fresh PostgreSQL databases there. New files in these folders run on both.
 */
const engineIndependent = [
  "test/runtime/*.test.ts",
  "test/services/*.test.ts",
  "test/services/sessions/*.test.ts",
  "test/http/*.test.ts",
  "test/sinks/*.test.ts",
  "test/store/*.test.ts",
  "test/examples/*.test.ts"
]

/** Files of those folders that stay on SQLite, one line each with the reason. */
const sqliteOnly = [
  "test/store/*.sqlite.test.ts", // the SQLite stores' contracts; their PostgreSQL twins are test/store/pg/*
  "test/store/Writer.test.ts", // another process holding SQLite's write lock, and the writer's busy timeout
  "test/store/SettingsStore.test.ts", // stores broken JSON by switching SQLite's CHECKs off (ignore_check_constraints)
  "test/store/DeliveryCounts.test.ts", // SQLite's migration 0005 and triggers; PostgreSQL's counts are test/pg/triggers.test.ts's
  "test/http/fuzz.test.ts", // "nothing written" is SQLite's data_version and row counts read on the file
  "test/http/outsideLock.test.ts", // SQLite's busy wait under another process's write lock
  "test/http/readyz.test.ts", // not ready behind SQLite's write lock (PostgreSQL's MVCC has no such wait)
  "test/http/storage.test.ts", // a full database through SQLite's max_page_count
  "test/sinks/log.test.ts", // rewrites the settings row behind Herald's back with better-sqlite3; the sink is engine-free
  "test/http/SettingsMask.test.ts", // no database
  "test/sinks/internal.test.ts", // no database
  "test/runtime/SinkRateLimit.test.ts" // the per-process token bucket against the TestClock: with async I/O which claims were held is timing's
]

/** What both projects share (globalSetup and the worker count are the root's alone: one server, one pool per run). */
const shared = { pool: "forks", testTimeout: 60_000, hookTimeout: 60_000 } as const

export default defineConfig({
  test: {
    // A throwaway PostgreSQL server for the PostgreSQL suites, started once per run (the root's
    // globalSetup runs once whichever projects run; a project's own would run once more).
    globalSetup: ["test/support/postgresServer.ts"],
    // Tests open real databases and real sockets; two cores, so keep workers few.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      // Everything as written: SQLite by default, PostgreSQL where a suite asks for it (test/pg, test/store/pg).
      { test: { name: "default", include: ["test/**/*.test.ts"], ...shared } },
      // The engine-independent suites again on PostgreSQL (`npm run test:pg` runs these alone).
      { test: { name: "pg", include: engineIndependent, exclude: sqliteOnly, provide: { heraldEngine: "pg" as const }, ...shared } }
    ]
  }
})
