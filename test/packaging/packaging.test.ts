/**
 * The package as an application meets it: `npm pack` of this checkout, installed from the tarball
 * into fresh `npm init`-style (CommonJS) apps with npm 12, which skips install scripts nobody
 * approved, so better-sqlite3's native binding is never built.
 *
 * - On Node.js 20 (no node:sqlite): ESM import and CommonJS require of both entry points, types
 *   that compile with `skipLibCheck: false`, and the embedded default's catalogued error naming
 *   its fix. Applying that fix compiles better-sqlite3 from source, which takes minutes (see
 *   docs/decisions.md), so that part runs only with AUDITQ_TEST_PACKAGE_FULL=1
 *   (`npm run test:package:full`).
 * - On Node.js 22 (test/support/node22.ts), npm 12 running there too: works out of the box
 *   through node:sqlite, no approval, no rebuild: `createAuditLogger()` logs an event and the
 *   installed CLI's `query` shows it.
 *
 * Needs the npm registry (npx fetches npm 12 and the package's dependencies); `pretest` has built
 * dist/. AUDITQ_TEST_SKIP_PACKAGING=1 skips it on a machine with no registry access.
 */
import { execFile, type ExecFileOptions } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../fixtures/child-process.js'
import { NODE22_VERSION, node22OrSkip } from '../support/node22.js'

const run = promisify(execFile)
const TSC = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc')
const NPM12 = ['-y', 'npm@12']
const skip = process.env.AUDITQ_TEST_SKIP_PACKAGING === '1'
if (skip) console.warn('packaging test skipped: AUDITQ_TEST_SKIP_PACKAGING=1')
const full = process.env.AUDITQ_TEST_PACKAGE_FULL === '1'
const node22 = skip ? undefined : await node22OrSkip('packaging test on Node.js 22')
/** Runs npx (hence npm 12, its scripts and node-gyp) on Node.js 22: npm 12 supports only ^22.22 || ^24.15 || >=26. */
const ON_NODE22 = node22 ? { PATH: `${path.dirname(node22)}${path.delimiter}${process.env.PATH ?? ''}` } : {}
/** The app's own settings only: the embedded default, no Redis, whatever the outer run has set. */
const APP_ENV = { AUDITQ_DATABASE_URL: '', AUDITQ_REDIS_URL: '', AUDITQ_EMBEDDED_DRIVER: '' }
const EVENT = "{ action: 'invoice.paid', actor_id: 'billing-bot', resource_type: 'invoice', resource_id: 'inv-42' }"

let work: string
let tarball: string
let packedFiles: string[]

async function sh(command: string, args: string[], options: ExecFileOptions & { cwd: string }): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(command, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 900_000, ...options })
    return { stdout: String(stdout), stderr: String(stderr), code: 0 }
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number }
    return { stdout: String(failed.stdout ?? ''), stderr: String(failed.stderr ?? ''), code: typeof failed.code === 'number' ? failed.code : 1 }
  }
}

