/**
 * Runs the test Worker (fixtures/audit-worker.ts, bundled from the TypeScript sources) in
 * workerd through Miniflare, with a local D1 database, the audit queue and its dead-letter queue
 * configured as in examples/cloudflare/*\/wrangler.toml.
 */
import { Miniflare } from 'miniflare'
import { fileURLToPath } from 'node:url'
import type { D1Database } from '../../src/cloudflare/bindings.js'
import { bundleForWorkerd } from './bundle.js'

export const QUEUE = 'audit-events-queue'
export const DLQ = 'audit-events-dlq'

export interface WorkerOptions {
  mode: 'direct' | 'queue'
  /** false: the queue has no consumer, so queued events wait in it. */
  consumer?: boolean
  maxRetries?: number
  /** Constant delay the consumer asks for on retry (default 0). */
  retryDelaySeconds?: number
  loseFirstAcks?: boolean
  /** The DLQ's consumer runs handleAuditBatch (with its own DLQ) instead of recording what arrives. */
  replayDeadLetters?: boolean
}

export interface TestWorker {
  fetch(path: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; json: any }>
  sql<Row = Record<string, unknown>>(query: string, ...params: unknown[]): Promise<Row[]>
  exec(query: string): Promise<void>
  /** The Worker's D1 database, reachable from the test (Miniflare proxies the calls into workerd). */
  db: D1Database
  dispose(): Promise<void>
}

let bundled: Promise<string> | undefined

async function workerCode(): Promise<string> {
  bundled ??= bundleForWorkerd(fileURLToPath(new URL('./fixtures/audit-worker.ts', import.meta.url))).then(({ code, nodeImports }) => {
    if (nodeImports.length > 0) throw new Error(`the test worker reaches Node builtins: ${nodeImports.join(', ')}`)
    return code
  })
  return bundled
}

export async function startWorker(options: WorkerOptions): Promise<TestWorker> {
  const maxRetries = options.maxRetries ?? 2
  const mf = new Miniflare({
    modules: true,
    script: await workerCode(),
    compatibilityDate: '2025-09-01',
    d1Databases: { DB: 'auditq-test' },
    queueProducers: { AUDIT_QUEUE: { queueName: QUEUE } },
    queueConsumers:
      options.consumer === false
        ? {}
        : {
            [QUEUE]: { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries, deadLetterQueue: DLQ, retryDelay: 0 },
            [DLQ]: options.replayDeadLetters
              ? { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries: 100, deadLetterQueue: `${DLQ}-2`, retryDelay: 0 }
              : { maxBatchSize: 10, maxBatchTimeout: 0 },
          },
    bindings: { MODE: options.mode, DLQ_NAME: DLQ, MAX_RETRIES: String(maxRetries), RETRY_DELAY_SECONDS: String(options.retryDelaySeconds ?? 0), LOSE_FIRST_ACKS: String(options.loseFirstAcks ?? false), REPLAY_DEAD_LETTERS: String(options.replayDeadLetters ?? false) },
  })
  const db = await mf.getD1Database('DB')
  const worker: TestWorker = {
    async fetch(path, init = {}) {
      const response = await mf.dispatchFetch(`http://worker${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }),
      })
      return { status: response.status, json: await response.json() }
    },
    async sql(query, ...params) {
      const result = await db.prepare(query).bind(...params).all()
      return result.results as never
    },
    async exec(query) {
      await db.prepare(query).run()
    },
    db: db as unknown as D1Database,
    dispose: () => mf.dispose(),
  }
  const migrated = await worker.fetch('/migrate', { method: 'POST' })
  if (migrated.status !== 200) throw new Error(`migrate failed: ${JSON.stringify(migrated.json)}`)
  await worker.exec('CREATE TABLE test_deliveries (message_id TEXT NOT NULL, attempts INTEGER NOT NULL, queue TEXT)')
  await worker.exec('CREATE TABLE test_handled (message_id TEXT NOT NULL, attempts INTEGER NOT NULL)')
  await worker.exec('CREATE TABLE test_dead_letters (message_id TEXT NOT NULL, body TEXT NOT NULL)')
  return worker
}

/** Polls until `check` returns a value (not undefined) or the deadline passes; no fixed sleeps. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, deadlineMs = 30_000): Promise<T> {
  const until = Date.now() + deadlineMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
