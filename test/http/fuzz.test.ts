/**
 * Malformed requests to every endpoint of the live /openapi.json (so a new endpoint is fuzzed
 * as soon as it is declared): wrong types, huge and deeply nested values, invalid JSON and
 * UTF-8, unknown fields, bad ids and query parameters, missing or wrong auth. Never a 5xx,
 * never a hang, a problem+json body on every 4xx, and no row written by a rejected request.
 * FUZZ_RUNS=20000 runs it longer than the suite's 1,500 requests (about ten seconds).
 */
import { expect, layer } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import fc from "fast-check"
import { call, TestServer, testServer, token, useDesktopSink } from "./support.js"

const maxBodyBytes = 65_536

type JsonSchema = {
  readonly $ref?: string
  readonly type?: string
  readonly enum?: ReadonlyArray<unknown>
  readonly anyOf?: ReadonlyArray<JsonSchema>
  readonly oneOf?: ReadonlyArray<JsonSchema>
  readonly properties?: Readonly<Record<string, JsonSchema>>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: boolean | JsonSchema
  readonly patternProperties?: Readonly<Record<string, JsonSchema>>
  readonly items?: JsonSchema
  readonly minimum?: number
  readonly maximum?: number
  readonly maxLength?: number
}
interface Parameter { readonly name: string; readonly in: "path" | "query" | "header"; readonly schema: JsonSchema }
interface Endpoint { readonly method: string; readonly path: string; readonly parameters: ReadonlyArray<Parameter>; readonly body?: JsonSchema }

interface FuzzRequest {
  readonly endpoint: string
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly body?: Uint8Array
  /** Sent as a stream: chunked, with no Content-Length. */
  readonly chunked: boolean
}

const encode = (s: string) => new TextEncoder().encode(s)

const nested = (levels: number, open: string, close: string, leaf = "1") => open.repeat(levels) + leaf + close.repeat(levels)

/** Values that are wrong almost anywhere: other types, text SQLite would refuse, extremes. */
const badValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.constantFrom("", "\u0000", "a\u0000b", "\ud800", "x\udfff", " ", "null", "-1", "1e400", "NaN", "x".repeat(70_000)),
  fc.constantFrom(-1, 0, -0, 1e308, -1e308, 2 ** 53 + 1, 0.5, true, null, [], {}),
  fc.integer({ min: 60, max: 110 }).map((n) => JSON.parse(nested(n, '{"a":', "}")) as unknown)
)

/** A value shaped by `schema`, with bad values and unknown fields mixed in at every level. */
const valueOf = (schema: JsonSchema, components: Record<string, JsonSchema>): fc.Arbitrary<unknown> => {
  const { $ref, ...own } = schema
  const s: JsonSchema = $ref !== undefined ? { ...components[$ref.replace("#/components/schemas/", "")], ...own } : schema
  const good = ((): fc.Arbitrary<unknown> => {
    if (s.enum !== undefined) return fc.constantFrom(...s.enum)
    const alternatives = s.anyOf ?? s.oneOf
    if (alternatives !== undefined) return fc.oneof(...alternatives.map((a) => valueOf(a, components)))
    switch (s.type) {
      case "string":
        return fc.oneof(fc.string({ maxLength: Math.min(s.maxLength ?? 30, 30) }), fc.constantFrom("desk", "stdout", "low", "dead"))
      case "number":
      case "integer":
        return fc.oneof(fc.integer({ min: s.minimum ?? -5, max: s.maximum ?? 5_000 }), fc.double())
      case "boolean":
        return fc.boolean()
      case "null":
        return fc.constant(null)
      case "array":
        return fc.array(valueOf(s.items ?? {}, components), { maxLength: 3 })
      case "object": {
        const properties = s.properties ?? {}
        const known = fc.record(
          Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, valueOf(v, components)])),
          { requiredKeys: (s.required ?? []).filter((k) => k in properties) }
        )
        // Keys of pattern properties (sink names) never name a sink the fuzz can test-send to.
        const patterned = Object.values(s.patternProperties ?? {})[0]
        const extra = patterned !== undefined
          ? fc.dictionary(fc.constantFrom("hook", "mail", "team", "k-1"), valueOf(patterned, components), { maxKeys: 2 })
          : s.additionalProperties !== undefined && s.additionalProperties !== false
            ? fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 })
            : fc.constant({})
        const unknown = fc.option(fc.dictionary(fc.string({ maxLength: 8 }), badValue, { minKeys: 1, maxKeys: 2 }), { freq: 6 })
        return fc.tuple(known, extra, unknown).map(([k, e, u]) => ({ ...e, ...k, ...(u ?? {}) }))
      }
      default:
        return fc.jsonValue({ maxDepth: 3 })
    }
  })()
  return fc.oneof({ weight: 9, arbitrary: good }, { weight: 1, arbitrary: badValue })
}

