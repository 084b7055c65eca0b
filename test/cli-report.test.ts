/** `auditq report` as a user runs it: the built CLI over a throwaway embedded store. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliRunner } from './support/cli.js'

const dataDir = mkdtempSync(join(tmpdir(), 'auditq-cli-report-'))
const auditq = cliRunner(dataDir)

afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('auditq report', () => {
  beforeAll(() => {
    const events = [
      { action: 'login', actor_id: 'alice', occurred_at: '2026-11-20T09:15:00Z' },
      { action: 'login', actor_id: 'alice', occurred_at: '2026-11-20T09:45:00Z', success: false, error_message: 'bad password' },
      { action: 'export.run', actor_id: '=cmd|calc', occurred_at: '2026-11-20T17:00:00Z', category: 'critical', success: false, error_message: '<script>alert(1)</script>' },
      { action: 'login', actor_id: 'bob', occurred_at: '2026-11-21T08:00:00Z', tenant_id: 'acme' },
      { action: 'login', actor_id: 'carol', occurred_at: '2026-11-16T23:59:59.999Z' },
    ]
    const sent = auditq(['send'], events.map((event) => JSON.stringify(event)).join('\n') + '\n')
    expect(sent.code, sent.stderr).toBe(0)
  })

  it('prints a daily report as JSON when stdout is not a terminal', () => {
    const result = auditq(['report', 'daily', '--date', '2026-11-20'])
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({
      period: { kind: 'daily', from: '2026-11-20T00:00:00.000Z', to: '2026-11-21T00:00:00.000Z', bucket: 'hour' },
      summary: { total: 3, successes: 1, failures: 2, success_rate: 0.3333 },
      by_category: { info: 2, warning: 0, critical: 1 },
      top_actors: [{ value: 'alice', count: 2 }, { value: '=cmd|calc', count: 1 }],
      failures_by_action: [
        { action: 'export.run', failures: 1, top_errors: [{ value: '<script>alert(1)</script>', count: 1 }] },
        { action: 'login', failures: 1, top_errors: [{ value: 'bad password', count: 1 }] },
      ],
    })
    expect(report.timeline).toHaveLength(24)
    expect(report.timeline[9]).toEqual({ start: '2026-11-20T09:00:00.000Z', total: 2, failures: 1 })
  })

  it('reports an ISO week (Monday start) for one tenant as a table', () => {
    const all = auditq(['report', 'weekly', '--date', '2026-11-22', '--format', 'table'])
    expect(all.code).toBe(0)
    // Mon 16th 23:59:59.999 is in; the week runs to Monday the 23rd.
    expect(all.stdout).toMatch(/^Weekly audit report: 2026-11-16T00:00:00.000Z to 2026-11-23T00:00:00.000Z/)
    expect(all.stdout).toMatch(/events\s+5\n/)
    const acme = auditq(['report', 'weekly', '--date', '2026-11-22', '--format', 'table', '--tenant-id', 'acme'])
    expect(acme.stdout).toMatch(/tenant: acme/)
    expect(acme.stdout).toMatch(/events\s+1\n/)
  })

  it('writes HTML and CSV files, choosing the format from the extension', () => {
    const html = join(dataDir, 'report.html')
    const written = auditq(['report', '--from', '2026-11-20', '--to', '2026-11-21', '--output', html])
    expect(written.code).toBe(0)
    expect(written.stderr).toMatch(/wrote the custom report \(3 events\)/)
    const page = readFileSync(html, 'utf8')
    expect(page).toMatch(/^<!DOCTYPE html>/)
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(page).not.toContain('<script>')
    const csv = join(dataDir, 'report.csv')
    expect(auditq(['report', 'monthly', '--date', '2026-11-01', '--output', csv]).code).toBe(0)
    const lines = readFileSync(csv, 'utf8').split('\r\n')
    expect(lines).toContain('summary,total,,5')
    expect(lines).toContain("top_actor,'=cmd|calc,,1")
  })

  it('exits 2 naming the problem', () => {
    expect(auditq(['report', 'yearly'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/period: must be one of daily, weekly, monthly/) })
    expect(auditq(['report', 'daily', '--date', '2026-02-30'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/date:/) })
    expect(auditq(['report', 'daily', '--from', '2026-11-01'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--from: give either a period .* or --from and --to, not both/) })
    expect(auditq(['report', '--from', '2026-11-01'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--to: .*both --from and --to/) })
    expect(auditq(['report', 'daily', '--top', '0'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/top:/) })
  })

  it('without a period names the argument and the --from/--to flags, not the HTTP parameters', () => {
    const result = auditq(['report'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^auditq: give a period \(daily, weekly or monthly.*\) or both --from and --to \[AUDITQ_BAD_REQUEST\]\n/)
    expect(result.stderr).not.toMatch(/period=|from and to/)
    const dateAlone = auditq(['report', '--date', '2026-11-20'])
    expect(dateAlone).toMatchObject({ code: 2, stderr: expect.stringMatching(/--date: needs a period: daily, weekly or monthly/) })
    expect(auditq(['report', '--from', '2026-11-01', '--to', 'soon'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--to: must be an ISO-8601 time/) })
    expect(auditq(['report', 'daily', '--top', '0', '--tenant-id', ''])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--tenant-id: .*; --top: /) })
  })
})
