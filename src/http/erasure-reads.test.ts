/**
 * Every HTTP read path of a service with crypto-shredding on: ingest seals, then the page, the
 * event by id, both export formats and the report reveal values before an erasure and show
 * `[erased]` after it, and `actor_id=` keeps filtering through the blind index. Both stores.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { freshStore, type StoreKind } from '../../test/support/app.js'
import { postgresAvailable } from '../../test/support/services.js'
import { loadConfig } from '../config.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { eraseSubject } from '../shred/erase.js'
import { shredderOf } from '../store/shredding-store.js'
import { createLogger } from '../util/logger.js'
import { buildServer } from './server.js'

const hasPostgres = await postgresAvailable()
const silent = createLogger({ level: 'silent' })

for (const kind of ['embedded', 'postgres'] as StoreKind[]) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`HTTP reads with crypto-shredding (${kind})`, () => {
    const cleanups: (() => Promise<void>)[] = []
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    })

    it('reveal before erasure and show [erased] after it on every read path', async () => {
      const t = await freshStore(kind)
      cleanups.push(() => t.dispose())
      const config = loadConfig({ logLevel: 'silent', security: { rateLimitPerSecond: 0 } })
      const shredding = { subjectField: 'actor_id' as const, fields: ['ip_address', 'user_agent', 'metadata.email'], masterKey: randomBytes(32), keyCacheTtlMs: 30_000 }
      const audit = await createAuditLogger({ store: t.store, logger: silent, shredding })
      cleanups.push(() => audit.close())
      const app = await buildServer({ config, audit, logger: silent })
      cleanups.push(() => app.close())

      const posted = await app.inject({
        method: 'POST',
        url: '/v1/events',
        payload: [
          { action: 'doc.view', actor_id: 'u-alice', ip_address: '203.0.113.7', user_agent: 'Firefox/128', metadata: { email: 'alice@example.com', doc: 'd1' } },
          { action: 'doc.view', actor_id: 'u-bob', ip_address: '198.51.100.2', metadata: { email: 'bob@example.com' } },
        ],
      })
      expect(posted.statusCode, posted.body).toBeLessThan(300)
      const [aliceId] = posted.json().ids as string[]

      const read = async () => {
        const page = (await app.inject('/v1/events?actor_id=u-alice')).json()
        const byId = (await app.inject(`/v1/events/${aliceId}`)).json()
        const ndjson = (await app.inject('/v1/events/export?format=ndjson')).body.trim().split('\n').map((line) => JSON.parse(line))
        const csv = (await app.inject('/v1/events/export?format=csv')).body
        const report = (await app.inject('/v1/reports?period=daily')).json()
        return { page, byId, ndjson, csv, report }
      }

      const before = await read()
      expect(before.page.events.map((e: { id: string }) => e.id)).toEqual([aliceId])
      expect(before.byId).toMatchObject({ actor_id: 'u-alice', ip_address: '203.0.113.7', user_agent: 'Firefox/128', metadata: { email: 'alice@example.com', doc: 'd1' } })
      expect(before.ndjson.find((e: { id: string }) => e.id === aliceId)).toMatchObject({ ip_address: '203.0.113.7' })
      expect(before.csv).toContain('203.0.113.7')
      expect(before.report.summary.total).toBe(2)
      expect(before.report.top_actors).toEqual([
        { value: 'u-alice', count: 1 },
        { value: 'u-bob', count: 1 },
      ])

      const reading = audit.store
      await eraseSubject(shredderOf(reading)!, reading.subjectKeys!, (events) => reading.insertBatch(events), { tenant_id: 'default', subject: 'u-alice', reason: 'DSR-7' })

      const after = await read()
      const erased = { actor_id: '[erased]', ip_address: '[erased]', user_agent: '[erased]', metadata: { email: '[erased]', doc: 'd1' } }
      expect(after.page.events.find((e: { id: string }) => e.id === aliceId)).toMatchObject(erased)
      expect(after.byId).toMatchObject(erased)
      expect(after.ndjson.find((e: { id: string }) => e.id === aliceId)).toMatchObject(erased)
      expect(after.ndjson.find((e: { actor_id: string }) => e.actor_id === 'u-bob')).toMatchObject({ ip_address: '198.51.100.2', metadata: { email: 'bob@example.com' } })
      for (const secret of ['u-alice', '203.0.113.7', 'Firefox', 'alice@example.com']) {
        expect(after.csv).not.toContain(secret)
        expect(JSON.stringify(after.ndjson)).not.toContain(secret)
      }
      expect(after.csv).toContain('[erased]')
      // The report still counts the subject's event, now as `[erased]`, beside the erasure record.
      expect(after.report.summary.total).toBe(3)
      expect(after.report.top_actors).toEqual([
        { value: '[erased]', count: 1 },
        { value: 'auditq', count: 1 },
        { value: 'u-bob', count: 1 },
      ])
    })
  })
}