/** Bodies: schema-shaped JSON, other JSON, too deep, not JSON, not UTF-8, too large, empty. */
const bodyOf = (schema: JsonSchema | undefined, components: Record<string, JsonSchema>): fc.Arbitrary<Uint8Array | undefined> => {
  const shaped = schema === undefined ? fc.jsonValue() : valueOf(schema, components)
  const json = shaped.map((v) => JSON.stringify(v) ?? "null")
  const malformed = fc.oneof(
    { weight: 6, arbitrary: json.map(encode) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => encode(JSON.stringify(v))) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 95, max: 105 }), fc.integer({ min: 2_000, max: 30_000 }), fc.boolean())
      .chain(([near, far, arrays]) => fc.constantFrom(near, far).map((n) => encode(arrays ? nested(n, "[", "]") : nested(n, '{"a":', "}")))) },
    { weight: 1, arbitrary: fc.tuple(json, fc.nat()).map(([t, cut]) => encode(t.slice(0, cut % Math.max(1, t.length)))) },
    { weight: 1, arbitrary: fc.constantFrom("{", "[1,]", "{'a':1}", "\u0000", "NaN", '"\\ud800"', '{"kind":"k"}}', "\ufeff{}").map(encode) },
    { weight: 1, arbitrary: fc.tuple(json, fc.nat(), fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0x00]))
      .map(([t, at, bytes]) => {
        const b = encode(t)
        const i = at % (b.length + 1)
        return new Uint8Array([...b.slice(0, i), ...bytes, ...b.slice(i)])
      }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.integer({ min: maxBodyBytes - 64, max: maxBodyBytes + 4_096 }).map((n) => encode(JSON.stringify({ kind: "k", title: "t", body: "x".repeat(n) }))) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array()) }
  )
  return schema === undefined
    ? fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: malformed })
    : fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 8, arbitrary: malformed })
}

