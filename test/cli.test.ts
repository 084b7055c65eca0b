/** The built `auditq` CLI, run as a user would, against a throwaway embedded store. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cliRunner } from './support/cli.js'

const dataDir = mkdtempSync(join(tmpdir(), 'auditq-cli-'))
const auditq = cliRunner(dataDir)

afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('auditq CLI', () => {
  it('migrates, sends from flags and from stdin, and queries as a table, JSON and CSV', () => {
    expect(auditq(['migrate'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/schema version \d+/) })
    const sent = auditq(['send', '--action', 'user.created', '--actor-id', 'cli-admin', '--metadata', '{"plan":"pro"}'])
    expect(sent.code).toBe(0)
    expect(sent.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/)
    const piped = auditq(['send'], '{"action":"a.one","actor_id":"cli-pipe"}\n{"userId":"cli-pipe","action":"a.two"}\n')
    expect(piped.code).toBe(0)
    expect(piped.stdout.trim().split('\n')).toHaveLength(2)

    const table = auditq(['query', '--actor-id', 'cli-pipe'])
    expect(table.code).toBe(0)
    expect(table.stdout.split('\n')[0]).toMatch(/^OCCURRED_AT\s+ACTION/)
    expect(table.stdout).toMatch(/a\.one/)
    const json = JSON.parse(auditq(['query', '--format', 'json', '--actor-id', 'cli-admin']).stdout)
    expect(json.events[0]).toMatchObject({ action: 'user.created', metadata: { plan: 'pro' } })
    const csv = auditq(['query', '--format', 'csv', '--actor-id', 'cli-pipe']).stdout.trim().split('\r\n')
    expect(csv).toHaveLength(3)
  })

  it('exports every event to a file', () => {
    const output = join(dataDir, 'export.ndjson')
    const result = auditq(['export', '--format', 'ndjson', '--output', output])
    expect(result.code).toBe(0)
    const lines = readFileSync(output, 'utf8').trim().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(3)
    expect(JSON.parse(lines[0]!)).toHaveProperty('action')
  })

  it('exits 2 with a clear message on bad input, naming the field', () => {
    const bad = auditq(['send', '--action', 'bad action'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/action \(pattern\)/)
    expect(auditq(['query', '--from', 'yesterday'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/from:/) })
    expect(auditq(['query', '--bogus']).code).toBe(2)
    expect(auditq(['send', '--action', 'x', '--metadata', '{oops'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--metadata/) })
  })

  it('prints help and exits 0', () => {
    const help = auditq(['--help'])
    expect(help.code).toBe(0)
    for (const command of ['serve', 'migrate', 'send', 'query', 'export']) expect(help.stdout).toContain(command)
  })
})
