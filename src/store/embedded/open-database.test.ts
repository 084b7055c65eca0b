/**
 * What an application sees when better-sqlite3's native binding will not load, proven in a child
 * process against a real copy of better-sqlite3 (the project's own install is never touched): the
 * SDK is compiled into a directory whose own node_modules holds a copy of better-sqlite3 with its
 * binding removed (as npm 12 leaves it when the install script was not approved) or replaced by a
 * shared library that is no Node.js addon for this runtime (as after a Node.js upgrade).
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compileForChild, ROOT, type CompiledModule } from '../../../test/fixtures/child-process.js'

const REAL = path.join(ROOT, 'node_modules', 'better-sqlite3')

// The child prints what createAuditLogger() did with the embedded default, as one JSON line.
const CHILD = `
const { createAuditLogger } = await import(process.argv[1])
try {
  const audit = await createAuditLogger({ dataDir: process.argv[2] })
  await audit.close()
  console.log(JSON.stringify({ opened: true }))
} catch (error) {
  console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message, cause: String(error.cause?.message ?? '') }))
}
`

let compiled: CompiledModule
let copy: string
let dataDir: string

/** Lays better-sqlite3 (package.json and lib/, which is all the runtime reads besides the binding) into the compiled tree. */
function layBetterSqlite(binding: 'real' | 'missing' | 'not-an-addon'): void {
  rmSync(copy, { recursive: true, force: true })
  mkdirSync(copy, { recursive: true })
  copyFileSync(path.join(REAL, 'package.json'), path.join(copy, 'package.json'))
  cpSync(path.join(REAL, 'lib'), path.join(copy, 'lib'), { recursive: true })
  if (binding === 'missing') return
  mkdirSync(path.join(copy, 'build', 'Release'), { recursive: true })
  // SQLite's test extension is a real shared library of this platform that Node.js cannot load as an addon.
  const source = binding === 'real' ? 'better_sqlite3.node' : 'test_extension.node'
  copyFileSync(path.join(REAL, 'build', 'Release', source), path.join(copy, 'build', 'Release', 'better_sqlite3.node'))
}

function openInChild(): { opened?: boolean; name?: string; code?: string; message?: string; cause?: string } {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(compiled.modulePath).href, dataDir], {
    encoding: 'utf8',
    env: { ...process.env, AUDITQ_DATABASE_URL: '' },
    timeout: 60_000,
  })
  const line = result.stdout.trim().split('\n').pop() ?? ''
  if (!line.startsWith('{')) throw new Error(`child printed no result (exit ${result.status}): ${result.stdout}${result.stderr}`)
  return JSON.parse(line)
}

beforeAll(async () => {
  compiled = await compileForChild('sdk/audit-logger')
  // Resolution from <out>/sdk/audit-logger.js finds <out>/node_modules before the project's own.
  copy = path.join(path.dirname(path.dirname(compiled.modulePath)), 'node_modules', 'better-sqlite3')
  dataDir = mkdtempSync(path.join(tmpdir(), 'auditq-binding-'))
}, 180_000)

afterAll(async () => {
  await compiled?.remove()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

describe('opening the embedded store when better-sqlite3 has no loadable native binding', () => {
  it('opens normally from the same copy while its binding is in place (the harness itself is sound)', () => {
    layBetterSqlite('real')
    expect(openInChild()).toEqual({ opened: true })
  })

  it('createAuditLogger() throws AUDITQ_EMBEDDED_UNAVAILABLE naming the fix when the binding is missing (install script skipped)', () => {
    layBetterSqlite('missing')
    const outcome = openInChild()
    expect(outcome).toMatchObject({ name: 'AuditqError', code: 'AUDITQ_EMBEDDED_UNAVAILABLE' })
    expect(outcome.message).toContain('`npm rebuild better-sqlite3`')
    expect(outcome.message).toContain('`npm install-scripts approve better-sqlite3`')
    expect(outcome.message).toContain('AUDITQ_DATABASE_URL')
    expect(outcome.message).toContain('is missing')
    // This Node.js has no node:sqlite to fall back to: upgrading is named as a way out too.
    expect(outcome.message).toContain('Or run on Node.js 22.13 or later')
    // The raw loader error is kept as the cause, for whoever needs the paths it tried.
    expect(outcome.cause).toMatch(/^Could not locate the bindings file/)
  })

  it('throws AUDITQ_EMBEDDED_UNAVAILABLE naming the fix when the binding will not load into this Node.js', () => {
    layBetterSqlite('not-an-addon')
    const outcome = openInChild()
    expect(outcome).toMatchObject({ name: 'AuditqError', code: 'AUDITQ_EMBEDDED_UNAVAILABLE' })
    expect(outcome.message).toContain('`npm rebuild better-sqlite3`')
    expect(outcome.message).toContain(`failed to load into Node.js ${process.version}`)
  })
})
