/**
 * `auditq erase` and `auditq rewrap-keys` as an operator runs them, on the embedded store through
 * the built CLI: send with shredding configured, query the subject, erase it, see `[erased]` in
 * query and export, verify still passes (without the master key); rotate the master key and read
 * as before. A missing or malformed master key stops every command, naming the setting.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { CLI, cliEnv } from './support/cli.js'

// Nine CLI starts in the first test; each is ~0.5 s on a quiet machine, several seconds on a busy one.
vi.setConfig({ testTimeout: 180_000 })

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function runner(dataDir: string) {
  return (args: string[], settings: Record<string, string>, input?: string) => {
    const result = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, ...args], { encoding: 'utf8', env: cliEnv(settings), ...(input === undefined ? {} : { input }) })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }
}

describe('auditq erase', () => {
  it('erases one subject: [erased] in query and export, others intact, verify passes; rewrap-keys rotates the master key', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'auditq-erase-'))
    dirs.push(dir)
    const run = runner(dir)
    const oldKey = randomBytes(32).toString('hex')
    const base = { AUDITQ_SHRED_SUBJECT_FIELD: 'actor_id', AUDITQ_SHRED_FIELDS: 'ip_address,metadata.email' }
    const shred = { ...base, AUDITQ_SHRED_MASTER_KEY: oldKey }

    const events = [
      { action: 'user.login', actor_id: 'alice', ip_address: '203.0.113.7', metadata: { email: 'alice@example.com' } },
      { action: 'user.login', actor_id: 'bob', ip_address: '198.51.100.2' },
    ]
    const sent = run(['send'], shred, events.map((e) => JSON.stringify(e)).join('\n'))
    expect(sent.code, sent.stderr).toBe(0)
    const before = JSON.parse(run(['query', '--format', 'json', '--actor-id', 'alice'], shred).stdout).events as Record<string, unknown>[]
    expect(before).toHaveLength(1)
    expect(before[0]).toMatchObject({ actor_id: 'alice', ip_address: '203.0.113.7', metadata: { email: 'alice@example.com' } })

    const erase = run(['erase', '--subject', 'alice', '--reason', 'DSR-42', '--json'], shred)
    expect(erase.code, erase.stderr).toBe(0)
    const report = JSON.parse(erase.stdout)
    expect(report.key_id).toMatch(/^[A-Za-z0-9_-]{16}$/)

    const after = JSON.parse(run(['query', '--format', 'json'], shred).stdout).events as Record<string, unknown>[]
    expect(after.find((e) => e.action === 'auditq.erasure')).toMatchObject({ id: report.event_id, resource_id: report.key_id, metadata: { reason: 'DSR-42', key_id: report.key_id } })
    expect(after.find((e) => e.action === 'user.login' && e.actor_id !== 'bob')).toMatchObject({ actor_id: '[erased]', ip_address: '[erased]', metadata: { email: '[erased]' } })
    expect(after.find((e) => e.actor_id === 'bob')).toMatchObject({ ip_address: '198.51.100.2' })
    const exported = run(['export'], shred)
    expect(exported.code, exported.stderr).toBe(0)
    expect(exported.stdout).toContain('[erased]')
    for (const secret of ['alice', '203.0.113.7']) expect(exported.stdout).not.toContain(secret)

    // verify needs no master key: it checks what is stored.
    const verify = run(['verify'], {})
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)

    const newKey = randomBytes(32).toString('hex')
    const oldFile = path.join(dir, 'old.key')
    writeFileSync(oldFile, oldKey)
    const rewrap = run(['rewrap-keys', '--old-key-file', oldFile, '--json'], { ...base, AUDITQ_SHRED_MASTER_KEY: newKey })
    expect(rewrap.code, rewrap.stderr).toBe(0)
    // Bob's key and the index root; Alice's key is gone.
    expect(JSON.parse(rewrap.stdout)).toMatchObject({ rewrapped: 2, already: 0 })
    const withNew = JSON.parse(run(['query', '--format', 'json', '--actor-id', 'bob'], { ...base, AUDITQ_SHRED_MASTER_KEY: newKey }).stdout).events
    expect(withNew[0]).toMatchObject({ actor_id: 'bob', ip_address: '198.51.100.2' })
    const withOld = run(['query'], shred)
    expect(withOld.code).not.toBe(0)
    expect(withOld.stderr).toContain('[AUDITQ_MASTER_KEY]')
  })

  it('stops when shredding is configured without a usable master key, naming the setting', () => {
    const run = runner(path.join(tmpdir(), 'auditq-erase-never-created'))
    const missing = run(['query'], { AUDITQ_SHRED_SUBJECT_FIELD: 'actor_id' })
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/AUDITQ_SHRED_MASTER_KEY.*\[AUDITQ_MASTER_KEY\]/s)
    const short = run(['erase', '--subject', 's', '--reason', 'r'], { AUDITQ_SHRED_SUBJECT_FIELD: 'actor_id', AUDITQ_SHRED_MASTER_KEY: 'short' })
    expect(short.code).not.toBe(0)
    expect(short.stderr).toMatch(/AUDITQ_SHRED_MASTER_KEY: must be 32 bytes.*\[AUDITQ_MASTER_KEY\]/s)
    const off = run(['erase', '--subject', 's', '--reason', 'r'], {})
    expect(off.code).not.toBe(0)
    expect(off.stderr).toContain('AUDITQ_SHRED_SUBJECT_FIELD')
  })
})
