/**
 * An auditor's offline check, end to end: the real service (both stores) answers proofs and proof
 * bundles only for the caller's tenant; the standalone tools/verify-bundle.mjs, run with a plain
 * `node` and nothing installed beside it, accepts the service's bundle and rejects each tampered
 * copy naming the reason; `auditq export --proof` and `auditq verify-bundle` do the same from the CLI.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { StoreKind } from './support/app.js'
import { startKeyedApp } from './support/keyed-app.js'
import { cliEnv, CLI } from './support/cli.js'
import { postgresAvailable } from './support/services.js'
import { generateSigningKeyPem, parseSigningKey } from '../src/integrity/checkpoint.js'
import { createCheckpoints } from '../src/integrity/make-checkpoints.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']
const pems = generateSigningKeyPem()
const key = parseSigningKey(pems.privateKeyPem)
const dir = mkdtempSync(path.join(tmpdir(), 'auditq-bundle-'))
const publicKeyFile = path.join(dir, 'signing.pub')
writeFileSync(publicKeyFile, pems.publicKeyPem)
// The auditor's copy: the verifier alone, away from the repository and its node_modules.
const auditorDir = mkdtempSync(path.join(tmpdir(), 'auditq-auditor-'))
const standalone = path.join(auditorDir, 'verify-bundle.mjs')
copyFileSync(path.resolve('tools/verify-bundle.mjs'), standalone)
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  rmSync(auditorDir, { recursive: true, force: true })
})

function runStandalone(bundle: string): { code: number | null; out: string } {
  const file = path.join(dir, `bundle-${Math.random().toString(36).slice(2)}.ndjson`)
  writeFileSync(file, bundle)
  const result = spawnSync(process.execPath, [standalone, file, '--public-key', publicKeyFile], { cwd: auditorDir, encoding: 'utf8', env: {} })
  return { code: result.status, out: result.stdout + result.stderr }
}

const records = (text: string) => text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
const text = (list: readonly unknown[]) => list.map((r) => JSON.stringify(r)).join('\n') + '\n'

describe.each(kinds)('proofs and bundles over HTTP (%s)', (kind) => {
  it('a tenant key gets proofs and bundles of its own tenant only; the standalone verifier accepts the bundle and names each tampering', async () => {
    const t = await startKeyedApp(kind)
    try {
      const [acme, globex] = await Promise.all([t.createKey('acme', ['ingest', 'read']), t.createKey('globex', ['ingest', 'read'])])
      const send = async (apiKey: string, events: unknown[]) => {
        const response = await fetch(`${t.baseUrl}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(events) })
        expect(response.status).toBeLessThan(300)
      }
      const events = (n: number, action: string) => Array.from({ length: n }, (_, i) => ({ action, actor_id: `u${i}`, resource_type: 'doc', resource_id: `d${i}`, metadata: { i } }))
      // The bundled events carry the fields auditq.v2 added (hashed only by that form).
      const withAddedFields = (list: ReturnType<typeof events>) =>
        list.map((event, i) => ({
          ...event,
          actor_name: `Zoë ${i}`,
          targets: [{ type: 'doc', id: `d${i}`, name: `Plan ${i}` }, { type: 'folder', id: 'f1' }],
          changes: { title: { before: 'Draft', after: { text: `t${i}`, lang: 'en' } } },
          producer_id: 'web-1',
          producer_seq: i + 1,
        }))
      await send(acme!.key, events(30, 'doc.view'))
      await send(acme!.key, withAddedFields(events(10, 'user.login')))
      await send(globex!.key, events(5, 'doc.view'))
      const get = (url: string, apiKey: string) => fetch(`${t.baseUrl}${url}`, { headers: { authorization: `Bearer ${apiKey}` } })
      const page = (await (await get('/v1/events?limit=100', acme!.key)).json()) as { events: Array<{ id: string; action: string }> }
      const acmeEvent = page.events[0]!
      const globexEvent = ((await (await get('/v1/events?limit=1', globex!.key)).json()) as { events: Array<{ id: string }> }).events[0]!

      // Before any checkpoint with a tree: a clear refusal, not a proof.
      expect(await (await get(`/v1/events/${acmeEvent.id}/proof`, acme!.key)).json()).toMatchObject({ code: 'AUDITQ_NOT_PROVABLE' })
      await createCheckpoints(t.audit.store.integrity!, key)

      const proof = (await (await get(`/v1/events/${acmeEvent.id}/proof`, acme!.key)).json()) as { tenant_id: string; tree_size: number; proof: string[] }
      expect(proof).toMatchObject({ tenant_id: 'acme', tree_size: 40, canonical: 'auditq.v2' })
      expect(proof.proof.length).toBeGreaterThan(0)
      expect((await get(`/v1/events/${globexEvent.id}/proof`, acme!.key)).status).toBe(404)
      expect((await get(`/v1/events/export?proof=true&tenant_id=globex`, acme!.key)).status).toBe(403)

      const response = await get('/v1/events/export?proof=true&action=user.login', acme!.key)
      expect(response.status).toBe(200)
      const bundle = await response.text()
      const lines = records(bundle)
      expect(lines.filter((r) => r.type === 'event').map((r) => r.tenant_id)).toEqual(Array(10).fill('acme'))
      expect(lines.filter((r) => r.type === 'checkpoint').map((r) => (r.checkpoint as { tenant_id: string }).tenant_id)).toEqual(['acme'])
      expect(lines.filter((r) => r.type === 'event').map((r) => r.canonical)).toEqual(Array(10).fill('auditq.v2'))

      const ok = runStandalone(bundle)
      expect(ok.out).toMatch(/^OK: 10 events in 1 tenant/)
      expect(ok.code).toBe(0)

      const firstEvent = lines.findIndex((r) => r.type === 'event')
      const altered = structuredClone(lines)
      ;(altered[firstEvent + 2]!.event as { actor_id: string }).actor_id = 'someone-else'
      const removed = structuredClone(lines)
      removed.splice(firstEvent + 4, 1)
      const reordered = structuredClone(lines)
      ;[reordered[firstEvent + 1], reordered[firstEvent + 2]] = [reordered[firstEvent + 2]!, reordered[firstEvent + 1]!]
      const added = structuredClone(lines)
      added.splice(firstEvent + 5, 0, { ...structuredClone(lines[firstEvent + 5]!), n: 6 })
      const truncated = lines.slice(0, -1)
      const renamedTarget = structuredClone(lines)
      ;(renamedTarget[firstEvent + 3]!.event as { targets: Array<{ name: string }> }).targets[0]!.name = 'Another plan'
      const resequenced = structuredClone(lines)
      ;(resequenced[firstEvent + 3]!.event as { producer_seq: number }).producer_seq = 99
      const cases = { modified: altered, removed, reordered, added, 'modified (targets)': renamedTarget, 'modified (producer_seq)': resequenced }
      for (const [name, copy] of Object.entries(cases)) {
        const result = runStandalone(text(copy))
        expect(result.out, name).toMatch(new RegExp(`^FAILED \\(${name.split(' ')[0]}\\)`))
        expect(result.code, name).toBe(1)
      }
      expect(runStandalone(text(truncated)).out).toMatch(/^FAILED \(removed\): the bundle has no end line/)
    } finally {
      await t.close()
    }
  })
})

describe('the CLI', () => {
  it('auditq export --proof writes a bundle auditq verify-bundle accepts, and a tampered copy fails with exit 1 and its reason', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'auditq-cli-bundle-'))
    const keyFile = path.join(dataDir, 'signing.key')
    writeFileSync(keyFile, pems.privateKeyPem)
    const env = cliEnv({ AUDITQ_SIGNING_KEY_FILE: keyFile })
    const cli = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, '--data-dir', dataDir, ...args], { input, encoding: 'utf8', env })
    try {
      const ndjson = Array.from({ length: 12 }, (_, i) =>
        JSON.stringify({
          action: i % 2 ? 'doc.view' : 'doc.edit',
          actor_id: `u${i}`,
          tenant_id: 'acme',
          actor_name: `Ada ${i}`,
          targets: [{ type: 'doc', id: `d${i}`, name: 'Plan' }],
          changes: { title: { before: null, after: `t${i}` } },
          producer_id: 'batch-1',
          producer_seq: i + 1,
        }),
      ).join('\n')
      expect(cli(['send'], ndjson).status).toBe(0)
      const signed = cli(['checkpoint'])
      expect(signed.stdout).toMatch(/signed acme seq 12 hash [0-9a-f]{64} tree root [0-9a-f]{64}/)
      const bundleFile = path.join(dataDir, 'evidence.ndjson')
      const exported = cli(['export', '--proof', '--tenant-id', 'acme', '--action', 'doc.edit', '--output', bundleFile])
      expect(exported.stderr).toContain('exported 6 events')
      const verified = cli(['verify-bundle', bundleFile, '--public-key', publicKeyFile])
      expect(verified.stdout).toMatch(/^OK: 6 events in 1 tenant/)
      expect(verified.status).toBe(0)
      const lines = records(readFileSync(bundleFile, 'utf8'))
      expect(lines.filter((r) => r.type === 'event').map((r) => r.canonical)).toEqual(Array(6).fill('auditq.v2'))
      // The auditor's standalone copy agrees with the CLI on the same file.
      expect(spawnSync(process.execPath, [standalone, bundleFile, '--public-key', publicKeyFile], { cwd: auditorDir, encoding: 'utf8', env: {} }).stdout).toMatch(/^OK: 6 events in 1 tenant/)
      const at = lines.findIndex((r) => r.type === 'event')
      ;(lines[at]!.event as { changes: { title: { after: string } } }).changes.title.after = 'forged'
      writeFileSync(bundleFile, text(lines))
      const tampered = cli(['verify-bundle', bundleFile, '--public-key', publicKeyFile, '--json'])
      expect(JSON.parse(tampered.stdout)).toMatchObject({ ok: false, failure: { reason: 'modified', tenant_id: 'acme' } })
      expect(tampered.status).toBe(1)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
