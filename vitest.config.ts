import { defineConfig } from "vitest/config"

/** What both projects share (globalSetup and the worker count are the root's alone: one server, one pool per run). */
const shared = { pool: "forks", testTimeout: 60_000, hookTimeout: 60_000 } as const

export default defineConfig({
  test: {
    // A throwaway PostgreSQL server for the PostgreSQL suites, started once per run.
    globalSetup: ["test/support/postgresServer.ts"],
    // Tests open real databases and real sockets; two cores, so keep workers few.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      { test: { name: "sqlite", include: ["test/**/*.test.ts"], ...shared } },
      {
        test: {
          name: "pg",
          include: ["test/runtime/*.test.ts", "test/services/*.test.ts", "test/http/*.test.ts", "test/sinks/*.test.ts", "test/store/*.test.ts", "test/examples/*.test.ts"],
          exclude: ["test/store/*.sqlite.test.ts"],
          provide: { heraldEngine: "pg" },
          ...shared
        }
      }
    ]
  }
})
