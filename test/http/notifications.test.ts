import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readMigrations } from "../../src/store/sqlite/Migrations.js"
import { call, postChunked, testServer, useDesktopSink } from "./support.js"

layer(testServer({ maxBodyBytes: 4_096 }), { excludeTestServices: true })("HTTP notifications and the edge", (it) => {
  it.effect("an enqueue answers 201 with the notification, and GET returns it with its deliveries", () =>
    Effect.gen(function* () {
      yield* useDesktopSink
      const created = yield* call("POST", "/v1/notifications", { body: { kind: "ci.failed", title: "CI failed", priority: "high" } })
      expect(created.status).toBe(201)
      expect(created.body.created).toBe(true)
      const id = created.body.notification.id
      const got = yield* call("GET", `/v1/notifications/${id}`)
      expect(got.status).toBe(200)
      expect(got.body.notification).toMatchObject({ id, kind: "ci.failed", priority: "high" })
      expect(got.body.deliveries.map((d: { sink: string }) => d.sink)).toEqual(["desk"])
    }))

  it.effect("a repeated dedupeKey answers 200 with the original, not a second notification", () =>
    Effect.gen(function* () {
      const first = yield* call("POST", "/v1/notifications", { body: { kind: "k", title: "one", dedupeKey: "dk-1" } })
      const again = yield* call("POST", "/v1/notifications", { body: { kind: "k", title: "one", dedupeKey: "dk-1" } })
      expect(first.status).toBe(201)
      expect(again.status).toBe(200)
      expect(again.body).toMatchObject({ created: false, notification: { id: first.body.notification.id } })
    }))

  it.effect("an Idempotency-Key with the same body answers the original; with another body, 409", () =>
    Effect.gen(function* () {
      const headers = { "idempotency-key": "idem-1" }
      const body = { kind: "k", title: "pay", payload: { a: 1, b: [1, 2] } }
      const first = yield* call("POST", "/v1/notifications", { body, headers })
      // Same body with keys reordered: still the same request.
      const again = yield* call("POST", "/v1/notifications", { body: { payload: { b: [1, 2], a: 1 }, title: "pay", kind: "k" }, headers })
      const other = yield* call("POST", "/v1/notifications", { body: { ...body, title: "different" }, headers })
      expect(first.status).toBe(201)
      expect(again.status).toBe(200)
      expect(again.body.notification.id).toBe(first.body.notification.id)
      expect(other.status).toBe(409)
      expect(other.headers.get("content-type")).toContain("application/problem+json")
      expect(other.body).toMatchObject({ status: 409, code: "IdempotencyConflict", key: "idem-1" })
    }))

  it.effect("concurrent requests with one Idempotency-Key create one notification", () =>
    Effect.gen(function* () {
      const replies = yield* Effect.all(
        Array.from({ length: 8 }, () => call("POST", "/v1/notifications", { body: { kind: "race", title: "once" }, headers: { "idempotency-key": "race-1" } })),
        { concurrency: "unbounded" }
      )
      expect(new Set(replies.map((r) => r.body.notification.id)).size).toBe(1)
      expect(replies.filter((r) => r.status === 201)).toHaveLength(1)
    }))

  it.effect("a bad body answers 400 problem+json with the field path, and writes nothing", () =>
    Effect.gen(function* () {
      const before = yield* call("GET", "/v1/notifications?kind=bad&limit=10")
      const reply = yield* call("POST", "/v1/notifications", { body: { kind: "bad", title: "" } })
      expect(reply.status).toBe(400)
      expect(reply.headers.get("content-type")).toContain("application/problem+json")
      expect(reply.body).toMatchObject({ status: 400, code: "InvalidInput", path: "title", type: expect.stringContaining("invalid-input") })
      const misspelt = yield* call("POST", "/v1/notifications", { body: { kind: "bad", title: "t", priorty: "high" } })
      expect(misspelt.status).toBe(400)
      expect(misspelt.body.issues.map((i: { path: string }) => i.path)).toContain("priorty")
      const notJson = yield* call("POST", "/v1/notifications", { raw: "{nope", headers: { "content-type": "application/json" } })
      expect(notJson.status).toBe(400)
      const after = yield* call("GET", "/v1/notifications?kind=bad&limit=10")
      expect(after.body.items).toEqual(before.body.items)
    }))

  it.effect("a bad query parameter answers 400 with one issue that says what was expected, not what was sent", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        ["priority=loud", "priority", 'Expected one of "low", "normal", "high", "urgent"'],
        ["since=x", "since", "Expected a number"],
        ["limit=0", "limit", "Expected a number between 1 and 1000"]
      ]
      for (const [query, path, message] of cases) {
        const reply = yield* call("GET", `/v1/notifications?${query}`)
        expect(reply.status).toBe(400)
        expect(reply.body.issues).toEqual([{ path, message }])
      }
    }))

  it.effect("a body over the limit answers 413, with or without Content-Length", () =>
    Effect.gen(function* () {
      const big = { kind: "k", title: "t", body: "x".repeat(10_000) }
      const reply = yield* call("POST", "/v1/notifications", { body: big })
      expect(reply.status).toBe(413)
      expect(reply.body).toMatchObject({ code: "PayloadTooLarge", limitBytes: 4_096 })
      // A chunked body has no Content-Length: reading stops at the limit and the connection is
      // dropped (the platform destroys the request stream), so nothing is buffered or written.
      const text = JSON.stringify({ ...big, kind: "chunked" })
      const chunked = yield* Effect.either(postChunked("/v1/notifications", [text.slice(0, 3_000), text.slice(3_000)]))
      expect(chunked._tag === "Left" || chunked.right.status === 413).toBe(true)
      expect((yield* call("GET", "/v1/notifications?kind=chunked")).body.items).toEqual([])
      const small = yield* postChunked("/v1/notifications", ['{"kind":"chunked",', '"title":"fits"}'])
      expect(small.status).toBe(201)
    }))

  it.effect("a body that is not JSON answers 415, with or without Content-Length, and creates nothing", () =>
    Effect.gen(function* () {
      const form = "--b\r\ncontent-disposition: form-data; name=\"kind\"\r\n\r\nform\r\n--b\r\ncontent-disposition: form-data; name=\"title\"\r\n\r\nt\r\n--b--\r\n"
      const sized = yield* call("POST", "/v1/notifications", { raw: form, headers: { "content-type": "multipart/form-data; boundary=b" } })
      expect(sized.status).toBe(415)
      const chunked = yield* postChunked("/v1/notifications", [form.slice(0, 40), form.slice(40)], "multipart/form-data; boundary=b")
      expect(chunked.status).toBe(415)
      expect(JSON.parse(chunked.body)).toMatchObject({ code: "UnsupportedMediaType" })
      expect((yield* call("GET", "/v1/notifications?kind=form")).body.items).toEqual([])
    }))

  it.effect("a request without a valid token answers 401 with a Bearer challenge", () =>
    Effect.gen(function* () {
      for (const auth of [false, "wrong-token-0123456789"] as const) {
        const reply = yield* call("GET", "/v1/stats", { auth })
        expect(reply.status).toBe(401)
        expect(reply.headers.get("www-authenticate")).toContain("Bearer")
        expect(reply.body).toMatchObject({ status: 401, code: "Unauthorized" })
      }
      for (const path of ["/metrics", "/v1/events", "/v1/settings", "/v1/deliveries"]) {
        expect((yield* call("GET", path, { auth: false })).status).toBe(401)
      }
    }))

  it.effect("the token is checked before the body: without one a body of any type or depth is 401, with one a non-JSON body is 415", () =>
    Effect.gen(function* () {
      const form = { raw: "kind=unread&title=t", headers: { "content-type": "application/x-www-form-urlencoded" } }
      const deep = { raw: "[".repeat(2_000) + "]".repeat(2_000), headers: { "content-type": "application/json" } }
      for (const [method, path] of [["POST", "/v1/notifications"], ["PUT", "/v1/settings"], ["POST", "/v1/sinks/desk/claim"]] as const) {
        for (const body of [form, deep]) {
          for (const auth of [false, "wrong-token-0123456789"] as const) {
            const reply = yield* call(method, path, { ...body, auth })
            expect(reply.status).toBe(401)
            expect(reply.body).toMatchObject({ code: "Unauthorized" })
          }
        }
        const typed = yield* call(method, path, form)
        expect(typed.status).toBe(415)
        expect(typed.headers.get("content-type")).toContain("application/problem+json")
        expect(typed.body).toMatchObject({ status: 415, code: "UnsupportedMediaType" })
      }
      expect((yield* call("GET", "/v1/notifications?kind=unread")).body.items).toEqual([])
    }))

  it.effect("an empty multipart body answers 415 at once instead of waiting for ever for its parts", () =>
    Effect.gen(function* () {
      const reply = yield* call("POST", "/v1/notifications", { raw: "", headers: { "content-type": "multipart/form-data; boundary=x" } }).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no answer within 5 s") }))
      expect(reply.status).toBe(415)
      expect(reply.body).toMatchObject({ code: "UnsupportedMediaType" })
    }))

  it.effect("what Node's parser refuses (headers over 16 KiB) answers problem+json like every other 4xx", () =>
    Effect.gen(function* () {
      const reply = yield* call("GET", "/v1/stats", { auth: "t".repeat(20_000) })
      expect(reply.status).toBe(431)
      expect(reply.headers.get("content-type")).toBe("application/problem+json")
      expect(reply.body).toMatchObject({ status: 431, code: "HeadersTooLarge", type: "urn:herald:problem:headers-too-large" })
    }))

  it.effect("/healthz and /readyz need no token; /readyz reports the migration", () =>
    Effect.gen(function* () {
      const health = yield* call("GET", "/healthz", { auth: false })
      expect(health).toMatchObject({ status: 200, body: { status: "ok" } })
      const ready = yield* call("GET", "/readyz", { auth: false })
      expect(ready.status).toBe(200)
      expect(ready.body).toMatchObject({ status: "ready", migration: readMigrations().at(-1)!.id })
    }))

  it.effect("input the database would refuse answers 400 at its field, never a 503 to retry, and writes nothing", () =>
    Effect.gen(function* () {
      let payload = "1"
      for (let i = 0; i < 65; i++) payload = `{"a":${payload}}`
      const cases: ReadonlyArray<readonly [string, string]> = [
        ['{"kind":"\\u0000","title":"refused"}', "kind"],
        ['{"kind":"refused","title":"a\\u0000b"}', "title"],
        ['{"kind":"refused","title":"refused","dedupeKey":"a\\ud800"}', "dedupeKey"],
        [`{"kind":"refused","title":"refused","payload":${payload}}`, "payload"]
      ]
      for (const [raw, path] of cases) {
        const reply = yield* call("POST", "/v1/notifications", { raw, headers: { "content-type": "application/json" } })
        expect(reply.status).toBe(400)
        expect(reply.headers.get("retry-after")).toBeNull()
        expect(reply.body).toMatchObject({ code: "InvalidInput", path })
      }
      const all = (yield* call("GET", "/v1/notifications?limit=1000")).body.items as ReadonlyArray<{ kind: string; title: string }>
      expect(all.filter((n) => n.kind === "refused" || n.title === "refused")).toEqual([])
    }))

  it.effect("a body nested deeper than 100 levels answers 400 on every JSON endpoint; at 100 it is read", () =>
    Effect.gen(function* () {
      const json = { "content-type": "application/json" }
      const endpoints = [
        ["POST", "/v1/notifications"], ["PUT", "/v1/settings"], ["POST", "/v1/deliveries/requeue"],
        ["POST", "/v1/sinks/desk/claim"], ["POST", "/v1/deliveries/dlv_x/ack"], ["POST", "/v1/deliveries/dlv_x/nack"],
        ["POST", "/v1/deliveries/dlv_x/cancel"]
      ] as const
      // This server's body limit is 4 KiB: 2,000 levels fit (the edge test goes deeper).
      for (const levels of [101, 2_000]) {
        for (const [method, path] of endpoints) {
          const reply = yield* call(method, path, { raw: "[".repeat(levels) + "]".repeat(levels), headers: json })
          expect(reply.status).toBe(400)
          expect(reply.body).toMatchObject({ code: "InvalidInput", detail: expect.stringContaining("deeper than 100 levels") })
        }
      }
      // 100 levels: the body is read, and the payload (99 of them) is refused at its field.
      let payload = "1"
      for (let i = 0; i < 99; i++) payload = `{"a":${payload}}`
      const atBound = yield* call("POST", "/v1/notifications", { raw: `{"kind":"k","title":"t","payload":${payload}}`, headers: json })
      expect(atBound.status).toBe(400)
      expect(atBound.body).toMatchObject({ path: "payload", detail: expect.stringContaining("deeper than 64 levels") })
    }))

  it.effect("unknown notifications and routes answer 404 problems", () =>
    Effect.gen(function* () {
      const missing = yield* call("GET", "/v1/notifications/ntf_missing")
      expect(missing.status).toBe(404)
      expect(missing.body).toMatchObject({ code: "NotificationNotFound", notificationId: "ntf_missing" })
      const route = yield* call("GET", "/v1/nothing-here")
      expect(route.status).toBe(404)
      expect(route.body.code).toBe("NotFound")
    }))

  it.effect("the list filters and pages with a cursor, newest first, without overlap", () =>
    Effect.gen(function* () {
      for (let i = 0; i < 5; i++) {
        yield* call("POST", "/v1/notifications", { body: { kind: "paged", title: `n${i}`, projectId: i % 2 === 0 ? "even" : "odd" } })
      }
      const first = yield* call("GET", "/v1/notifications?kind=paged&limit=2")
      const second = yield* call("GET", `/v1/notifications?kind=paged&limit=2&after=${first.body.next}`)
      const third = yield* call("GET", `/v1/notifications?kind=paged&limit=2&after=${second.body.next}`)
      const titles = [...first.body.items, ...second.body.items, ...third.body.items].map((n: { title: string }) => n.title)
      expect(titles).toEqual(["n4", "n3", "n2", "n1", "n0"])
      expect(third.body.next).toBeNull()
      const even = yield* call("GET", "/v1/notifications?kind=paged&project=even")
      expect(even.body.items).toHaveLength(3)
      const tooMany = yield* call("GET", "/v1/notifications?limit=100000")
      expect(tooMany.status).toBe(400)
      expect(tooMany.body.path).toBe("limit")
    }))

  it.effect("the OpenAPI document and an offline docs page are served", () =>
    Effect.gen(function* () {
      const spec = yield* call("GET", "/openapi.json", { auth: false })
      expect(spec.status).toBe(200)
      expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(["/v1/notifications", "/v1/deliveries/{id}/requeue", "/v1/events", "/metrics"]))
      const docs = yield* call("GET", "/docs", { auth: false })
      expect(docs.status).toBe(200)
      // Works offline: no script or stylesheet is loaded from another host.
      expect(docs.body).not.toMatch(/<(script|link)[^>]+(src|href)=["']https?:/i)
      const dashboard = yield* call("GET", "/", { auth: false })
      expect(dashboard.body).toContain("#token=")
    }))
})
