// `npm test` runs the dashboard in a real headless Chromium (test/browser). Browsers cannot be
// downloaded by npm here, so this uses the system's: HERALD_CHROMIUM, else /usr/bin/chromium,
// installing Debian's `chromium` package first when it is missing and apt-get can run.
import { execSync } from "node:child_process"
import { existsSync } from "node:fs"

const wanted = process.env.HERALD_CHROMIUM ?? "/usr/bin/chromium"
if (existsSync(wanted)) process.exit(0)
if (process.env.HERALD_CHROMIUM !== undefined) {
  console.error(`herald: HERALD_CHROMIUM=${wanted} does not exist; point it at a Chromium or Chrome binary`)
  process.exit(1)
}
const canInstall = existsSync("/usr/bin/apt-get") && process.getuid?.() === 0
if (!canInstall) {
  console.error(
    "herald: the browser tests need Chromium at /usr/bin/chromium. Install it (Debian/Ubuntu: " +
    "`sudo apt-get install chromium`) or set HERALD_CHROMIUM to a Chromium or Chrome binary, then run `npm test` again."
  )
  process.exit(1)
}
console.error("herald: installing Debian's chromium for the browser tests (apt-get, about a minute) ...")
// A fresh VM may hold the dpkg lock for a while (unattended upgrades): wait for it.
const apt = (args) => execSync(`apt-get -o DPkg::Lock::Timeout=180 ${args}`, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } })
try {
  apt("install -y chromium")
} catch {
  console.error("herald: apt-get could not install chromium from its cached lists; updating them and trying again ...")
  apt("update")
  apt("install -y chromium")
}
