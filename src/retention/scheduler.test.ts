import { afterEach, describe, expect, it } from 'vitest'
import { configFromEnv, loadConfig } from '../config.js'
import { generateSigningKeyPem, parseSigningKey } from '../integrity/checkpoint.js'
import { createLogger } from '../util/logger.js'
import { freshStore, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { RETENTION_ACTION, retentionChunkRows } from './cleanup.js'
import { startMaintenance } from './scheduler.js'

describe('scheduled maintenance in serve / worker', () => {
  let opened: TestStore | undefined
  afterEach(async () => opened?.dispose())

  it('signs moved heads and runs retention on its intervals when configured', async () => {
    opened = await freshStore('embedded')
    const { store } = opened
    const old = storedEvent({ occurred_at: new Date(Date.now() - 100 * 86_400_000).toISOString() })
    const recent = storedEvent()
    await store.insertBatch([old, recent])
    const config = loadConfig({
      logLevel: 'silent',
      integrity: { checkpointIntervalMs: 1_000 },
      retention: { days: 90, intervalMs: 1_000 },
    })
    const maintenance = startMaintenance({
      store,
      config,
      signingKey: parseSigningKey(generateSigningKeyPem().privateKeyPem),
      logger: createLogger({ level: 'silent' }),
    })
    try {
      const deadline = Date.now() + 15_000
      while (Date.now() < deadline && (await store.getById(old.id)) !== null) await new Promise((r) => setTimeout(r, 100))
    } finally {
      await maintenance.stop()
    }
    expect(await store.getById(old.id)).toBeNull()
    expect(await store.getById(recent.id)).not.toBeNull()
    const { events } = await store.query({ action: RETENTION_ACTION }, { limit: 10 })
    expect(events).toHaveLength(1)
    const checkpoints = await store.integrity!.snapshot((s) => s.checkpoints())
    expect(checkpoints.some((c) => c.cut !== null)).toBe(true)
  })

  it('does nothing when neither a key nor retention.days is configured', async () => {
    opened = await freshStore('embedded')
    const maintenance = startMaintenance({ store: opened.store, config: loadConfig({ logLevel: 'silent' }), signingKey: undefined, logger: createLogger({ level: 'silent' }) })
    await maintenance.stop()
    expect(await opened.store.integrity!.snapshot((s) => s.checkpoints())).toEqual([])
  })

  it('deletes in chunks of 500 on the embedded store and 5,000 on PostgreSQL unless retention.chunkRows says otherwise', () => {
    const unset = loadConfig({ logLevel: 'silent' }).retention.chunkRows
    expect(retentionChunkRows(unset, 'embedded')).toBe(500)
    expect(retentionChunkRows(unset, 'postgres')).toBe(5_000)
    const set = loadConfig({ logLevel: 'silent' }, configFromEnv({ AUDITQ_RETENTION_CHUNK_ROWS: '2000' })).retention.chunkRows
    expect(retentionChunkRows(set, 'embedded')).toBe(2_000)
    expect(retentionChunkRows(set, 'postgres')).toBe(2_000)
  })
})