/** A fresh app: what `npm init -y` writes (no "type", so .js files are CommonJS), the tarball installed with npm 12. */
async function freshApp(name: string, extra: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const app = path.join(work, name)
  await mkdir(app)
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer-app', version: '1.0.0', private: true }, null, 2))
  const started = Date.now()
  const installed = await sh('npx', [...NPM12, 'install', '--no-audit', '--no-fund', tarball, ...extra], { cwd: app, env: { ...process.env, ...env } })
  expect(installed.code, installed.stderr).toBe(0)
  console.log(`packaging: npm 12 install into ${name} took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return app
}

beforeAll(async () => {
  if (skip) return
  work = await mkdtemp(path.join(tmpdir(), 'auditq-pack-'))
  const packed = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT })
  expect(packed.code, packed.stderr).toBe(0)
  const [summary] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  tarball = path.join(work, summary!.filename)
  packedFiles = summary!.files.map((file) => file.path)
}, 120_000)

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true })
})

describe.skipIf(skip)('the packed tarball', () => {
  it('holds the build, docs and LICENSE, and no tests, contracts or fixtures', () => {
    expect(packedFiles).toContain('dist/index.js')
    expect(packedFiles).toContain('LICENSE')
    // The embeddable viewer is served from the package itself, never from a CDN.
    expect(packedFiles).toContain('dist/viewer/viewer.js')
    expect(packedFiles.filter((file) => /(\.test\.|\.contract\.|\.property\.|(^|\/)(test|fixtures|support)\/)/.test(file))).toEqual([])
  })
})

/** `node -e <code>` (CommonJS) or `--input-type=module` inside an app, with the embedded default. */
function nodeIn(app: string, code: string, options: { module: boolean; node?: string }) {
  const args = options.module ? ['--input-type=module', '-e', code] : ['-e', code]
  return sh(options.node ?? process.execPath, args, { cwd: app, env: { ...process.env, ...APP_ENV } })
}

describe.skipIf(skip)('installed with npm 12 (install scripts skipped) into a fresh CommonJS app on Node.js 20', () => {
  let app: string
  beforeAll(async () => {
    app = await freshApp('app-node20', ['@types/node@20'])
  }, 900_000)

  it('require()s both entry points from CommonJS and imports them from ESM', async () => {
    const cjs = await nodeIn(app, "const a = require('auditq'); const c = require('auditq/cloudflare'); console.log(typeof a.createAuditLogger, typeof c.AuditService, typeof a.AuditqError)", { module: false })
    expect(cjs.stderr).toBe('')
    expect(cjs.stdout.trim()).toBe('function function function')
    const esm = await nodeIn(app, "const a = await import('auditq'); const c = await import('auditq/cloudflare'); console.log(typeof a.createAuditLogger, typeof c.AuditService)", { module: true })
    expect(esm.stdout.trim()).toBe('function function')
  }, 60_000)

  it('type-checks an ESM and a CommonJS consumer with skipLibCheck: false (ioredis types included)', async () => {
    await writeFile(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] }, include: ['*.mts', '*.cts'] }),
    )
    await writeFile(
      path.join(app, 'esm.mts'),
      "import { buildServer, createAuditLogger, type AuditEventInput } from 'auditq'\nimport { AuditService } from 'auditq/cloudflare'\nconst event: AuditEventInput = { action: 'user.login', actor_id: 'u1' }\nconst audit = await createAuditLogger()\nawait audit.log(event)\nvoid AuditService\nvoid buildServer\n",
    )
    await writeFile(path.join(app, 'cjs.cts'), "import auditq = require('auditq')\nvoid auditq.createAuditLogger().then((audit) => audit.close())\n")
    const checked = await sh(process.execPath, [TSC, '-p', '.'], { cwd: app })
    expect(checked.stdout + checked.stderr).toBe('')
    expect(checked.code).toBe(0)
  }, 180_000)

  it('without the approved install script, the embedded default fails with a catalogued error naming the fixes', async () => {
    const refused = await nodeIn(app, "require('auditq').createAuditLogger({ dataDir: './audit-data' }).then(() => console.log('opened'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))", { module: false })
    const error = JSON.parse(refused.stdout.trim()) as { code: string; message: string }
    expect(error.code).toBe('AUDITQ_EMBEDDED_UNAVAILABLE')
    expect(error.message).toContain('npm install-scripts approve better-sqlite3')
    expect(error.message).toContain('Node.js 22.13 or later')
  }, 60_000)

  // Compiles better-sqlite3 from source (no prebuilt binary is fetched here): minutes on a busy machine.
  it.runIf(full)('the fix the error names (approve, rebuild) makes the library and the CLI work [npm run test:package:full]', async () => {
    expect((await sh('npx', [...NPM12, 'install-scripts', 'approve', 'better-sqlite3'], { cwd: app })).code).toBe(0)
    const started = Date.now()
    const rebuilt = await sh('npx', [...NPM12, 'rebuild', 'better-sqlite3'], { cwd: app })
    expect(rebuilt.code, rebuilt.stderr).toBe(0)
    console.log(`packaging: npm rebuild better-sqlite3 took ${((Date.now() - started) / 1000).toFixed(1)} s`)

    const logged = await nodeIn(app, `const { createAuditLogger } = require('auditq'); (async () => { const audit = await createAuditLogger({ dataDir: './audit-data' }); await audit.log(${EVENT}); await audit.close(); console.log('logged') })()`, { module: false })
    expect(logged.stderr).toBe('')
    expect(logged.stdout.trim()).toBe('logged')
    const queried = await sh(path.join(app, 'node_modules', '.bin', 'auditq'), ['--data-dir', './audit-data', 'query', '--format', 'json'], { cwd: app, env: { ...process.env, ...APP_ENV } })
    expect(queried.code, queried.stderr).toBe(0)
    expect(queried.stdout).toContain('inv-42')
    const version = await sh(path.join(app, 'node_modules', '.bin', 'auditq'), ['--version'], { cwd: app })
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  }, 900_000)
})

describe.skipIf(skip || !node22)('installed with npm 12 into a fresh CommonJS app on Node.js 22', () => {
  let app: string
  beforeAll(async () => {
    app = await freshApp('app-node22', [], ON_NODE22)
  }, 900_000)

  it('works out of the box through node:sqlite: createAuditLogger() logs an event and the installed CLI query shows it, with no approval and no rebuild', async () => {
    // The install script really was skipped: there is no better-sqlite3 binding to fall back from.
    expect(existsSync(path.join(app, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(false)
    const logged = await nodeIn(
      app,
      `const { createAuditLogger } = require('auditq')
      const lines = []
      const logger = require('pino')({ level: 'info' }, { write: (line) => lines.push(JSON.parse(line)) })
      ;(async () => {
        const audit = await createAuditLogger({ dataDir: './audit-data', logger })
        await audit.log(${EVENT})
        await audit.close()
        console.log(JSON.stringify(lines.find((line) => line.driver)))
      })()`,
      { module: false, node: node22! },
    )
    // Nothing on stderr: no ExperimentalWarning, no driver noise.
    expect(logged.stderr).toBe('')
    expect(JSON.parse(logged.stdout.trim())).toMatchObject({ level: 30, driver: 'node:sqlite', node: `v${NODE22_VERSION}` })
    const queried = await sh(node22!, [path.join(app, 'node_modules', '.bin', 'auditq'), '--data-dir', './audit-data', 'query', '--format', 'json'], {
      cwd: app,
      env: { ...process.env, ...APP_ENV },
    })
    expect(queried.code, queried.stderr).toBe(0)
    expect(queried.stderr).toBe('')
    expect(queried.stdout).toContain('inv-42')
  }, 120_000)
})
