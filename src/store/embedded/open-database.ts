/**
 * Turns better-sqlite3's native binding failing to load into an error that says how to fix it.
 *
 * better-sqlite3 loads its compiled addon on the first `new Database()`, not at import. The addon
 * is missing when its install script never ran (npm 12 skips dependency install scripts that the
 * consuming app's package.json does not allow; `--ignore-scripts` does the same), and it refuses
 * to load when it was built for another Node.js version or platform. Either way the raw error
 * ("Could not locate the bindings file", "NODE_MODULE_VERSION …") names no command and no
 * alternative, so it is replaced by AUDITQ_EMBEDDED_UNAVAILABLE, with the original as `cause`.
 * sqlite-driver.ts raises it only when node:sqlite cannot stand in either.
 */
import { AuditqError } from '../../errors.js'

/** The command that builds the binding for the Node.js running now (it runs the install script). */
export const REBUILD_COMMAND = 'npm rebuild better-sqlite3'
/** npm 12 runs that script only for packages the app approved; this writes the approval to package.json. */
export const NPM12_APPROVE_COMMAND = 'npm install-scripts approve better-sqlite3'

/** AUDITQ_EMBEDDED_UNAVAILABLE for an error from loading the native binding; undefined for any other error. */
export function embeddedUnavailable(error: unknown, options: { nodeSqlite: boolean }): AuditqError | undefined {
  const reason = bindingFailure(error)
  if (reason === undefined) return undefined
  return new AuditqError(
    'AUDITQ_EMBEDDED_UNAVAILABLE',
    `the embedded store cannot open: ${reason}. ` +
      `Fix: run \`${REBUILD_COMMAND}\` in the application's directory. ` +
      `With npm 12 (which skips dependency install scripts nobody approved) run \`${NPM12_APPROVE_COMMAND}\` first, ` +
      `which adds "allowScripts": {"better-sqlite3": true} to the application's package.json; ` +
      `for a global install, reinstall with \`npm install -g auditq --allow-scripts=better-sqlite3\`. ` +
      // With auto, node:sqlite was tried too: say what would have made it work.
      (options.nodeSqlite
        ? `Or run on Node.js 22.13 or later (this is ${process.version}), whose built-in node:sqlite the embedded store uses when better-sqlite3 will not load. `
        : 'Or set AUDITQ_EMBEDDED_DRIVER=auto to let the embedded store use node:sqlite (Node.js 22.13 or later) instead. ') +
      'Or use PostgreSQL instead of the embedded store: set AUDITQ_DATABASE_URL (SDK: databaseUrl) to a postgres:// URL.',
    { cause: error },
  )
}

/** Why better-sqlite3's binding did not load, for a loader error; undefined for any other error. */
export function bindingFailure(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined
  // Thrown by the `bindings` package when no build/…/better_sqlite3.node exists.
  if (error.message.startsWith('Could not locate the bindings file')) {
    return "better-sqlite3's native binding (build/Release/better_sqlite3.node) is missing: its install script did not run"
  }
  // process.dlopen refused the file: built for another Node.js ABI (NODE_MODULE_VERSION), another
  // platform or architecture, or against a newer C library than this machine has.
  if ((error as NodeJS.ErrnoException).code === 'ERR_DLOPEN_FAILED' || /NODE_MODULE_VERSION/.test(error.message)) {
    const detail = error.message.replace(/\s+/g, ' ').trim().slice(0, 300).replace(/\.$/, '')
    return `better-sqlite3's native binding failed to load into Node.js ${process.version} (${detail})`
  }
  return undefined
}
