import { randomUUID } from 'node:crypto'
import type { Job, Queue, Worker } from 'bullmq'
import { AuditqError } from '../errors.js'
import { describeErrors, emptySummary, EventPreparer, stableId, type ImportSummary, type ImportTarget, type ItemOutcome, type SourceItem } from './core.js'

/**
 * Drains a BullMQ queue of `process-log-event` (data: one event) and `process-bulk-log-events`
 * (data: `{ events: [...] }` or an array) jobs into the store.
 *
 * Jobs are taken with BullMQ's own Worker (manual fetching), so BullMQ's locks and stalled-job
 * recovery apply: a job is completed only after its events are stored; a run that dies leaves its
 * jobs active until their locks lapse, when BullMQ's stalled check (this importer's or any worker's)
 * puts them back in the queue. Event ids derive from the job id, so storing a job twice stores nothing twice.
 */
export const LOG_EVENT_JOB = 'process-log-event'
export const BULK_LOG_EVENTS_JOB = 'process-bulk-log-events'
const IMPORTED_JOBS = new Set([LOG_EVENT_JOB, BULK_LOG_EVENTS_JOB])

/** Starts the failedReason of jobs this importer set aside, so later runs do not retry them again. */
export const IMPORT_FAILED_PREFIX = 'auditq import: '

export interface BullmqImportOptions {
  redisUrl: string
  queue: string
  prefix: string
  /** Jobs taken and stored per round. */
  batch: number
  /** BullMQ lock duration for the jobs this run holds (also its stalled-check interval). */
  lockMs: number
  dryRun?: boolean
  onProgress?: (summary: Readonly<ImportSummary>) => void
  /** Stops taking jobs; what is held goes back to the queue. */
  signal?: AbortSignal
}

type BullMQ = typeof import('bullmq')

/** bullmq is an optional peer dependency: only this command needs it, so it loads on demand. */
export async function loadBullmq(load: () => Promise<BullMQ> = () => import('bullmq')): Promise<BullMQ> {
  try {
    return await load()
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw new AuditqError('AUDITQ_IMPORT_UNAVAILABLE', 'importing from BullMQ needs the bullmq package, which is not installed: run `npm install bullmq` in the project that runs auditq', { cause: error })
  }
}

/** The id of event `index` of a job that names none: the job's identity, not its position in the queue. */
export function bullmqItemId(prefix: string, queue: string, job: Pick<Job, 'id' | 'timestamp'>, index: number): string {
  return stableId('auditq-import:bullmq', prefix, queue, String(job.id), String(job.timestamp), String(index))
}

/** The events a job carries; a bulk job whose data is not a list becomes one item that fails validation. */
function jobItems(prefix: string, queue: string, job: Job): SourceItem[] {
  if (job.name === LOG_EVENT_JOB) return [{ value: job.data as unknown, derivedId: bullmqItemId(prefix, queue, job, 0) }]
  const data = job.data as unknown
  const events = Array.isArray(data) ? data : (data as { events?: unknown } | null)?.events
  if (!Array.isArray(events)) {
    return [{ value: undefined, parseError: 'a process-bulk-log-events job must carry { events: [...] } or an array', derivedId: bullmqItemId(prefix, queue, job, 0) }]
  }
  return events.map((value: unknown, index) => ({ value, derivedId: bullmqItemId(prefix, queue, job, index) }))
}

export async function importBullmq(target: ImportTarget, options: BullmqImportOptions): Promise<ImportSummary> {
  const bullmq = await loadBullmq()
  const connection = { url: options.redisUrl, maxRetriesPerRequest: null }
  const queue = new bullmq.Queue(options.queue, { connection, prefix: options.prefix })
  try {
    if (options.dryRun) return await assessQueue(queue, target, options)
    // No worker, ours included, takes jobs from a paused queue: the run would end having done nothing.
    if (await queue.isPaused()) {
      throw new AuditqError('AUDITQ_BAD_REQUEST', `BullMQ queue ${options.prefix}:${options.queue} is paused, so its jobs cannot be taken: resume it first (stop the old processor's workers if they must not take jobs meanwhile)`)
    }
    return await drainQueue(bullmq, queue, target, options)
  } finally {
    await queue.close()
  }
}

const PENDING_STATES = ['wait', 'prioritized', 'delayed'] as const

/** Jobs of the imported names in these states (paged, so a long queue is not read in one reply). */
async function importedJobs(queue: Queue, states: readonly string[]): Promise<Job[]> {
  const found: Job[] = []
  const page = 500
  for (let start = 0; ; start += page) {
    const jobs = (await queue.getJobs(states as never, start, start + page - 1, true)) as Job[]
    for (const job of jobs) if (job && IMPORTED_JOBS.has(job.name)) found.push(job)
    if (jobs.length < page) return found
  }
}

async function remainingJobs(queue: Queue): Promise<number> {
  return (await importedJobs(queue, [...PENDING_STATES, 'active'])).length
}

