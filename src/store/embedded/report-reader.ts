/**
 * Runs the embedded store's report statements on a worker thread with a read-only connection of
 * its own, so a report over a large file never holds the service's event loop: better-sqlite3 is
 * synchronous, and a monthly report over 1M events takes over a second (BENCHMARKS.md), during
 * which in-process ingest would otherwise stop.
 *
 * The worker is plain JavaScript evaluated from a string: it only opens the file and runs the SQL
 * it is sent (built and shaped on the main thread by report-sql.ts), so it needs no build step and
 * runs the same under the compiled CLI and under the test runner. All statements of one request
 * run in one read transaction, hence one WAL snapshot.
 */
import { createRequire } from 'node:module'
import { AuditqError } from '../../errors.js'
import { Worker } from 'node:worker_threads'

export interface Statement {
  sql: string
  params: unknown[]
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file, { readonly: true, fileMustExist: true, timeout: workerData.busyTimeoutMs })
const prepared = new Map()
const statement = (sql) => {
  let found = prepared.get(sql)
  if (!found) prepared.set(sql, (found = db.prepare(sql)))
  return found
}
const readAll = db.transaction((statements) => statements.map((s) => statement(s.sql).all(...s.params)))
parentPort.on('message', ({ id, statements }) => {
  try {
    parentPort.postMessage({ id, results: readAll(statements) })
  } catch (error) {
    parentPort.postMessage({ id, error: { message: String(error && error.message), code: error && error.code } })
  }
})
`

interface Pending {
  resolve: (results: unknown[][]) => void
  reject: (error: Error) => void
}

/** An error from the worker, keeping SQLite's code so the store can classify it. */
export class ReportReadError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message)
    this.name = 'ReportReadError'
  }
}

export class ReportReader {
  private worker: Worker | undefined
  private readonly pending = new Map<number, Pending>()
  private nextId = 1

  constructor(private readonly settings: { file: string; busyTimeoutMs: number }) {}

  /**
   * Every statement's rows, all read from one snapshot. After `timeoutMs` the worker is
   * terminated (SQLite cannot be interrupted from another thread through better-sqlite3), which
   * ends its read transaction; the next report starts a new one.
   */
  read(statements: readonly Statement[], timeoutMs?: number): Promise<unknown[][]> {
    const worker = this.start()
    const id = this.nextId++
    const result = new Promise<unknown[][]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      // The worker keeps the process alive only while a report is outstanding.
      worker.ref()
      worker.postMessage({ id, statements })
    })
    if (timeoutMs === undefined) return result
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (this.worker === worker) this.worker = undefined
        // Terminating fails every report this worker was running, this one included; say why first.
        const error = new AuditqError('AUDITQ_STORE_UNAVAILABLE', `the report did not finish within ${timeoutMs} ms and was cancelled`)
        this.failAll(error)
        void worker.terminate()
        reject(error)
      }, timeoutMs)
    })
    deadline.catch(() => undefined)
    return Promise.race([result, deadline]).finally(() => clearTimeout(timer))
  }

  async close(): Promise<void> {
    const worker = this.worker
    this.worker = undefined
    if (worker) await worker.terminate()
    this.failAll(new ReportReadError('the store was closed while a report was running', undefined))
  }

  private start(): Worker {
    if (this.worker) return this.worker
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        file: this.settings.file,
        busyTimeoutMs: this.settings.busyTimeoutMs,
      },
    })
    worker.on('message', (message: { id: number; results?: unknown[][]; error?: { message: string; code?: string } }) => {
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (this.pending.size === 0) worker.unref()
      if (!waiting) return
      if (message.error) waiting.reject(new ReportReadError(message.error.message, message.error.code))
      else waiting.resolve(message.results ?? [])
    })
    // A crashed worker (e.g. the file vanished) fails what it was doing; the next report starts a
    // new one. A worker already retired (timed out, closed) had its reports failed then: its late
    // exit must not touch the reports of the worker that replaced it.
    worker.on('error', (error) => {
      if (this.worker !== worker) return
      this.worker = undefined
      this.failAll(new ReportReadError(`report worker failed: ${error.message}`, (error as { code?: string }).code))
    })
    worker.on('exit', () => {
      if (this.worker !== worker) return
      this.worker = undefined
      this.failAll(new ReportReadError('report worker exited', undefined))
    })
    worker.unref()
    this.worker = worker
    return worker
  }

  private failAll(error: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(error)
    this.pending.clear()
  }
}
