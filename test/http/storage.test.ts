import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { call, testServer } from "./support.js"

// SQLite's max_page_count on the writer makes the database full for real: writes that need a
// page fail with SQLITE_FULL, as on a full disk, without a special filesystem.
const setMaxPages = (n: number | "current") =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const pages = n === "current" ? (yield* sql<{ page_count: number }>`PRAGMA page_count`)[0]!.page_count : n
    yield* sql.unsafe(`PRAGMA max_page_count = ${pages}`)
  })

layer(testServer(), { excludeTestServices: true })("HTTP storage failures", (it) => {
  it.effect("a full database answers 503 storage_full saying to free disk space, /readyz says so too, and both recover once there is room", () =>
    Effect.gen(function* () {
      yield* setMaxPages("current")
      const big = { kind: "full", title: "does not fit", body: "x".repeat(60_000) }
      const refused = yield* call("POST", "/v1/notifications", { body: big })
      expect(refused.status).toBe(503)
      expect(refused.headers.get("content-type")).toContain("application/problem+json")
      expect(refused.headers.get("retry-after")).not.toBeNull()
      expect(refused.body).toMatchObject({ status: 503, code: "storage_full", detail: expect.stringContaining("free disk space") })
      const ready = yield* call("GET", "/readyz", { auth: false })
      expect(ready.status).toBe(503)
      expect(ready.body).toMatchObject({ code: "NotReady", reason: expect.stringContaining("storage full") })

      yield* setMaxPages(4_294_967_294)
      expect((yield* call("GET", "/readyz", { auth: false })).status).toBe(200)
      expect((yield* call("POST", "/v1/notifications", { body: big })).status).toBe(201)
      expect((yield* call("GET", "/v1/notifications?kind=full")).body.items).toHaveLength(1)
    }))

  it.effect("a write the database refuses the same way every time answers 500, with no Retry-After to invite a retry", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // A refusal no input check knows about: a temporary trigger on the writer's connection.
      yield* sql.unsafe(`CREATE TEMP TRIGGER refuse_kind BEFORE INSERT ON main.notifications WHEN NEW.kind = 'refused'
                         BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`)
      const reply = yield* call("POST", "/v1/notifications", { body: { kind: "refused", title: "t" } })
      yield* sql.unsafe("DROP TRIGGER temp.refuse_kind")
      expect(reply.status).toBe(500)
      expect(reply.headers.get("retry-after")).toBeNull()
      expect(reply.body).toMatchObject({ code: "InternalError" })
    }))
})
