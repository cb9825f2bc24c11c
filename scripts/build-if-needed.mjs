// `npm start` builds first when dist/ is missing or older than src/ or migrations/.
import { execSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const newest = (dir) => {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}
const built = existsSync("dist/main.js") ? statSync("dist/main.js").mtimeMs : 0
if (built === 0 || newest("src") > built) {
  console.error("herald: building dist/ (npm run build) ...")
  // The build's output goes to stderr: stdout is the command's own (`$(npm start --silent -- token)`).
  execSync("npm run build", { stdio: ["ignore", 2, 2] })
}
