/**
 * Requests Node's HTTP parser refuses before any handler sees them (headers over 16 KiB,
 * malformed request lines, a request that took too long to arrive) answered as problem+json
 * like every other 4xx, instead of Node's bare status line.
 */
import { STATUS_CODES, type Server } from "node:http"
import type { Duplex } from "node:stream"
import { problemBody, problemContentType } from "./Problem.js"

const answerOf = (code: string | undefined) => {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, title: "Request headers too large", code: "HeadersTooLarge", detail: "the request's headers are larger than the server accepts (16 KiB)" }
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, title: "Request timeout", code: "RequestTimeout", detail: "the request did not arrive in time" }
    default:
      return { status: 400, title: "Bad request", code: "BadRequest", detail: "the request is not valid HTTP/1.1" }
  }
}

/** Makes `server` answer the requests its parser refuses with a problem+json body. */
export const answerClientErrors = (server: Server) =>
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Nothing to answer on a connection already gone (or reset by the client).
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy()
      return
    }
    const answer = answerOf(error.code)
    const body = JSON.stringify(problemBody(answer.status, answer.title, answer.code, answer.detail))
    socket.end(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\ncontent-type: ${problemContentType}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
    )
  })
