/**
 * Queue mode when the spill journal itself is in trouble: Redis down (a private redis-server,
 * stopped) and the journal at its size cap or on a full disk (a real tmpfs filled to ENOSPC). The
 * caller gets the journal's own code, health names the cause, the journal recovers when space
 * returns, and the shared counters count every spill.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { AlertRules } from '../observability/alerts.js'
import { deriveFigures } from '../observability/figures.js'
import { evaluateHealth } from '../observability/health-rules.js'
import { pipelineReader } from '../observability/reading.js'
import { connectRedis, QueueMonitor, queueKeys } from '../queue/redis-streams/index.js'
import { createLogger } from '../util/logger.js'
import { createAuditLogger } from './audit-logger.js'
import type { QueuedAuditLogger, QueueModeOptions } from './queued-logger.js'
import { freshStore } from '../../test/support/app.js'
import { mountSmallDisk, type SmallDisk } from '../../test/fixtures/small-disk.js'
import { redisServerAvailable, startRedisServer, uniqueRedisPrefix, type RedisTestServer } from '../../test/support/redis-server.js'

const hasRedisServer = redisServerAvailable()
const silent = createLogger({ level: 'silent' })

describe.skipIf(!hasRedisServer)('queue-mode SDK when the spill journal cannot take events', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  })

  async function setup(options: { disk?: { skip(): void } } = {}) {
    let disk: SmallDisk | undefined
    if (options.disk) {
      const mounted = await mountSmallDisk({ bytes: 2 * 1024 * 1024 })
      if (!mounted) {
        options.disk.skip()
        throw new Error('unreachable')
      }
      disk = mounted
      cleanups.push(() => mounted.unmount())
    }
    const server: RedisTestServer = await startRedisServer()
    cleanups.push(() => server.destroy())
    const store = await freshStore('embedded')
    cleanups.push(() => store.dispose())
    const prefix = uniqueRedisPrefix('spill-faults')
    const spillDir = disk ? path.join(disk.dir, 'spill') : mkdtempSync(path.join(tmpdir(), 'auditq-spill-'))
    if (!disk) cleanups.push(async () => rmSync(spillDir, { recursive: true, force: true }))
    const open = async (queue: Partial<QueueModeOptions> = {}) => {
      const audit = (await createAuditLogger({
        store: store.store,
        logger: silent,
        redisUrl: server.url,
        queue: { prefix, spillDir, replayEveryMs: 50, redisCommandTimeoutMs: 500, ...queue },
      })) as QueuedAuditLogger
      cleanups.push(() => audit.close())
      return audit
    }
    const counters = async () => {
      const redis = connectRedis(server.url)
      try {
        return await new QueueMonitor(redis, queueKeys({ prefix })).readCounters()
      } finally {
        redis.disconnect()
      }
    }
    return { server, store, disk, spillDir, prefix, open, counters }
  }

  const logMany = (audit: QueuedAuditLogger, count: number, action: string) =>
    Promise.allSettled(Array.from({ length: count }, (_, i) => audit.log({ action, actor_id: `a${i}`, metadata: { pad: 'x'.repeat(200) } })))
  const codes = (results: PromiseSettledResult<string>[]) =>
    [...new Set(results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code] : [])))]

  it('Redis down and the journal at its size cap: callers get AUDITQ_SPILL_FULL, not AUDITQ_QUEUE_FULL', async () => {
    const s = await setup()
    const audit = await s.open({ spillMaxBytes: 64 * 1024 })
    await s.server.stop()
    const results = await logMany(audit, 400, 'over.the.spill.cap')
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0)
    expect(codes(results)).toEqual(['AUDITQ_SPILL_FULL'])
    expect(audit.stats().refused).toBe(results.filter((r) => r.status === 'rejected').length)
  })

  it('Redis down and the disk full: callers get AUDITQ_SPILL_FAILED naming ENOSPC, health says spill_refusing, and events are accepted again once space returns', async (ctx) => {
    const s = await setup({ disk: ctx })
    const audit = await s.open()
    await s.server.stop()
    expect((await logMany(audit, 20, 'before.full')).every((r) => r.status === 'fulfilled')).toBe(true)
    await s.disk!.fill()

    const refused = await logMany(audit, 200, 'disk.full')
    expect(codes(refused)).toEqual(['AUDITQ_SPILL_FAILED'])
    expect(String((refused.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.message)).toContain('ENOSPC')
    expect(audit.spillStats().refusing).toMatchObject({ errno: 'ENOSPC' })
    const reading = await pipelineReader({ store: s.store.store, audit, pingTimeoutMs: 2_000 })()
    const health = evaluateHealth({ ...deriveFigures(reading, undefined, undefined), mode: 'queue', store: reading.store, redis: 'unreachable', spill: reading.spill }, loadConfig({}).monitoring.thresholds)
    expect(health.findings).toContainEqual(expect.objectContaining({ rule: 'spill_refusing', status: 'critical', issue: expect.stringContaining('ENOSPC') }))
    const alerts = new AlertRules({ cooldownMs: 0, dedupPrefix: 'test' }).observe(health.findings, Date.now())
    expect(alerts).toContainEqual(expect.objectContaining({ state: 'firing', rule: 'spill_refusing', issue: expect.stringContaining('ENOSPC') }))

    await s.disk!.free()
    // Within the backoff (at most 5 s) the journal tries a fresh segment and takes events again.
    const deadline = Date.now() + 10_000
    let after: PromiseSettledResult<string>[] = []
    do {
      await new Promise((resolve) => setTimeout(resolve, 100))
      after = await logMany(audit, 50, 'space.back')
    } while (after.some((r) => r.status === 'rejected') && Date.now() < deadline)
    expect(codes(after)).toEqual([])
    expect(audit.spillStats().refusing).toBeNull()
  })

  it('spills made while Redis was down reach the shared spilled counter once it is back, and replayed never passes it', async () => {
    const s = await setup()
    const audit = await s.open()
    await s.server.stop()
    const results = await logMany(audit, 150, 'during.outage')
    expect(codes(results)).toEqual([])
    expect(audit.stats().spilled).toBe(150)
    await s.server.restart()

    const deadline = Date.now() + 20_000
    while (audit.spillStats().events > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(audit.spillStats().events).toBe(0)
    expect(audit.stats()).toMatchObject({ spilled: 150, replayed: 150 })
    let shared = await s.counters()
    for (let i = 0; i < 20 && shared.spilled < 150; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      shared = await s.counters()
    }
    expect(shared).toMatchObject({ spilled: 150, replayed: 150 })
  })

  it('on a full disk, replay moves each spilled event into the queue once: replayed equals spilled', async (ctx) => {
    const s = await setup({ disk: ctx })
    const audit = await s.open()
    await s.server.stop()
    expect(codes(await logMany(audit, 700, 'spilled.then.full'))).toEqual([])
    await s.disk!.fill()
    await s.server.restart()

    const deadline = Date.now() + 20_000
    while (audit.spillStats().events > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    // Before, the checkpoint needed a free block: the first 500 went into Redis again every tick.
    expect(audit.stats()).toMatchObject({ spilled: 700, replayed: 700 })
    expect(audit.spillStats()).toMatchObject({ events: 0, replayFailing: null })
    const redis = connectRedis(s.server.url)
    cleanups.push(async () => redis.disconnect())
    expect(await redis.xlen(queueKeys({ prefix: s.prefix }).events)).toBe(700)
  })

  it('createAuditLogger names the spill directory and the errno when it cannot open the journal', async () => {
    const s = await setup()
    const mounted = await mountSmallDisk({ bytes: 1024 * 1024, inodes: 64 })
    let spillDir: string
    if (mounted) {
      cleanups.push(() => mounted.unmount())
      spillDir = path.join(mounted.dir, 'spill')
      mkdirSync(spillDir)
      await mounted.fillInodes() // no inode left: not even the journal's own directory can be made
    } else {
      // Without a tmpfs: a file where the directory should be, another real errno.
      spillDir = path.join(s.spillDir, 'not-a-dir', 'spill')
      rmSync(path.dirname(spillDir), { force: true })
      await import('node:fs/promises').then((fs) => fs.writeFile(path.dirname(spillDir), ''))
    }
    const failure = await s.open({ spillDir }).then(() => undefined, (error: unknown) => error)
    expect(failure).toMatchObject({ code: 'AUDITQ_SPILL_FAILED', name: 'AuditqError' })
    const message = (failure as Error).message
    expect(message).toContain(mounted ? 'ENOSPC' : 'ENOTDIR')
    expect(message).toContain(path.resolve(spillDir))
    expect((failure as Error).cause).toMatchObject({ code: mounted ? 'ENOSPC' : 'ENOTDIR' })
  })
})
