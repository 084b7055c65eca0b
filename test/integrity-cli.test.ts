/**
 * The integrity and retention commands as an operator runs them, on PostgreSQL: keygen, checkpoint,
 * export, verify (exit 0 / exit 1 naming the seq), cleanup --dry-run and cleanup, and verify
 * --checkpoints after someone with database access but no key has rewritten the table.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { LINK_LAYOUT } from './support/chain-tamper.js'
import { CLI, cliEnv } from './support/cli.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from './support/services.js'

const hasPostgres = await postgresAvailable()
const schema = uniqueSchema('icli')
const dir = mkdtempSync(join(tmpdir(), 'auditq-integrity-cli-'))
const keyFile = join(dir, 'signing.pem')

function auditq(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: cliEnv({ AUDITQ_DATABASE_URL: POSTGRES_URL, AUDITQ_DATABASE_SCHEMA: schema, AUDITQ_SIGNING_KEY_FILE: keyFile }),
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

async function asSuperuser(statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
  await client.connect()
  try {
    await client.query('SET session_replication_role = replica')
    for (const statement of statements) await client.query(statement)
  } finally {
    await client.end()
  }
}

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  if (hasPostgres) await dropSchemas([schema])
})

describe.skipIf(!hasPostgres)('auditq verify / checkpoint / cleanup (postgres)', () => {
  const old = new Date(Date.now() - 120 * 86_400_000).toISOString()
  const exported = join(dir, 'checkpoints.ndjson')

  it('signs, exports and verifies an intact chain', () => {
    expect(auditq(['keygen', '--output', keyFile]).code).toBe(0)
    for (const action of ['user.login', 'doc.view', 'doc.view', 'user.login', 'doc.view']) {
      expect(auditq(['send', '--action', action, '--tenant-id', 'acme', '--occurred-at', old]).code).toBe(0)
    }
    expect(auditq(['send', '--action', 'doc.view', '--tenant-id', 'acme']).code).toBe(0)
    expect(auditq(['checkpoint']).stdout).toMatch(/^signed acme seq 6 hash [0-9a-f]{64}/)
    expect(auditq(['checkpoint', 'export', '--output', exported]).stdout).toMatch(/exported 1 checkpoints/)
    const verified = auditq(['verify'])
    expect(verified).toMatchObject({ code: 0, stdout: expect.stringMatching(/^intact: 6 events in 1 tenant\n/) })
    expect(verified.stdout).toMatch(/REPEATABLE READ/)
  })

  it('cleanup counts first, keeps the excluded actions, and verify still passes with the signed cut', () => {
    expect(auditq(['cleanup', '--older-than', '90d', '--keep-actions', 'user.login', '--dry-run']).stdout).toMatch(/^would delete 3 events/)
    const cleaned = auditq(['cleanup', '--older-than', '90d', '--keep-actions', 'user.login'])
    expect(cleaned).toMatchObject({ code: 0, stdout: expect.stringMatching(/^deleted 3 events[^]*acme: 3, chain cut at seq 5[^]*signed 1 checkpoints/) })
    const left = JSON.parse(auditq(['query', '--format', 'json', '--tenant-id', 'acme']).stdout) as { events: { action: string }[] }
    expect(left.events.map((e) => e.action).sort()).toEqual(['audit.retention.cleanup', 'doc.view', 'user.login', 'user.login'])
    rmSync(exported)
    expect(auditq(['checkpoint', 'export', '--output', exported]).code).toBe(0)
    expect(auditq(['verify', '--checkpoints', exported, '--public-key', `${keyFile}.pub`])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^intact: 4 events/),
    })
  })

  it('exits 1 and names the first bad seq after tampering, and checkpoints catch a full rewrite', async () => {
    await asSuperuser([`UPDATE audit_logs SET actor_id = 'mallory' WHERE ${LINK_LAYOUT.eventAt('acme', 6)}`])
    expect(auditq(['verify'])).toMatchObject({ code: 1, stdout: expect.stringMatching(/^BROKEN: tenant acme, first bad seq 6: modified/) })

    await asSuperuser([...LINK_LAYOUT.chainTables, 'audit_retention_cuts'].map((table) => `DELETE FROM ${table}`))
    for (let i = 0; i < 7; i++) expect(auditq(['send', '--action', 'doc.view', '--tenant-id', 'acme']).code).toBe(0)
    expect(auditq(['verify']).code).toBe(0)
    const withFile = auditq(['verify', '--checkpoints', exported])
    expect(withFile).toMatchObject({ code: 1, stdout: expect.stringMatching(/^BROKEN: tenant acme, first bad seq \d+: (deleted|modified|unsigned)/) })
  })
})

describe('auditq verify exit codes', () => {
  it('exits 4 ("could not verify") when the store cannot be reached or a file cannot be read, never 1 (tampered)', () => {
    const unreachable = spawnSync(process.execPath, [CLI, 'verify'], {
      encoding: 'utf8',
      env: cliEnv({ AUDITQ_DATABASE_URL: 'postgres://auditq@127.0.0.1:1/none?connect_timeout=2' }),
    })
    expect(unreachable.status, unreachable.stderr).toBe(4)
    expect(unreachable.stderr).toContain('could not verify')
    const embeddedDir = mkdtempSync(join(tmpdir(), 'auditq-verify-exit-'))
    try {
      const missingFile = spawnSync(process.execPath, [CLI, '--data-dir', embeddedDir, 'verify', '--checkpoints', join(embeddedDir, 'nope.ndjson'), '--public-key', join(embeddedDir, 'nope.pub')], { encoding: 'utf8', env: cliEnv() })
      expect(missingFile.status, missingFile.stderr).toBe(4)
      const badUsage = spawnSync(process.execPath, [CLI, '--data-dir', embeddedDir, 'verify', '--from', 'yesterday'], { encoding: 'utf8', env: cliEnv() })
      expect(badUsage.status).toBe(2)
    } finally {
      rmSync(embeddedDir, { recursive: true, force: true })
    }
  })
})

describe('auditq verify after a signing key rotation (embedded)', () => {
  it('takes --public-key once per key; without the retired key it names the key that is missing', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-rotation-'))
    const [oldKey, newKey] = [join(dataDir, 'old.pem'), join(dataDir, 'new.pem')]
    const run = (args: string[], signingKey = '') => {
      const result = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, ...args], {
        encoding: 'utf8',
        env: cliEnv({ AUDITQ_SIGNING_KEY_FILE: signingKey }),
      })
      return { code: result.status, stdout: result.stdout, stderr: result.stderr }
    }
    try {
      const keyId = (file: string) => /key id ([0-9a-f]{16})/.exec(run(['keygen', '--output', file]).stdout)![1]!
      const [oldId, newId] = [keyId(oldKey), keyId(newKey)]
      expect(run(['send', '--action', 'doc.view', '--tenant-id', 'acme']).code).toBe(0)
      expect(run(['checkpoint'], oldKey).stdout).toContain(`(key ${oldId})`)
      expect(run(['send', '--action', 'doc.view', '--tenant-id', 'acme']).code).toBe(0)
      expect(run(['checkpoint'], newKey).stdout).toContain(`(key ${newId})`)
      const exported = join(dataDir, 'checkpoints.ndjson')
      expect(run(['checkpoint', 'export', '--output', exported]).stdout).toMatch(/exported 2 checkpoints/)

      // The configured (new) key alone: the checkpoint signed before the rotation does not verify.
      const newOnly = run(['verify', '--checkpoints', exported], newKey)
      expect(newOnly.code, newOnly.stderr).toBe(1)
      expect(newOnly.stdout).toMatch(/^BROKEN: tenant acme, first bad seq 1: bad_signature/)
      expect(newOnly.stdout).toContain(`it names key ${oldId}, which is not among them`)

      const both = run(['verify', '--checkpoints', exported, '--public-key', `${newKey}.pub`, '--public-key', `${oldKey}.pub`])
      expect(both.code, both.stdout + both.stderr).toBe(0)
      expect(both.stdout).toMatch(/^intact: 2 events in 1 tenant\n/)
      // Each checkpoint is both in the file and in the store: counted from both.
      expect(both.stdout).toContain(`signed checkpoints checked: 4 (key ${newId}: 2, key ${oldId}: 2)`)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
