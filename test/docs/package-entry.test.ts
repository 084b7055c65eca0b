/**
 * What the README promises about installing auditq: `require('auditq')` works from CommonJS on
 * Node.js 20.19 or later (which can require an ES module when the package exports a condition
 * CommonJS resolution accepts), and the docs/ pages the README links to ship in the package.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from './markdown.js'

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
const canRequireEsm = major > 20 || (major === 20 && minor >= 19)

describe('the installed package', () => {
  let app: string

  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), 'auditq-require-'))
    mkdirSync(join(app, 'node_modules'))
    symlinkSync(ROOT, join(app, 'node_modules', 'auditq'), 'dir')
  })

  afterAll(() => rmSync(app, { recursive: true, force: true }))

  it.runIf(canRequireEsm)('loads with require() from CommonJS, as the README shows', () => {
    const script = "const { createAuditLogger } = require('auditq'); const cf = require('auditq/cloudflare'); console.log(typeof createAuditLogger, typeof cf.AuditService)"
    const out = execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' })
    expect(out.trim()).toBe('function function')
  })

  it('loads with import from an ES module', () => {
    const script = "import { createAuditLogger } from 'auditq'; console.log(typeof createAuditLogger)"
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' })
    expect(out.trim()).toBe('function')
  })

  it('ships docs/, so the README links resolve in node_modules/auditq', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }
    expect(pkg.files).toContain('docs')
  })
})
