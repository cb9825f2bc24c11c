/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core): the token
 * moves from the URL fragment into sessionStorage, stats load, and changes arrive live.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { chromium, type Browser, type Page } from "playwright-core"
import { Herald } from "../../src/layers/Herald.js"
import { TestServer, testServer, token, useDesktopSink } from "../http/support.js"

// As the machine's probe starts it: no sandbox (root), and none of Chromium's own network calls,
// which this machine's closed network refuses.
const launch = Effect.acquireRelease(
  Effect.promise(() =>
    chromium.launch({
      executablePath: process.env["HERALD_CHROMIUM"] ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    })),
  (browser) => Effect.promise(() => browser.close())
)

const open = (browser: Browser, path: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const page = await browser.newPage()
      await page.goto(path)
      return page
    }),
    (page) => Effect.promise(() => page.close())
  )

const text = (page: Page, selector: string) => Effect.promise(() => page.locator(selector).innerText())
const waitFor = (page: Page, fn: string, arg?: unknown) =>
  Effect.promise(() => page.waitForFunction(fn, arg, { timeout: 15_000 }))

layer(testServer(), { excludeTestServices: true })("dashboard (Chromium)", (it) => {
  it.scoped("takes the token from the fragment, hides it from the URL, shows stats and live changes", () =>
    Effect.gen(function* () {
      const { url } = yield* TestServer
      const herald = yield* Herald
      yield* useDesktopSink
      yield* herald.enqueue({ kind: "before", title: "already there" })
      const browser = yield* launch
      const page = yield* open(browser, `${url}/#token=${token}`)
      // The fragment is gone from the address bar and history; the token is kept for the tab.
      expect(page.url()).toBe(`${url}/`)
      expect(yield* Effect.promise(() => page.evaluate(`sessionStorage.getItem("herald.token")`))).toBe(token)
      // Stats come from /v1/stats with the token: the pending delivery is counted.
      yield* waitFor(page, `document.getElementById("stats").textContent.includes('"pending"')`)
      expect(JSON.parse(yield* text(page, "#stats"))).toMatchObject({ byStatus: { pending: 1 } })
      // A change made now reaches the page over the feed, tagged with its entity and event.
      const { notification } = yield* herald.enqueue({ kind: "live", title: "arrives live" })
      yield* waitFor(page, `[...document.querySelectorAll("#events li")].some((li) => li.textContent.includes(${JSON.stringify(notification.id)}))`)
      const line = (yield* text(page, "#events")).split("\n").find((l) => l.includes(notification.id))!
      expect(line).toMatch(/notification\s+\S+\s+created/)
      // The stats catch up with the change that just arrived.
      yield* waitFor(page, `JSON.parse(document.getElementById("stats").textContent).byStatus.pending === 2`)
      // A reload keeps working from sessionStorage, with no token in the URL.
      yield* Effect.promise(() => page.reload())
      yield* waitFor(page, `document.getElementById("stats").textContent.includes('"pending"')`)
      expect(yield* text(page, "#auth")).toBe("")
    }))

  it.scoped("without a token it says where to get one, and calls nothing", () =>
    Effect.gen(function* () {
      const { url } = yield* TestServer
      const browser = yield* launch
      const requests: Array<string> = []
      const page = yield* Effect.promise(() => browser.newPage())
      page.on("request", (r) => requests.push(new URL(r.url()).pathname))
      yield* Effect.promise(() => page.goto(`${url}/`))
      expect(yield* text(page, "#auth")).toContain("#token=")
      expect(requests.filter((p) => p.startsWith("/v1/"))).toEqual([])
    }))

  it.scoped("a wrong token shows the API's own error instead of stats", () =>
    Effect.gen(function* () {
      const { url } = yield* TestServer
      const browser = yield* launch
      const page = yield* open(browser, `${url}/#token=not-the-token`)
      yield* waitFor(page, `document.getElementById("stats").textContent !== "…"`)
      const stats = yield* text(page, "#stats")
      expect(stats).not.toContain("byStatus")
      expect(stats.toLowerCase()).toContain("token")
    }))
})
