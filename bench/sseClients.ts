/**
 * The client side of the change-feed benchmark, in a process of its own so its CPU and
 * memory are not the daemon's: SSE clients and the enqueue load. Forked with
 * `url token count mode`: `stalled` clients send the request, read the response head and
 * then never read again (their kernel buffers fill, then the daemon's socket); `reading`
 * clients read everything and count the frames. Driven over IPC.
 */
import { createRequire } from "node:module"
import * as http from "node:http"
import * as net from "node:net"
import type { AutocannonResult } from "./http.js"

const autocannon = createRequire(import.meta.url)("autocannon") as (options: Record<string, unknown>) => Promise<AutocannonResult>
const [url, token, countText, mode] = process.argv.slice(2) as [string, string, string, "none" | "stalled" | "reading"]
const { hostname, port } = new URL(url)
const count = mode === "none" ? 0 : Number(countText)
let frames = 0
let ended = 0
const sockets: Array<net.Socket> = []

const openStalled = () =>
  new Promise<void>((ready) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`GET /v1/events HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\n\r\n`)
      socket.once("data", () => {
        socket.pause()
        ready()
      })
    })
    socket.on("error", () => {})
    socket.on("close", () => ended++)
    sockets.push(socket)
  })

const openReading = () =>
  new Promise<void>((ready) => {
    const request = http.get(`${url}/v1/events`, { headers: { authorization: `Bearer ${token}` }, agent: false }, (response) => {
      response.setEncoding("utf8")
      response.on("data", (text: string) => {
        for (let i = text.indexOf("\n\n"); i >= 0; i = text.indexOf("\n\n", i + 2)) frames++
      })
      response.on("end", () => ended++)
      response.on("error", () => {})
      ready()
    })
    request.on("error", () => {})
    request.on("socket", (s) => sockets.push(s))
  })

const body = JSON.stringify({ kind: "bench", title: "Build finished", priority: "normal", payload: { build: 42 } })

const main = async () => {
  for (let i = 0; i < count; i++) await (mode === "stalled" ? openStalled() : openReading())
  process.send!({ type: "ready" })
  process.on("message", async (m: { type: "load"; connections: number; durationSeconds: number } | { type: "stop" }) => {
    if (m.type === "load") {
      const result = await autocannon({
        url: `${url}/v1/notifications`,
        method: "POST",
        connections: m.connections,
        duration: m.durationSeconds,
        // Its own thread: the readers' event loop must not hold back the load.
        workers: 1,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body
      })
      process.send!({ type: "result", result, frames, ended })
    } else {
      for (const s of sockets) s.destroy()
      process.exit(0)
    }
  })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
