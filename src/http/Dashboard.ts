/**
 * A minimal dashboard at `/`: stats and the live change feed, read with `fetch` (EventSource
 * cannot send the bearer token). The token arrives in the `#token=` fragment, which never
 * reaches a server log, and is kept in sessionStorage. The full dashboard belongs to src/web.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Herald</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
pre{background:#f5f5f5;padding:.75rem;overflow:auto}
li{font:12px ui-monospace,monospace;white-space:nowrap}
.err{color:#b00}
</style></head>
<body>
<h1>Herald</h1>
<p><a href="/docs">API docs</a> · <a href="/openapi.json">openapi.json</a></p>
<p id="auth"></p>
<h2>Stats</h2><pre id="stats">…</pre>
<h2>Live changes</h2><ol id="events" reversed></ol>
<script>
"use strict";
const key = "herald.token";
const m = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
if (m) { sessionStorage.setItem(key, decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
const token = sessionStorage.getItem(key);
const auth = document.getElementById("auth");
if (!token) { auth.className = "err"; auth.textContent = "No token: open the link that \`npm start\` printed (it ends in #token=...)."; }
const headers = { authorization: "Bearer " + token };
async function refresh() {
  const r = await fetch("/v1/stats", { headers });
  document.getElementById("stats").textContent = r.ok ? JSON.stringify(await r.json(), null, 2) : (await r.json()).detail;
}
// Stats are counted over every delivery: at most one refresh a second however fast changes
// arrive, and always one after the last of a burst.
let refreshing = null, again = false;
function refreshSoon() {
  if (refreshing) { again = true; return; }
  refreshing = refresh().catch(() => {}).then(() => new Promise((resolve) => setTimeout(resolve, 1000))).then(() => {
    refreshing = null;
    if (again) { again = false; refreshSoon(); }
  });
}
function show(data) {
  const list = document.getElementById("events");
  const li = document.createElement("li");
  const e = JSON.parse(data);
  li.textContent = [e.seq, e.entity, e.entityId, e.event].join("  ");
  list.prepend(li);
  while (list.children.length > 100) list.lastChild.remove();
}
async function follow() {
  let last = null;
  for (;;) {
    try {
      const h = Object.assign({}, headers, last === null ? {} : { "last-event-id": last });
      const r = await fetch("/v1/events", { headers: h });
      if (!r.ok) throw new Error((await r.json()).detail);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\\n\\n")) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          const id = /^id: (.*)$/m.exec(block), data = /^data: (.*)$/m.exec(block), ev = /^event: (.*)$/m.exec(block);
          if (id) last = id[1];
          if (data && ev && ev[1] === "change") { show(data[1]); refreshSoon(); }
        }
      }
    } catch (e) { auth.className = "err"; auth.textContent = String(e.message || e); }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
if (token) { refresh(); follow(); }
</script>
</body></html>`

export const DashboardLive = HttpApiBuilder.Router.use((router) =>
  router.get("/", Effect.succeed(HttpServerResponse.html(page))))
