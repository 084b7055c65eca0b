import type { QueueRedis } from '../queue/redis-streams/connection.js'
import { describeErrors, emptySummary, EventPreparer, parseItem, stableId, type ImportSummary, type ImportTarget, type SourceItem } from './core.js'

/**
 * Drains a Redis list fed with LPUSH (JSON events, newest at the head) into the store.
 *
 * At-least-once and resumable: each item is moved atomically (LMOVE, oldest first) onto a
 * processing list before it is read, stored, and only then removed from the processing list. A run
 * that dies leaves its in-flight items on the processing list, and the next run stores those first.
 * Storing twice is harmless because an item's event id is derived from its bytes.
 * Producers still pushing to the list are unaffected: LPUSH adds at the head, LMOVE takes from the tail.
 */
export interface RedisListImportOptions {
  redis: QueueRedis
  key: string
  /** Items moved and stored per round trip. */
  batch: number
  dryRun?: boolean
  onProgress?: (summary: Readonly<ImportSummary>) => void
  /** Stops after the batch in hand is settled; nothing is left on the processing list. */
  signal?: AbortSignal
}

export interface RedisListImportResult extends ImportSummary {
  processingKey: string
  failedKey: string
}

/** Where a run keeps the items it is storing; what a crashed run left here is recovered first. */
export function processingKeyOf(key: string): string {
  return `${key}:auditq-import:processing`
}

/** Where items that cannot be stored are kept, each with its reason (nothing is deleted). */
export function failedKeyOf(key: string): string {
  return `${key}:auditq-import:failed`
}

/** The id an item that names none is stored under: a hash of its exact bytes (see docs/decisions.md). */
export function redisItemId(raw: Buffer): string {
  return stableId('auditq-import:redis-list', raw)
}

export async function importRedisList(target: ImportTarget, options: RedisListImportOptions): Promise<RedisListImportResult> {
  const { redis, key, batch } = options
  const processingKey = processingKeyOf(key)
  const failedKey = failedKeyOf(key)
  const summary = emptySummary()
  const preparer = new EventPreparer(target)
  const report = () => options.onProgress?.(summary)
  summary.remaining = await redis.llen(key)

  if (options.dryRun) {
    // Read-only: the processing list (a crashed run's leftovers) then the list itself, oldest first.
    for (const list of [processingKey, key]) {
      const length = await redis.llen(list)
      for (let end = length - 1; end >= 0; end -= batch) {
        const raws = await redis.lrangeBuffer(list, Math.max(0, end - batch + 1), end)
        await preparer.assess(raws.reverse().map(toItem), summary)
        report()
      }
    }
    summary.remaining = await redis.llen(key)
    return { ...summary, processingKey, failedKey }
  }

  const settle = async (raws: Buffer[]): Promise<void> => {
    const outcomes = await preparer.store(raws.map(toItem), summary)
    // Set-aside entries and removals in one transaction: an item leaves the processing list only
    // once it is stored or its failure record is written.
    const tx = redis.multi()
    outcomes.forEach((outcome, index) => {
      const raw = raws[index]!
      if (!outcome.ok) {
        tx.lpush(failedKey, JSON.stringify({ item: raw.toString('utf8'), error: describeErrors(outcome.errors), errors: outcome.errors, at: new Date().toISOString() }))
      }
      tx.lrem(processingKey, 1, raw)
    })
    await tx.exec()
    summary.remaining = await redis.llen(key)
    report()
  }

  // 1. What a crashed run left behind: stored (or found already stored) before anything new is taken.
  const leftover = await redis.lrangeBuffer(processingKey, 0, -1)
  leftover.reverse() // LMOVE ... LEFT puts the newest move at the head; oldest first is the tail.
  for (let start = 0; start < leftover.length; start += batch) await settle(leftover.slice(start, start + batch))

  // 2. The list itself, until a look finds it empty.
  while (!options.signal?.aborted) {
    const pipeline = redis.pipeline()
    for (let i = 0; i < batch; i++) pipeline.lmoveBuffer(key, processingKey, 'RIGHT', 'LEFT')
    const results = (await pipeline.exec()) ?? []
    const raws: Buffer[] = []
    for (const [error, value] of results) {
      if (error) throw error
      if (value) raws.push(value as Buffer)
    }
    if (raws.length === 0) break
    await settle(raws)
  }
  summary.remaining = await redis.llen(key)
  return { ...summary, processingKey, failedKey }
}

function toItem(raw: Buffer): SourceItem {
  return parseItem(raw.toString('utf8'), redisItemId(raw))
}
