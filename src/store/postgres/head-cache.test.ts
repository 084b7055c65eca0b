/**
 * The head cache only ever offers links: the server takes them when the locked heads are the ones
 * this process last wrote, and computes its own otherwise. These tests hold both paths to the same
 * stored chain, byte for byte, and show a stale or wrong cache entry is refused.
 */
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../event/types.js'
import { verifyChains } from '../../integrity/verify.js'
import { BatchMetrics, newRegistry } from '../../observability/metrics.js'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { createPostgresStore, type PostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()

describe.skipIf(!hasPostgres)('postgres chain head cache', () => {
  const schemas = new Set<string>()
  const opened: PostgresStore[] = []

  async function open(schema = uniqueSchema('heads')): Promise<PostgresStore> {
    schemas.add(schema)
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
    opened.push(store)
    await store.migrate()
    return store
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()))
  })
  afterAll(() => dropSchemas(schemas))

  const batch = (label: string, size = 40): AuditEvent[] =>
    Array.from({ length: size }, (_, i) => storedEvent({ tenant_id: i % 3 === 0 ? 'globex' : 'acme', description: `${label}-${i}` }))

  async function chainOf(store: PostgresStore): Promise<unknown[]> {
    const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${store.schemaName}` })
    await client.connect()
    try {
      const { rows } = await client.query('SELECT tenant_id, seq, id, prev_hash, hash FROM audit_logs ORDER BY tenant_id, seq')
      return rows
    } finally {
      await client.end()
    }
  }

  it("stores exactly the chain the server computes when a sole writer's links are taken", async () => {
    const offering = await open()
    const computing = await open()
    const batches = ['a', 'b', 'c', 'd'].map((label) => batch(label))
    for (const events of batches) {
      await offering.insertBatch(events)
      // Forgetting the heads before every batch makes this store leave all linking to the server.
      computing.chainHeads.fail(['acme', 'globex'])
      await computing.insertBatch(events)
    }
    // The first batch had no heads to start from; every later one was offered and taken.
    expect(offering.chainHeads.stats).toEqual({ offered: 3, taken: 3 })
    expect(computing.chainHeads.stats).toEqual({ offered: 0, taken: 0 })
    const chain = await chainOf(offering)
    expect(chain).toHaveLength(160)
    expect(chain).toEqual(await chainOf(computing))
    expect(await verifyChains('postgres', offering.integrity)).toMatchObject({ intact: true, events: 160 })
  })

  it('is refused once another process has moved the head, and then backs off', async () => {
    const schema = uniqueSchema('heads')
    const first = await open(schema)
    const second = await open(schema) // another process on the same database
    await first.insertBatch(batch('a'))
    await first.insertBatch(batch('b'))
    await second.insertBatch(batch('c'))
    await first.insertBatch(batch('d'))
    expect(first.chainHeads.stats).toEqual({ offered: 2, taken: 1 })
    // Refused once: the next batch goes without an offer.
    await first.insertBatch(batch('e'))
    expect(first.chainHeads.stats.offered).toBe(2)
    await first.insertBatch(batch('f'))
    expect(first.chainHeads.stats).toEqual({ offered: 3, taken: 2 })
    expect(await verifyChains('postgres', first.integrity)).toMatchObject({ intact: true, events: 240 })
    // What an operator sees on /metrics for this process.
    const metrics = new BatchMetrics(newRegistry())
    metrics.observeChainWrites(first)
    const scraped = await metrics.registry.metrics()
    expect(scraped).toContain('auditq_chain_link_offers_total{outcome="taken"} 2\n')
    expect(scraped).toContain('auditq_chain_link_offers_total{outcome="refused"} 1\n')
  })

  it('refuses links computed from a wrong head, whether its seq or only its hash is wrong', async () => {
    const store = await open()
    const acme = (label: string, size = 10) => Array.from({ length: size }, (_, i) => storedEvent({ tenant_id: 'acme', description: `${label}-${i}` }))
    const forge = (seq: number, hash: string) => store.chainHeads.settle(['acme'], [seq], [hash], { offered: false, taken: false })
    await store.insertBatch(acme('a'))
    forge(11, 'ab'.repeat(32)) // the seq is one ahead of the real head (10)
    await store.insertBatch(acme('b'))
    expect(store.chainHeads.stats).toEqual({ offered: 1, taken: 0 })
    await store.insertBatch(acme('c')) // backing off after the refusal: not offered
    forge(30, 'ef'.repeat(32)) // the real seq, a made-up hash
    await store.insertBatch(acme('d'))
    expect(store.chainHeads.stats).toEqual({ offered: 2, taken: 0 })
    expect(await verifyChains('postgres', store.integrity)).toMatchObject({ intact: true, events: 40 })
  })
})
