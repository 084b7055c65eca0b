// Makes sure a file holds a working API key, creating one with `auditq keys create` when the file
// is missing or its key no longer exists (a new database, a revoked key). Run once before the
// service starts: a service on a non-loopback address refuses to run while no key exists, and
// Prometheus needs a key with the admin scope to scrape /metrics.
//
//   node deploy/ensure-key.mjs --file <path> --tenant <t> --scopes <s> [--name <label>]
//
// The CLI is the one beside this script (dist/cli/index.js) and reads the same AUDITQ_* settings.
import { execFileSync } from 'node:child_process'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: { file: { type: 'string' }, tenant: { type: 'string' }, scopes: { type: 'string' }, name: { type: 'string' } },
})
for (const required of ['file', 'tenant', 'scopes']) {
  if (!values[required]) {
    console.error(`ensure-key: --${required} is required`)
    process.exit(2)
  }
}

const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'index.js')
const cli = (args) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })

/** The key id inside `aq_<id>_<secret>`, or undefined when the file is missing or malformed. */
function keyIdInFile(file) {
  try {
    return /^aq_([0-9a-f]{16})_/.exec(readFileSync(file, 'utf8').trim())?.[1]
  } catch {
    return undefined
  }
}

const existing = keyIdInFile(values.file)
const active = existing !== undefined && JSON.parse(cli(['keys', 'list', '--json'])).some((key) => key.id === existing && key.revoked_at === null)
if (active) {
  console.error(`ensure-key: ${values.file} holds active key ${existing}; nothing to do`)
} else {
  const key = cli(['keys', 'create', '--tenant', values.tenant, '--scopes', values.scopes, ...(values.name ? ['--name', values.name] : [])]).trim()
  // Written beside the target and renamed, so a reader never sees half a key. Mode 0644: the
  // reader (Prometheus) runs as another user; the volume holding it is mounted only where needed.
  const partial = join(dirname(values.file), `.${process.pid}.partial`)
  writeFileSync(partial, key, { mode: 0o644 })
  renameSync(partial, values.file)
  console.error(`ensure-key: wrote a new ${values.scopes} key for tenant ${values.tenant} to ${values.file}${existing ? ` (key ${existing} there was not active)` : ''}`)
}