/** Path segments: real ids sometimes (so handlers run past the lookup), mostly not. */
const segmentOf = (seeds: ReadonlyArray<string>) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...seeds).map(encodeURIComponent) },
    { weight: 3, arbitrary: fc.string({ maxLength: 40 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 10 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.constantFrom("%00", "%ff", "%", "%zz", "..", "a%2Fb", "%C0%AF", "x".repeat(5_000), "dlv_", "ntf_") }
  ).filter((s) => s !== "")

const queryValue = (schema: JsonSchema) =>
  fc.oneof(
    schema.enum !== undefined ? fc.constantFrom(...schema.enum.map(String)) : fc.constantFrom("1", "100", "0", "desk"),
    fc.string({ maxLength: 20 }),
    fc.constantFrom("", "-1", "1e400", "NaN", "1.5", "0x10", "x".repeat(3_000), "\u0000", "%ff", "notification,bogus")
  )

/** Auth: mostly the token (so validation is reached), else none, wrong, malformed, huge. */
const authOf = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | undefined>(`Bearer ${token}`) },
  { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, "Bearer", "Bearer ", `Basic ${token}`, `bearer ${token}`, `Bearer ${token}x`, "Bearer wrong-token-0123456789", `Bearer  ${token}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => `Bearer ${"t".repeat(n)}`) }
)

/** A header value fetch will send: Latin-1 without control characters. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 300 }),
  fc.constantFrom("", "1", "-1", "99999999999999999999", "x".repeat(1_000))
)

const requestOf = (base: string, endpoint: Endpoint, components: Record<string, JsonSchema>, seeds: Record<string, ReadonlyArray<string>>): fc.Arbitrary<FuzzRequest> => {
  const pathNames = endpoint.parameters.filter((p) => p.in === "path").map((p) => p.name)
  const segments = fc.tuple(...pathNames.map((n) => segmentOf(seeds[n] ?? ["x"])))
  const query = fc.array(
    fc.oneof(
      { weight: 4, arbitrary: endpoint.parameters.some((p) => p.in === "query")
        ? fc.constantFrom(...endpoint.parameters.filter((p) => p.in === "query")).chain((p) => queryValue(p.schema).map((v) => [p.name, v] as const))
        : fc.constant(["limit", "1"] as const) },
      { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })) }
    ),
    { maxLength: 4 }
  )
  const headers = fc.record({
    auth: authOf,
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant<string | undefined>("application/json") },
      { weight: 2, arbitrary: fc.constantFrom<string | undefined>(undefined, "text/plain", "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x", "application/json; charset=latin1", "APPLICATION/JSON", "application/problem+json", "text/json") }
    ),
    declared: fc.subarray(endpoint.parameters.filter((p) => p.in === "header").map((p) => p.name)).chain((names) =>
      fc.tuple(...names.map((n) => headerValue.map((v) => [n, v] as const))))
  })
  const method = fc.oneof({ weight: 12, arbitrary: fc.constant(endpoint.method) }, { weight: 1, arbitrary: fc.constantFrom("DELETE", "PATCH", "PUT", "POST", "GET") })
  return fc.record({ segments, query, headers, body: bodyOf(endpoint.body, components), method, chunked: fc.boolean() }).map((r) => {
    let path = endpoint.path
    pathNames.forEach((n, i) => { path = path.replace(`{${n}}`, r.segments[i]!) })
    // Some query values are sent raw (a lone %, a %ff), as a client's bug would send them.
    const search = r.query.map(([k, v]) => `${encodeURIComponent(k)}=${v.startsWith("%") ? v : encodeURIComponent(v)}`).join("&")
    const headers: Record<string, string> = Object.fromEntries(r.headers.declared)
    if (r.headers.auth !== undefined) headers["authorization"] = r.headers.auth
    const hasBody = r.body !== undefined && r.method !== "GET"
    if (hasBody && r.headers.contentType !== undefined) headers["content-type"] = r.headers.contentType
    const summary = `${r.method} ${path.slice(0, 120)}${search === "" ? "" : `?${search.slice(0, 120)}`} auth=${(r.headers.auth ?? "none").slice(0, 30)} ` +
      `type=${r.headers.contentType}${r.chunked ? " chunked" : ""} body=${hasBody ? new TextDecoder().decode(r.body!.slice(0, 160)) : "none"}${hasBody && r.body!.length > 160 ? `... (${r.body!.length} bytes)` : ""}`
    return {
      // Counterexamples are printed short: a body may be 64 KiB.
      [fc.toStringMethod]: () => summary,
      endpoint: `${endpoint.method.toUpperCase()} ${endpoint.path}`,
      method: r.method,
      url: `${base}${path}${search === "" ? "" : `?${search}`}`,
      headers,
      chunked: r.chunked,
      ...(hasBody ? { body: r.body! } : {})
    }
  })
}

/** Row counts of every table, and SQLite's commit counter as this connection sees it. */
const snapshotOf = (db: Database.Database) => {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>
  const counts = Object.fromEntries(tables.map(({ name }) => [name, (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]))
  return { counts, dataVersion: db.pragma("data_version", { simple: true }) as number }
}

interface Outcome { readonly status: number; readonly contentType: string; readonly text: string }

const send = async (r: FuzzRequest): Promise<Outcome | { readonly error: unknown }> => {
  try {
    // Node's fetch sends a stream chunked, and needs `duplex` for it (not in the DOM types).
    const body: RequestInit & { duplex?: "half" } = r.body === undefined ? {} : r.chunked
      ? { body: new Blob([r.body]).stream(), duplex: "half" }
      : { body: r.body }
    const response = await fetch(r.url, {
      method: r.method,
      headers: r.headers,
      ...body,
      redirect: "manual",
      // "Never a hang": each request is answered within this, or the property fails.
      signal: AbortSignal.timeout(10_000)
    })
    const contentType = response.headers.get("content-type") ?? ""
    // A change feed answers 200 and streams for ever: its headers are the answer.
    if (contentType.includes("text/event-stream")) {
      await response.body?.cancel()
      return { status: response.status, contentType, text: "" }
    }
    return { status: response.status, contentType, text: await response.text() }
  } catch (error) {
    return { error }
  }
}

// No background fibers: every commit is then a request's own, so a refused request that
// wrote anything shows in the row counts and SQLite's data_version.
layer(testServer({ maxBodyBytes }, { background: false }), { excludeTestServices: true })("HTTP fuzz", (it) => {
  it.scoped("malformed requests to every endpoint of /openapi.json: never a 5xx or a hang, problem+json on every 4xx, and nothing written when refused", () =>
    Effect.gen(function* () {
      const { url, database } = yield* TestServer
      // Something to find: a pull sink with deliveries, so real ids reach the handlers.
      yield* useDesktopSink
      const created = yield* Effect.forEach([1, 2, 3], (i) => call("POST", "/v1/notifications", { body: { kind: "seed", title: `seed ${i}` } }))
      const notificationIds = created.map((r) => r.body.notification.id as string)
      const deliveries = (yield* call("GET", "/v1/deliveries")).body.items as ReadonlyArray<{ id: string }>
      const seeds = { id: [...notificationIds, ...deliveries.map((d) => d.id)], sink: ["desk", "stdout"], name: ["desk", "stdout", "nope"] }

      const spec = (yield* call("GET", "/openapi.json", { auth: false })).body as {
        paths: Record<string, Record<string, { parameters?: Array<Parameter>; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>>
        components: { schemas: Record<string, JsonSchema> }
      }
      const endpoints: Array<Endpoint> = Object.entries(spec.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          parameters: op.parameters ?? [],
          ...(op.requestBody !== undefined ? { body: op.requestBody.content["application/json"]!.schema } : {})
        })))
      expect(endpoints.length).toBeGreaterThanOrEqual(19)

      // Not left to chance: every endpoint that takes a request body refuses one that is not JSON (a group that forgot
      // the JsonBody middleware hands a multipart body to the platform's parser: a 500).
      for (const e of endpoints.filter((x) => x.method !== "GET")) {
        const path = e.path.replace(/\{[^}]+\}/g, (p) => (p === "{name}" || p === "{sink}" ? "desk" : notificationIds[0]!))
        const r = yield* Effect.promise(() => fetch(`${url}${path}`, {
          method: e.method,
          headers: { authorization: `Bearer ${token}`, "content-type": "multipart/form-data; boundary=x" },
          body: "--x--",
          signal: AbortSignal.timeout(10_000)
        }).then(async (res) => ({ status: res.status, text: await res.text() })))
        expect(r.status, `${e.method} ${path} with a multipart body -> ${r.status} ${r.text.slice(0, 200)}`).toBe(415)
      }

      const db = new Database(database, { readonly: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
      const seen = new Map<string, Set<number>>()
      const request = fc.constantFrom(...endpoints).chain((e) => requestOf(url, e, spec.components.schemas, seeds))

      yield* Effect.promise(() => fc.assert(
        fc.asyncProperty(request, async (r) => {
          const before = snapshotOf(db)
          const outcome = await send(r)
          if ("error" in outcome) {
            // The server may close the connection on a body over the limit before it is all sent.
            const cause = (outcome.error as { name?: string }).name
            expect(cause, `${r.method} ${r.url}: no answer (${String(outcome.error)})`).not.toBe("TimeoutError")
            expect((r.body?.length ?? 0) > maxBodyBytes, `${r.method} ${r.url}: connection failed: ${String(outcome.error)}`).toBe(true)
            return
          }
          const where = `${r.method} ${r.url.slice(0, 200)} -> ${outcome.status} ${outcome.text.slice(0, 300)}`
          ;(seen.get(r.endpoint) ?? seen.set(r.endpoint, new Set()).get(r.endpoint)!).add(outcome.status)
          expect(outcome.status, where).toBeLessThan(500)
          if (outcome.status >= 400) {
            expect(outcome.contentType, where).toContain("application/problem+json")
            const problem = JSON.parse(outcome.text) as Record<string, unknown>
            expect(problem, where).toMatchObject({ status: outcome.status, type: expect.any(String), title: expect.any(String), detail: expect.any(String), code: expect.any(String) })
          }
          if (outcome.status < 200 || outcome.status >= 300) expect(snapshotOf(db), where).toEqual(before)
        }),
        { numRuns: Number(process.env["FUZZ_RUNS"] ?? 1_500), endOnFailure: true }
      ))

      // Every endpoint was reached, and past authentication.
      const names = endpoints.map((e) => `${e.method} ${e.path}`).sort()
      expect([...seen.keys()].sort()).toEqual(names)
      expect(names.filter((n) => ![...seen.get(n)!].some((status) => status !== 401 && status !== 431))).toEqual([])
    }), 120_000)
})