async function assessQueue(queue: Queue, target: ImportTarget, options: BullmqImportOptions): Promise<ImportSummary> {
  const summary = emptySummary()
  const preparer = new EventPreparer(target)
  const jobs = [...(await importedJobs(queue, [...PENDING_STATES, 'active'])), ...(await retriableFailures(queue))]
  for (const job of jobs) {
    await preparer.assess(jobItems(options.prefix, options.queue, job), summary)
    options.onProgress?.(summary)
  }
  summary.remaining = jobs.length
  return summary
}

/** Failed jobs the old processor gave up on: events it never stored. Ones this importer set aside stay failed. */
async function retriableFailures(queue: Queue): Promise<Job[]> {
  return (await importedJobs(queue, ['failed'])).filter((job) => !job.failedReason?.startsWith(IMPORT_FAILED_PREFIX))
}

/** Puts delayed and failed log jobs back in line, so the worker below takes them now. */
async function requeueParked(queue: Queue): Promise<number> {
  let moved = 0
  for (const job of await importedJobs(queue, ['delayed'])) {
    if (await job.promote().then(() => true, () => false)) moved += 1 // already moved on by someone else
  }
  for (const job of await retriableFailures(queue)) {
    if (await job.retry('failed').then(() => true, () => false)) moved += 1
  }
  return moved
}

async function drainQueue(bullmq: BullMQ, queue: Queue, target: ImportTarget, options: BullmqImportOptions): Promise<ImportSummary> {
  const summary = emptySummary()
  const preparer = new EventPreparer(target)
  const connection = { url: options.redisUrl, maxRetriesPerRequest: null }
  const worker: Worker = new bullmq.Worker(options.queue, null, {
    connection,
    prefix: options.prefix,
    autorun: false,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
  })
  const token = `auditq-import-${randomUUID()}`
  /** Jobs this run holds: the batch being stored, and other jobs set aside until the end. */
  const held = new Set<Job>()
  const others: Job[] = []
  // Manual fetching does not renew locks: renew them well inside the lock duration.
  const renew = setInterval(() => {
    for (const job of held) void job.extendLock(token, options.lockMs).catch(() => undefined)
  }, Math.max(250, Math.floor(options.lockMs / 3)))
  try {
    await worker.startStalledCheckTimer()
    await requeueParked(queue)
    // A lapsed lock is seen by the stalled check in at most two of its intervals.
    const activeWaitUntil = () => Date.now() + 3 * options.lockMs
    let idleDeadline: number | undefined
    while (!options.signal?.aborted) {
      const batch: Job[] = []
      while (batch.length < options.batch) {
        const job = (await worker.getNextJob(token, { block: false })) as Job | undefined
        if (!job) break
        held.add(job)
        if (IMPORTED_JOBS.has(job.name)) batch.push(job)
        else others.push(job) // not an audit event: returned to the queue untouched at the end
      }
      if (batch.length > 0) {
        idleDeadline = undefined
        await settleJobs(batch, preparer, summary, token, options, bullmq)
        for (const job of batch) held.delete(job)
        summary.remaining = await queue.getWaitingCount()
        options.onProgress?.(summary)
        continue
      }
      if ((await requeueParked(queue)) > 0) continue
      // Jobs still active elsewhere may be a crashed run's: wait for the stalled check to return
      // them (or their holder to finish them), for at most three lock durations.
      if ((await importedJobs(queue, ['active'])).length === 0) break
      idleDeadline ??= activeWaitUntil()
      if (Date.now() > idleDeadline) break
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, options.lockMs / 4)))
    }
  } finally {
    clearInterval(renew)
    // Jobs of other names, and a batch the store could not take: back in line now rather than
    // after their locks lapse (a stall counts against BullMQ's maxStalledCount). A job completed
    // or failed meanwhile refuses the move, which is what we want.
    for (const job of held) await job.moveToWait(token).catch(() => undefined)
    await worker.close()
  }
  summary.skipped = others.length
  summary.remaining = await remainingJobs(queue)
  return summary
}

async function settleJobs(jobs: Job[], preparer: EventPreparer, summary: ImportSummary, token: string, options: BullmqImportOptions, bullmq: BullMQ): Promise<void> {
  const perJob = jobs.map((job) => jobItems(options.prefix, options.queue, job))
  // Throws when the store is unavailable: the jobs are still held, and drainQueue puts them back in the queue.
  const outcomes = await preparer.store(perJob.flat(), summary)
  let offset = 0
  for (const [position, job] of jobs.entries()) {
    const mine: ItemOutcome[] = outcomes.slice(offset, offset + perJob[position]!.length)
    offset += perJob[position]!.length
    const failures = mine.flatMap((outcome, index) => (outcome.ok ? [] : [`events[${index}]: ${describeErrors(outcome.errors)}`]))
    if (failures.length === 0) {
      await job.moveToCompleted({ importedBy: 'auditq' }, token, false)
    } else {
      // Unrecoverable: retrying cannot make an event valid. The job (with its data) stays failed, with the reason.
      const reason = job.name === LOG_EVENT_JOB ? failures[0]!.replace(/^events\[0\]: /, '') : `${failures.length} of ${mine.length} events not stored (the others were): ${failures.join(' | ')}`
      await job.moveToFailed(new bullmq.UnrecoverableError(IMPORT_FAILED_PREFIX + reason), token, false)
    }
  }
}
