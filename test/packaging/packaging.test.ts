/**
 * The package as an application meets it: `npm pack` of this checkout, installed from the tarball
 * into a fresh `npm init`-style (CommonJS) app with npm 12, which skips install scripts nobody
 * approved. Proves: ESM import and CommonJS require of both entry points, types that compile
 * with `skipLibCheck: false`, the embedded default's catalogued error and the fix it names, and
 * then `createAuditLogger()` plus the installed CLI's `query` working.
 *
 * Needs the npm registry (npx fetches npm 12 and the package's dependencies); `pretest` has built
 * dist/. AUDITQ_TEST_SKIP_PACKAGING=1 skips it on a machine with no registry access.
 */
import { execFile, type ExecFileOptions } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../fixtures/child-process.js'

const run = promisify(execFile)
const TSC = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc')
const NPM12 = ['-y', 'npm@12']
const skip = process.env.AUDITQ_TEST_SKIP_PACKAGING === '1'
if (skip) console.warn('packaging test skipped: AUDITQ_TEST_SKIP_PACKAGING=1')

let work: string
let app: string

async function sh(command: string, args: string[], options: ExecFileOptions = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd: app, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 300_000, ...options })
    return { stdout: String(stdout), stderr: String(stderr), code: 0 }
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number }
    return { stdout: String(failed.stdout ?? ''), stderr: String(failed.stderr ?? ''), code: typeof failed.code === 'number' ? failed.code : 1 }
  }
}

/** Runs `node -e <code>` (CommonJS) or `--input-type=module` inside the app, with the embedded default. */
function node(code: string, options: { module: boolean }) {
  const args = options.module ? ['--input-type=module', '-e', code] : ['-e', code]
  return sh(process.execPath, args, { env: { ...process.env, AUDITQ_DATABASE_URL: '', AUDITQ_REDIS_URL: '' } })
}

describe.skipIf(skip)('the packed tarball installed into a fresh CommonJS app with npm 12', () => {
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'auditq-pack-'))
    app = path.join(work, 'app')
    await mkdir(app)
    const packed = await sh('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT })
    expect(packed.code, packed.stderr).toBe(0)
    const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'))
    expect(tarball).toBeDefined()
    // What `npm init -y` writes: no "type", so .js files are CommonJS.
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer-app', version: '1.0.0', private: true }, null, 2))
    const installed = await sh('npx', [...NPM12, 'install', '--no-audit', '--no-fund', path.join(work, tarball!), '@types/node@20'])
    expect(installed.code, installed.stderr).toBe(0)
  }, 600_000)

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true })
  })

  it('require()s both entry points from CommonJS and imports them from ESM', async () => {
    const cjs = await node("const a = require('auditq'); const c = require('auditq/cloudflare'); console.log(typeof a.createAuditLogger, typeof c.AuditService, typeof a.AuditqError)", { module: false })
    expect(cjs.stderr).toBe('')
    expect(cjs.stdout.trim()).toBe('function function function')
    const esm = await node("const a = await import('auditq'); const c = await import('auditq/cloudflare'); console.log(typeof a.createAuditLogger, typeof c.AuditService)", { module: true })
    expect(esm.stdout.trim()).toBe('function function')
  }, 60_000)

  it('type-checks an ESM and a CommonJS consumer with skipLibCheck: false', async () => {
    await writeFile(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] }, include: ['*.mts', '*.cts'] }),
    )
    await writeFile(
      path.join(app, 'esm.mts'),
      "import { createAuditLogger, type AuditEventInput } from 'auditq'\nimport { AuditService } from 'auditq/cloudflare'\nconst event: AuditEventInput = { action: 'user.login', actor_id: 'u1' }\nconst audit = await createAuditLogger()\nawait audit.log(event)\nvoid AuditService\n",
    )
    await writeFile(path.join(app, 'cjs.cts'), "import auditq = require('auditq')\nvoid auditq.createAuditLogger().then((audit) => audit.close())\n")
    const checked = await sh(process.execPath, [TSC, '-p', '.'])
    expect(checked.stdout + checked.stderr).toBe('')
    expect(checked.code).toBe(0)
  }, 180_000)

  it('without the approved install script, the embedded default fails with a catalogued error naming the fix; the fix makes the library and the CLI work', async () => {
    const refused = await node("require('auditq').createAuditLogger({ dataDir: './audit-data' }).then(() => console.log('opened'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))", { module: false })
    const error = JSON.parse(refused.stdout.trim()) as { code: string; message: string }
    expect(error.code).toBe('AUDITQ_EMBEDDED_UNAVAILABLE')
    expect(error.message).toContain('npm install-scripts approve better-sqlite3')

    // The fix, exactly as the message gives it.
    expect((await sh('npx', [...NPM12, 'install-scripts', 'approve', 'better-sqlite3'])).code).toBe(0)
    const rebuilt = await sh('npx', [...NPM12, 'rebuild', 'better-sqlite3'])
    expect(rebuilt.code, rebuilt.stderr).toBe(0)

    const logged = await node(
      "const { createAuditLogger } = require('auditq'); (async () => { const audit = await createAuditLogger({ dataDir: './audit-data' }); await audit.log({ action: 'invoice.paid', actor_id: 'billing-bot', resource_type: 'invoice', resource_id: 'inv-42' }); await audit.close(); console.log('logged') })()",
      { module: false },
    )
    expect(logged.stderr).toBe('')
    expect(logged.stdout.trim()).toBe('logged')
    const queried = await sh(path.join(app, 'node_modules', '.bin', 'auditq'), ['--data-dir', './audit-data', 'query', '--format', 'json'], { env: { ...process.env, AUDITQ_DATABASE_URL: '' } })
    expect(queried.code, queried.stderr).toBe(0)
    expect(queried.stdout).toContain('inv-42')
    const version = await sh(path.join(app, 'node_modules', '.bin', 'auditq'), ['--version'])
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  }, 600_000)
})
