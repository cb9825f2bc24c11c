/**
 * Where a log sink may write: a file inside the directory HERALD_LOG_DIR names, once `..` and
 * symbolic links are resolved. Anyone with the API token edits sinks; without this rule a log
 * sink could append to any file the daemon can write (as root: any file). Writing is log.ts's.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** The real file to append to, or why the path is refused. */
export type LogPath = { readonly file: string } | { readonly refused: string }

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code

/**
 * Resolves `requested` (relative paths against the log directory) to the real file it would
 * write. A file that does not exist yet is checked through its directory; a link that leads
 * nowhere is refused, since writing would create its target wherever it points.
 */
export const resolveLogPath = (logDir: string | undefined, requested: string): LogPath => {
  if (logDir === undefined) {
    return { refused: "log sinks write to stdout only: set HERALD_LOG_DIR to a directory to allow log files in it" }
  }
  let dir: string
  try {
    dir = fs.realpathSync(path.resolve(logDir))
    if (!fs.statSync(dir).isDirectory()) return { refused: `HERALD_LOG_DIR (${logDir}) is not a directory` }
  } catch {
    return { refused: `HERALD_LOG_DIR (${logDir}) does not exist` }
  }
  const outside = { refused: `must be a file inside HERALD_LOG_DIR (${logDir})` }
  const target = path.resolve(dir, requested)
  let file: string
  try {
    file = fs.realpathSync(target)
  } catch (e) {
    if (errno(e) !== "ENOENT") return outside
    try {
      fs.lstatSync(target)
      return { refused: "is a symbolic link to a file that does not exist" }
    } catch {
      // Nothing there yet: its directory decides.
    }
    try {
      file = path.join(fs.realpathSync(path.dirname(target)), path.basename(target))
    } catch {
      return { refused: "its directory does not exist" }
    }
  }
  const relative = path.relative(dir, file)
  if (relative === "" || relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return outside
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) return { refused: "is a directory" }
  return { file }
}

/** Issues for the log files of a settings document's sinks (path `sinks.<name>.path`). */
export const logPathIssues = (
  logDir: string | undefined,
  sinks: Readonly<Record<string, { readonly type: string; readonly path?: string | undefined }>>
) =>
  Object.entries(sinks).flatMap(([name, sink]) => {
    if (sink.type !== "log" || sink.path === undefined) return []
    const resolved = resolveLogPath(logDir, sink.path)
    return "refused" in resolved ? [{ path: `sinks.${name}.path`, message: resolved.refused }] : []
  })
