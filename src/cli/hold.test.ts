/**
 * `auditq hold create|list|release` as an operator runs it (the built CLI on an embedded store):
 * the hold keeps events through `auditq cleanup`, bad input names the flag's rule, and the CLI's
 * own changes (holds, keys) are recorded in the trail with the OS user.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cliRunner } from '../../test/support/cli.js'
import { storedEvent } from '../../test/support/events.js'
import { createEmbeddedStore } from '../store/embedded/embedded-store.js'

const dataDir = mkdtempSync(join(tmpdir(), 'auditq-hold-'))
const auditq = cliRunner(dataDir)
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('auditq hold', () => {
  it('holds an actor through cleanup until released, and records who did it', async () => {
    const old = new Date(Date.now() - 200 * 86_400_000).toISOString()
    const held = storedEvent({ tenant_id: 'acme', actor_id: 'alice', occurred_at: old })
    const free = storedEvent({ tenant_id: 'acme', actor_id: 'bob', occurred_at: old })
    const seed = await createEmbeddedStore({ dataDir })
    await seed.migrate()
    await seed.insertBatch([held, free])
    await seed.close()

    const created = auditq(['hold', 'create', '--tenant', 'acme', '--actor', 'alice', '--reason', 'case 17'])
    expect(created.code, created.stderr).toBe(0)
    const id = created.stdout.trim()
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(auditq(['hold', 'list']).stdout).toMatch(new RegExp(`${id}\\s+acme\\s+tenant acme, actor alice\\s+case 17`))

    expect(auditq(['cleanup', '--older-than', '90d']).code).toBe(0)
    const afterFirst = JSON.parse(auditq(['query', '--tenant-id', 'acme', '--format', 'json']).stdout) as { events: { id: string }[] }
    expect(afterFirst.events.map((e) => e.id)).toContain(held.id)
    expect(afterFirst.events.map((e) => e.id)).not.toContain(free.id)

    expect(auditq(['hold', 'release', id, '--reason', 'case closed']).code).toBe(0)
    expect(auditq(['cleanup', '--older-than', '90d']).code).toBe(0)
    const key = auditq(['keys', 'create', '--tenant', 'acme', '--scopes', 'read', '--name', 'bi'])
    expect(key.code, key.stderr).toBe(0)
    const keyId = /created key (\S+)/.exec(key.stderr)![1]!
    expect(auditq(['keys', 'revoke', keyId]).code).toBe(0)

    const acme = JSON.parse(auditq(['query', '--tenant-id', 'acme', '--format', 'json', '--limit', '100']).stdout) as { events: { id: string }[] }
    expect(acme.events.map((e) => e.id)).not.toContain(held.id)
    const afterRelease = JSON.parse(auditq(['query', '--tenant-id', 'auditq', '--format', 'json', '--limit', '100']).stdout) as { events: { id: string; action: string; actor_id: string; metadata: { what: Record<string, unknown> } }[] }
    const user = `cli:${userInfo().username}`
    const trail = afterRelease.events.filter((e) => e.action.startsWith('auditq.')).reverse()
    expect(trail.map((e) => [e.action, e.actor_id, e.metadata.what['hold_id'] ?? e.metadata.what['key_id']])).toEqual([
      ['auditq.hold.create', user, id],
      ['auditq.hold.release', user, id],
      ['auditq.key.create', user, keyId],
      ['auditq.key.revoke', user, keyId],
    ])
  }, 120_000)
})
