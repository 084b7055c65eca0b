/**
 * Runs the embedded store's report statements on a worker thread with a read-only connection of
 * its own, so a report over a large file never holds the service's event loop: both SQLite drivers
 * are synchronous, and a monthly report over 1M events takes over a second (BENCHMARKS.md), during
 * which in-process ingest would otherwise stop.
 *
 * The worker is plain JavaScript evaluated from a string: it only opens the file and runs the SQL
 * it is sent (built and shaped on the main thread by report-sql.ts), so it needs no build step and
 * runs the same under the compiled CLI and under the test runner. All statements of one request
 * run in one read transaction, hence one WAL snapshot.
 */
import { AuditqError } from '../../errors.js'
import { Worker } from 'node:worker_threads'
import { sqliteCodeName } from './sqlite-errors.js'
import type { SqliteDriver } from './sqlite-driver.js'

export interface Statement {
  sql: string
  params: unknown[]
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
function open() {
  if (workerData.driver !== 'node:sqlite') {
    const Database = require(workerData.driver)
    return new Database(workerData.file, { readonly: true, fileMustExist: true, timeout: workerData.busyTimeoutMs })
  }
  // Only node:sqlite's own ExperimentalWarning is kept off stderr, as on the main thread (sqlite-driver.ts).
  const emitWarning = process.emitWarning
  process.emitWarning = function (warning, ...rest) {
    const type = typeof rest[0] === 'string' ? rest[0] : rest[0] && rest[0].type
    const message = typeof warning === 'string' ? warning : warning.message
    if (type === 'ExperimentalWarning' && message.startsWith('SQLite is an experimental feature')) return
    return emitWarning.call(process, warning, ...rest)
  }
  let sqlite
  try {
    sqlite = require('node:sqlite')
  } finally {
    process.emitWarning = emitWarning
  }
  if (!require('node:fs').existsSync(workerData.file)) throw new Error('database file is missing: ' + workerData.file)
  const db = new sqlite.DatabaseSync(workerData.file, { readOnly: true })
  db.exec('PRAGMA busy_timeout = ' + Math.trunc(workerData.busyTimeoutMs))
  return db
}
const db = open()
const prepared = new Map()
const statement = (sql) => {
  let found = prepared.get(sql)
  if (!found) prepared.set(sql, (found = db.prepare(sql)))
  return found
}
// One read transaction, hence one WAL snapshot, for all statements of a request (either driver).
function readAll(statements) {
  db.exec('BEGIN')
  try {
    const results = statements.map((s) => statement(s.sql).all(...s.params))
    db.exec('COMMIT')
    return results
  } catch (error) {
    try { db.exec('ROLLBACK') } catch {}
    throw error
  }
}
parentPort.on('message', ({ id, statements }) => {
  try {
    parentPort.postMessage({ id, results: readAll(statements) })
  } catch (error) {
    // better-sqlite3 names the SQLite code; node:sqlite gives its number (named on the main thread).
    parentPort.postMessage({ id, error: { message: String(error && error.message), code: error && error.code, errcode: error && error.errcode } })
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

  constructor(private readonly settings: { file: string; busyTimeoutMs: number; driver: SqliteDriver }) {}

  /**
   * Every statement's rows, all read from one snapshot. After `timeoutMs` the worker is
   * terminated (SQLite cannot be interrupted from another thread through either driver), which
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
      // The worker inherits the process's flags; under `node --input-type=module` it would evaluate
      // this CommonJS source as ESM and die on `require`. Every other flag still applies.
      execArgv: process.execArgv.filter((flag) => !flag.startsWith('--input-type')),
      workerData: {
        driver: this.settings.driver.workerModule,
        file: this.settings.file,
        busyTimeoutMs: this.settings.busyTimeoutMs,
      },
    })
    worker.on('message', (message: { id: number; results?: unknown[][]; error?: { message: string; code?: string; errcode?: number } }) => {
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (this.pending.size === 0) worker.unref()
      if (!waiting) return
      if (message.error) {
        const { message: text, code, errcode } = message.error
        waiting.reject(new ReportReadError(text, code === 'ERR_SQLITE_ERROR' ? (sqliteCodeName(errcode) ?? code) : code))
      } else waiting.resolve(message.results ?? [])
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
