/**
 * `auditq erase` and `auditq rewrap-keys` as an operator runs them, on the embedded store through
 * the built CLI: send with shredding configured, query the subject, erase it, see `[erased]`,
 * verify still passes; a missing master key stops every command naming the setting; a master key
 * rotation rewraps the keys and the values read as before.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI, cliEnv } from './support/cli.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function runner(dataDir: string) {
  return (args: string[], settings: Record<string, string>) => {
    const result = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, ...args], { encoding: 'utf8', env: cliEnv(settings) })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }
}

describe('auditq erase', () => {
  it('erases one subject: its values read [erased], others stay, verify passes, the erasure is an event', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'auditq-erase-'))
    dirs.push(dir)
    const run = runner(dir)
    const key = randomBytes(32).toString('hex')
    const shred = { AUDITQ_SHRED_SUBJECT_FIELD: 'actor_id', AUDITQ_SHRED_FIELDS: 'ip_address,metadata.email', AUDITQ_SHRED_MASTER_KEY: key }

    const events = [
      { action: 'user.login', actor_id: 'alice', ip_address: '203.0.113.7', metadata: { email: 'alice@example.com' } },
      { action: 'user.login', actor_id: 'bob', ip_address: '198.51.100.2' },
    ]
    const sent = spawnSync(process.execPath, [CLI, '--data-dir', dir, 'send'], { input: events.map((e) => JSON.stringify(e)).join('\n'), encoding: 'utf8', env: cliEnv(shred) })
    expect(sent.status, sent.stderr).toBe(0)

    const query = (settings = shred) => run(['query', '--format', 'json'], settings)
    const before = JSON.parse(query().stdout).events as Record<string, unknown>[]
    expect(before.find((e) => e.actor_id === 'alice')).toMatchObject({ ip_address: '203.0.113.7', metadata: { email: 'alice@example.com' } })
    expect(JSON.parse(run(['query', '--format', 'json', '--actor-id', 'alice'], shred).stdout).events).toHaveLength(1)

    const erase = run(['erase', '--subject', 'alice', '--reason', 'DSR-42', '--json'], shred)
    expect(erase.code, erase.stderr).toBe(0)
    const report = JSON.parse(erase.stdout)
    expect(report.key_id).toMatch(/^[A-Za-z0-9_-]{16}$/)

    const after = JSON.parse(query().stdout).events as Record<string, unknown>[]
    const erasure = after.find((e) => e.action === 'auditq.erasure')
    expect(erasure).toMatchObject({ id: report.event_id, resource_id: report.key_id, metadata: { reason: 'DSR-42', key_id: report.key_id } })
    expect(after.find((e) => e.action === 'user.login' && e.actor_id !== 'bob')).toMatchObject({ actor_id: '[erased]', ip_address: '[erased]', metadata: { email: '[erased]' } })
    expect(after.find((e) => e.actor_id === 'bob')).toMatchObject({ ip_address: '198.51.100.2' })
    const exported = run(['export'], shred)
    expect(exported.code, exported.stderr).toBe(0)
    expect(exported.stdout).not.toContain('alice')
    expect(exported.stdout).not.toContain('203.0.113.7')

    const verify = run(['verify'], {})
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  })

  it('stops when shredding is configured without a usable master key, naming the setting', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'auditq-erase-'))
    dirs.push(dir)
    const run = runner(dir)
    expect(run(['migrate'], {}).code).toBe(0)
    const broken: Record<string, string>[] = [{ AUDITQ_SHRED_SUBJECT_FIELD: 'actor_id' }, { AUDITQ_SHRED_SUBJECT_FIELD: 'actor_id', AUDITQ_SHRED_MASTER_KEY: 'short' }]
    for (const settings of broken) {
      for (const args of [['query'], ['erase', '--subject', 's', '--reason', 'r']]) {
        const result = run(args, settings)
        expect(result.code).not.toBe(0)
        expect(result.stderr).toMatch(/AUDITQ_SHRED_MASTER_KEY.*\[AUDITQ_MASTER_KEY\]/s)
      }
    }
    const off = run(['erase', '--subject', 's', '--reason', 'r'], {})
    expect(off.stderr).toContain('AUDITQ_SHRED_SUBJECT_FIELD')
  })

  it('rewraps every key under a new master key; values read as before, the old key no longer opens them', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'auditq-erase-'))
    dirs.push(dir)
    const run = runner(dir)
    const oldKey = randomBytes(32).toString('hex')
    const newKey = randomBytes(32).toString('hex')
    const base = { AUDITQ_SHRED_SUBJECT_FIELD: 'actor_id', AUDITQ_SHRED_FIELDS: 'ip_address' }
    const sent = spawnSync(process.execPath, [CLI, '--data-dir', dir, 'send', '--action', 'a', '--actor-id', 'erin', '--ip', '192.0.2.9'], {
      encoding: 'utf8',
      env: cliEnv({ ...base, AUDITQ_SHRED_MASTER_KEY: oldKey }),
    })
    expect(sent.status, sent.stderr).toBe(0)
    const oldFile = path.join(dir, 'old.key')
    writeFileSync(oldFile, oldKey)
    const rewrap = run(['rewrap-keys', '--old-key-file', oldFile, '--json'], { ...base, AUDITQ_SHRED_MASTER_KEY: newKey })
    expect(rewrap.code, rewrap.stderr).toBe(0)
    // The subject's key and the index root.
    expect(JSON.parse(rewrap.stdout)).toMatchObject({ rewrapped: 2, already: 0 })
    const withNew = run(['query', '--format', 'json', '--actor-id', 'erin'], { ...base, AUDITQ_SHRED_MASTER_KEY: newKey })
    expect(JSON.parse(withNew.stdout).events[0]).toMatchObject({ actor_id: 'erin', ip_address: '192.0.2.9' })
    const withOld = run(['query'], { ...base, AUDITQ_SHRED_MASTER_KEY: oldKey })
    expect(withOld.code).not.toBe(0)
    expect(withOld.stderr).toContain('AUDITQ_MASTER_KEY')
  })
})
