import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../event/types.js'
import { openStore } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import { oldProcessorEvent } from '../../test/support/old-queue-items.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { REDIS_URL } from '../../test/support/services.js'
import { BULK_LOG_EVENTS_JOB, bullmqItemId, IMPORT_FAILED_PREFIX, importBullmq, LOG_EVENT_JOB } from './bullmq.js'

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js')
const prefix = uniqueRedisPrefix('import-bullmq')
let available = false
let redis: Redis
let dir: string
let store: Store
let queue: Queue
let name: string
let run = 0

beforeAll(async () => {
  available = await redisAvailable()
  if (available) redis = new Redis(REDIS_URL)
})

afterAll(async () => {
  if (!available) return
  await deleteKeys(redis, prefix)
  redis.disconnect()
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditq-import-bullmq-'))
  store = await openStore({ dataDir: dir })
  name = `audit${++run}`
  if (available) queue = new Queue(name, { connection: { url: REDIS_URL }, prefix })
})

afterEach(async () => {
  if (available) await queue.close()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

const target = () => ({ store, defaultTenant: 'default' })
const options = (extra: Partial<Parameters<typeof importBullmq>[1]> = {}) => ({ redisUrl: REDIS_URL, queue: name, prefix, batch: 20, lockMs: 5_000, ...extra })
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

async function storedEvents(): Promise<AuditEvent[]> {
  const events: AuditEvent[] = []
  for await (const event of store.stream({})) events.push(event)
  return events
}
const seqs = (events: AuditEvent[]) => events.map((event) => (event.metadata as { seq: number }).seq).sort((a, b) => a - b)

/** Log jobs as the old processor's producers added them: singles for seq in [from, from + singles), then bulks of 10. */
async function addJobs(from: number, singles: number, bulks: number): Promise<number> {
  await queue.addBulk(range(from, from + singles).map((seq) => ({ name: LOG_EVENT_JOB, data: oldProcessorEvent(seq) })))
  let next = from + singles
  for (let b = 0; b < bulks; b++, next += 10) await queue.add(BULK_LOG_EVENTS_JOB, { events: range(next, next + 10).map((seq) => oldProcessorEvent(seq)) })
  return next
}

async function namesIn(state: 'wait' | 'failed' | 'completed' | 'active'): Promise<string[]> {
  return ((await queue.getJobs([state])) as Job[]).map((job) => job.name).sort()
}

describe.runIf(() => available)('import bullmq', () => {
  it('stores every event of every log job once and leaves jobs of other names waiting', async () => {
    const end = await addJobs(0, 40, 5)
    await queue.add('audit-cleanup', { olderThan: '2025-01-01' })
    await queue.add('audit-report', { type: 'daily' })
    const summary = await importBullmq(target(), options())
    expect(summary).toMatchObject({ imported: end, duplicates: 0, invalid: 0, remaining: 0, skipped: 2 })
    const events = await storedEvents()
    expect(seqs(events)).toEqual(range(0, end))
    const single = events.find((event) => event.resource_id === 'g10')!
    expect(single).toMatchObject({ action: 'config.update', actor_id: 'u0', resource_type: 'guild', success: false, session_id: 's1', request_id: 'r10', occurred_at: '2026-01-02T00:00:00.010Z' })
    const firstJob = ((await queue.getJobs(['completed'], 0, -1, true)) as Job[]).find((job) => job.name === LOG_EVENT_JOB && (job.data as { details: { seq: number } }).details.seq === 10)!
    expect(single.id).toBe(bullmqItemId(prefix, name, firstJob, 0))
    expect(await namesIn('wait')).toEqual(['audit-cleanup', 'audit-report'])
    expect(await queue.getCompletedCount()).toBe(45)

    // Nothing is left to take: a second run stores nothing and still leaves the other jobs alone.
    expect(await importBullmq(target(), options())).toMatchObject({ imported: 0, duplicates: 0, skipped: 2 })
    expect(await namesIn('wait')).toEqual(['audit-cleanup', 'audit-report'])
  })

  it('fails a job with an invalid event with the reason, stores its valid siblings, and does not retry it later', async () => {
    await queue.add(LOG_EVENT_JOB, oldProcessorEvent(0, { action: undefined }), { attempts: 3 })
    await queue.add(BULK_LOG_EVENTS_JOB, { events: [oldProcessorEvent(1), oldProcessorEvent(2, { ipAddress: 'nope' }), oldProcessorEvent(3)] })
    await queue.add(BULK_LOG_EVENTS_JOB, { notEvents: true })
    await queue.add(LOG_EVENT_JOB, oldProcessorEvent(4))
    const summary = await importBullmq(target(), options())
    expect(summary).toMatchObject({ imported: 3, invalid: 3, remaining: 0 })
    expect(seqs(await storedEvents())).toEqual([1, 3, 4])
    const failed = (await queue.getJobs(['failed'])) as Job[]
    expect(failed).toHaveLength(3)
    for (const job of failed) expect(job.failedReason.startsWith(IMPORT_FAILED_PREFIX)).toBe(true)
    const reasons = failed.map((job) => job.failedReason).sort()
    expect(reasons.some((reason) => reason.includes('action (required)'))).toBe(true)
    expect(reasons.some((reason) => reason.includes('1 of 3 events not stored') && reason.includes('events[1]: ipAddress (ip_address)'))).toBe(true)
    expect(reasons.some((reason) => reason.includes('{ events: [...] }'))).toBe(true)
    // Kept, with their data, and not retried by a later run.
    expect(await importBullmq(target(), options())).toMatchObject({ imported: 0, invalid: 0 })
    expect((await queue.getJobs(['failed'])).length).toBe(3)
  })

  it('imports jobs the old processor gave up on and jobs waiting out a retry delay', async () => {
    await queue.add(LOG_EVENT_JOB, oldProcessorEvent(0), { attempts: 1 })
    const oldProcessor = new Worker(name, async () => { throw new Error('database down') }, { connection: { url: REDIS_URL }, prefix })
    await new Promise<void>((resolve) => oldProcessor.once('failed', () => resolve()))
    await oldProcessor.close()
    expect(await queue.getFailedCount()).toBe(1)
    await queue.add(LOG_EVENT_JOB, oldProcessorEvent(1), { delay: 3_600_000 })

    const summary = await importBullmq(target(), options())
    expect(summary).toMatchObject({ imported: 2, invalid: 0, remaining: 0 })
    expect(seqs(await storedEvents())).toEqual([0, 1])
    expect(await queue.getCompletedCount()).toBe(2)
  })

  it('waits for jobs a crashed run still holds to come back through the stalled check, and imports them', async () => {
    await addJobs(0, 3, 0)
    // A run that took the jobs (locking them for 1 s) and died without completing them.
    const crashed = new Worker(name, null, { connection: { url: REDIS_URL }, prefix, lockDuration: 1_000, autorun: false })
    for (let i = 0; i < 3; i++) expect(await crashed.getNextJob('crashed-run', { block: false })).toBeDefined()
    await crashed.close()
    expect(await queue.getActiveCount()).toBe(3)

    const summary = await importBullmq(target(), options({ lockMs: 1_000 }))
    expect(summary).toMatchObject({ imported: 3, remaining: 0 })
    expect(seqs(await storedEvents())).toEqual([0, 1, 2])
    expect(await queue.getCompletedCount()).toBe(3)
  })

  it('puts the jobs of a batch the store could not take straight back in the queue', async () => {
    await addJobs(0, 12, 0)
    let calls = 0
    const flaky = {
      insertBatch: (events: readonly AuditEvent[]) => (++calls === 2 ? Promise.reject(new Error('connection reset')) : store.insertBatch(events)),
      classifyError: () => 'transient' as const,
    } as unknown as Store
    const error: unknown = await importBullmq({ store: flaky, defaultTenant: 'default' }, options({ batch: 5 })).catch((caught: unknown) => caught)
    expect((error as { code?: string }).code).toBe('AUDITQ_STORE_UNAVAILABLE')
    expect(await queue.getJobCounts('wait', 'active', 'completed', 'failed')).toEqual({ wait: 7, active: 0, completed: 5, failed: 0 })

    expect(await importBullmq(target(), options({ batch: 5 }))).toMatchObject({ imported: 7, duplicates: 0, remaining: 0 })
    expect(seqs(await storedEvents())).toEqual(range(0, 12))
  })

  it('also drains jobs a producer adds while it runs', async () => {
    let next = await addJobs(0, 300, 0)
    let producing = true
    const producer = (async () => {
      while (producing && next < 500) {
        next = await addJobs(next, 2, 0)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    let addedDuringImport = 0
    await importBullmq(target(), options({ batch: 5, onProgress: () => (addedDuringImport = next - 300) }))
    producing = false
    await producer
    const stored = seqs(await storedEvents())
    const waiting = ((await queue.getJobs(['wait'])) as Job[]).map((job) => (job.data as { details: { seq: number } }).details.seq)
    expect(addedDuringImport).toBeGreaterThan(0)
    expect(stored.filter((seq) => seq >= 300).length).toBeGreaterThan(0)
    expect([...stored, ...waiting].sort((a, b) => a - b)).toEqual(range(0, next))
  })

  it('changes nothing on a dry run, and refuses a paused queue it could not take jobs from', async () => {
    const end = await addJobs(0, 3, 1)
    await queue.add(BULK_LOG_EVENTS_JOB, { events: [{}] })
    expect(await importBullmq(target(), options({ dryRun: true }))).toMatchObject({ imported: end, invalid: 1, remaining: 5 })
    expect(await storedEvents()).toHaveLength(0)
    expect(await queue.getWaitingCount()).toBe(5)

    await queue.pause()
    const error: unknown = await importBullmq(target(), options()).catch((caught: unknown) => caught)
    expect((error as { code?: string }).code).toBe('AUDITQ_BAD_REQUEST')
    expect((error as Error).message).toContain('is paused')
    expect(await queue.getJobCounts('wait', 'active', 'completed')).toEqual({ wait: 5, active: 0, completed: 0 })
  })

  it('loses nothing and stores nothing twice when the CLI is killed mid-import and run again', async () => {
    const end = await addJobs(0, 600, 10)
    const args = ['--data-dir', dir, 'import', 'bullmq', '--queue', name, '--prefix', prefix, '--redis-url', REDIS_URL, '--batch', '20', '--lock-ms', '1000', '--json']
    const env = { ...process.env, AUDITQ_DATABASE_URL: '', AUDITQ_REDIS_URL: '' }
    await store.close() // the CLI opens the same embedded store
    const first = spawn(process.execPath, [CLI, ...args], { env, stdio: 'ignore' })
    const deadline = Date.now() + 60_000
    while (!((await queue.getCompletedCount()) > 100 && (await queue.getActiveCount()) > 0)) {
      if (Date.now() > deadline) throw new Error('the import never got going')
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    first.kill('SIGKILL')
    await new Promise((resolve) => first.once('exit', resolve))
    expect(await queue.getActiveCount()).toBeGreaterThan(0) // held by the dead run until their locks lapse

    // Run again until nothing remains. A run waits up to three lock durations for the dead run's
    // jobs to come back through the stalled check; on a loaded machine the check can come later,
    // and the run then says how many remain (never loses them): running it again is the remedy.
    let remaining = -1
    for (let run = 2; remaining !== 0; run++) {
      expect(run, 'still jobs remaining after 4 runs').toBeLessThanOrEqual(4)
      const again = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      again.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
      again.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      const code = await new Promise((resolve) => again.once('exit', resolve))
      expect(code, stderr).toBe(0)
      const summary = JSON.parse(stdout) as { invalid: number; remaining: number }
      expect(summary.invalid).toBe(0)
      remaining = summary.remaining
    }
    store = await openStore({ dataDir: dir })
    expect(seqs(await storedEvents())).toEqual(range(0, end))
    expect(await queue.getCompletedCount()).toBe(610)
  }, 120_000)
})
