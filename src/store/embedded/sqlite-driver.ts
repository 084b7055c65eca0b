/**
 * The one way the embedded store (events, integrity, migrations, API keys, the report worker)
 * reaches SQLite, through either of two drivers with one small, better-sqlite3-shaped API:
 *
 * - better-sqlite3, when its native binding loads: the default since Node.js 20 has nothing else.
 *   The binding is missing when its install script never ran (npm 12 skips dependency install
 *   scripts the application did not approve; `--ignore-scripts` does the same) and will not load
 *   when it was built for another Node.js version.
 * - `node:sqlite` (DatabaseSync), built into Node.js 22.13 and later without a flag: needs no
 *   install script, so an application installed by npm 12 works out of the box on those versions.
 *
 * `auto` (the default) takes better-sqlite3 when its binding loads, else node:sqlite when this
 * Node.js has it, else fails with AUDITQ_EMBEDDED_UNAVAILABLE naming every way out. Both drivers
 * are synchronous, read and write the same file format, and are used with the same SQL.
 *
 * Differences papered over here, so callers see better-sqlite3's behaviour on either: errors carry
 * SQLite's result-code name as `code` (sqlite-errors.ts); `transaction(fn)` with `.immediate`;
 * `pragma()`; a closed connection throws better-sqlite3's TypeError; named parameters may come
 * with extra keys. One that is not: node:sqlite returns BLOBs as Uint8Array, not Buffer (see
 * `asBuffer`), and rows with a null prototype.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'
import { AuditqError } from '../../errors.js'
import type { Logger } from '../../util/logger.js'
import { bindingFailure, embeddedUnavailable } from './open-database.js'
import { normalizeNodeSqliteError } from './sqlite-errors.js'

export const EMBEDDED_DRIVERS = ['auto', 'better-sqlite3', 'node:sqlite'] as const
export type EmbeddedDriverSetting = (typeof EMBEDDED_DRIVERS)[number]
export type EmbeddedDriverName = Exclude<EmbeddedDriverSetting, 'auto'>

export interface RunResult {
  changes: number
  lastInsertRowid: number | bigint
}

export interface SqliteStatement<Params extends unknown[] = unknown[], Row = unknown> {
  run(...params: Params): RunResult
  get(...params: Params): Row | undefined
  all(...params: Params): Row[]
  iterate(...params: Params): IterableIterator<Row>
}

/** `fn` in a transaction (a SAVEPOINT when one is already open), rolled back if it throws. */
export interface Transaction<Args extends unknown[], Result> {
  (...args: Args): Result
  deferred(...args: Args): Result
  immediate(...args: Args): Result
  exclusive(...args: Args): Result
}

export interface SqliteDatabase {
  readonly driver: EmbeddedDriverName
  readonly open: boolean
  readonly inTransaction: boolean
  prepare<Params extends unknown[] = unknown[], Row = unknown>(sql: string): SqliteStatement<Params, Row>
  exec(sql: string): void
  /** `PRAGMA <source>`: all rows, or with `simple` the first column of the first row. */
  pragma(source: string, options?: { simple?: boolean }): unknown
  transaction<Args extends unknown[], Result>(fn: (...args: Args) => Result): Transaction<Args, Result>
  /** Idempotent, like better-sqlite3's. */
  close(): void
}

export interface OpenOptions {
  readonly?: boolean
  /** Fail instead of creating the file (always the case with `readonly`). */
  fileMustExist?: boolean
  /** SQLite's busy_timeout: how long a statement waits for another connection's lock. */
  timeoutMs?: number
}

export interface SqliteDriver {
  readonly name: EmbeddedDriverName
  /** Why this one (for the log line): set when `auto` passed over better-sqlite3. */
  readonly reason?: string
  open(file: string, options?: OpenOptions): SqliteDatabase
  /** What the report worker thread `require()`s to open its own connection (report-reader.ts). */
  readonly workerModule: string
}

const require = createRequire(import.meta.url)

/** node:sqlite's surface as used here (the project's @types/node is 20's, which has no node:sqlite). */
interface NodeStatementSync {
  run(...params: unknown[]): RunResult
  get(...params: unknown[]): unknown
  all(...params: unknown[]): unknown[]
  iterate(...params: unknown[]): IterableIterator<unknown>
  setAllowUnknownNamedParameters?(enabled: boolean): void
}
interface NodeDatabaseSync {
  prepare(sql: string): NodeStatementSync
  exec(sql: string): void
  close(): void
  readonly isTransaction?: boolean
}
type NodeSqliteModule = { DatabaseSync: new (file: string, options?: { readOnly?: boolean }) => NodeDatabaseSync }

export function asBuffer(value: Uint8Array): Buffer
export function asBuffer(value: Uint8Array | null | undefined): Buffer | null | undefined
/** A BLOB as a Buffer whichever driver read it (node:sqlite returns a plain Uint8Array). */
export function asBuffer(value: Uint8Array | null | undefined): Buffer | null | undefined {
  if (value === null || value === undefined || Buffer.isBuffer(value)) return value as Buffer | null | undefined
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

const resolved = new Map<EmbeddedDriverSetting, SqliteDriver>()
let logged = false

/**
 * The driver for a setting, chosen once per process and setting (probing better-sqlite3 loads its
 * binding). Logs the choice at info the first time a logger is given.
 */
export function resolveEmbeddedDriver(setting: EmbeddedDriverSetting, logger?: Logger): SqliteDriver {
  let driver = resolved.get(setting)
  if (!driver) {
    driver = chooseDriver(setting)
    resolved.set(setting, driver)
  }
  if (logger && !logged) {
    logged = true
    logger.info(
      { driver: driver.name, node: process.version, ...(driver.reason ? { reason: driver.reason } : {}) },
      driver.name === 'node:sqlite'
        ? "embedded store: SQLite through Node.js's built-in node:sqlite (marked experimental in Node.js 22 and 23)"
        : 'embedded store: SQLite through better-sqlite3',
    )
  }
  return driver
}

function chooseDriver(setting: EmbeddedDriverSetting): SqliteDriver {
  if (setting === 'better-sqlite3') {
    const loaded = loadBetterSqlite()
    if ('error' in loaded) throw embeddedUnavailable(loaded.error, { nodeSqlite: false }) ?? loaded.error
    return loaded.driver
  }
  if (setting === 'node:sqlite') {
    const loaded = loadNodeSqlite()
    if ('error' in loaded) {
      throw new AuditqError(
        'AUDITQ_EMBEDDED_UNAVAILABLE',
        `the embedded store cannot open: AUDITQ_EMBEDDED_DRIVER=node:sqlite, but Node.js ${process.version} has no node:sqlite ` +
          '(built in from Node.js 22.13). Upgrade Node.js, or set AUDITQ_EMBEDDED_DRIVER=auto to use better-sqlite3.',
        { cause: loaded.error },
      )
    }
    return loaded.driver
  }
  const better = loadBetterSqlite()
  if ('driver' in better) return better.driver
  const reason = bindingFailure(better.error)
  // Not a binding problem (a bug, a broken package): show it as it is rather than fall back.
  if (reason === undefined) throw better.error
  const builtIn = loadNodeSqlite()
  if ('error' in builtIn) throw embeddedUnavailable(better.error, { nodeSqlite: true }) ?? better.error
  return { ...builtIn.driver, reason }
}

function loadBetterSqlite(): { driver: SqliteDriver } | { error: unknown } {
  try {
    const Database = require('better-sqlite3') as typeof BetterSqlite3
    // The binding loads on the first connection, not at require: open one to find out.
    new Database(':memory:').close()
    return {
      driver: {
        name: 'better-sqlite3',
        workerModule: require.resolve('better-sqlite3'),
        open: (file, options = {}) =>
          new BetterSqliteDatabase(
            new Database(file, {
              ...(options.readonly ? { readonly: true } : {}),
              ...(options.fileMustExist ? { fileMustExist: true } : {}),
              ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
            }),
          ),
      },
    }
  } catch (error) {
    return { error }
  }
}

function loadNodeSqlite(): { driver: SqliteDriver } | { error: unknown } {
  let sqlite: NodeSqliteModule
  try {
    sqlite = requireNodeSqlite()
  } catch (error) {
    return { error }
  }
  return {
    driver: {
      name: 'node:sqlite',
      workerModule: 'node:sqlite',
      open: (file, options = {}) => {
        if ((options.fileMustExist || options.readonly) && !existsSync(file)) {
          throw new TypeError(`Cannot open database because the directory does not exist or the file is missing: ${file}`)
        }
        let db: NodeDatabaseSync
        try {
          db = new sqlite.DatabaseSync(file, options.readonly ? { readOnly: true } : {})
        } catch (error) {
          throw normalizeNodeSqliteError(error)
        }
        const wrapped = new NodeSqliteDatabase(db)
        // Set before anything else touches the file (the constructor's `timeout` option is newer than 22.13).
        if (options.timeoutMs !== undefined) wrapped.exec(`PRAGMA busy_timeout = ${Math.trunc(options.timeoutMs)}`)
        return wrapped
      },
    },
  }
}

/**
 * Loading node:sqlite on Node.js 22 and 23 emits "ExperimentalWarning: SQLite is an experimental
 * feature", printed to stderr of whatever application embeds the SDK and before every CLI
 * command's output. That one warning (only it, only while loading the module) is filtered: the
 * choice is logged at info by `resolveEmbeddedDriver` instead, saying it is experimental there.
 * report-reader.ts does the same in its worker thread.
 */
function requireNodeSqlite(): NodeSqliteModule {
  const emitWarning = process.emitWarning
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type
    const message = typeof warning === 'string' ? warning : warning.message
    if (type === 'ExperimentalWarning' && message.startsWith('SQLite is an experimental feature')) return
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest)
  } as typeof process.emitWarning
  try {
    return require('node:sqlite') as NodeSqliteModule
  } finally {
    process.emitWarning = emitWarning
  }
}

class BetterSqliteDatabase implements SqliteDatabase {
  readonly driver = 'better-sqlite3'
  constructor(private readonly db: BetterSqlite3.Database) {}
  get open(): boolean {
    return this.db.open
  }
  get inTransaction(): boolean {
    return this.db.inTransaction
  }
  prepare<Params extends unknown[] = unknown[], Row = unknown>(sql: string): SqliteStatement<Params, Row> {
    return this.db.prepare(sql) as unknown as SqliteStatement<Params, Row>
  }
  exec(sql: string): void {
    this.db.exec(sql)
  }
  pragma(source: string, options?: { simple?: boolean }): unknown {
    return this.db.pragma(source, options)
  }
  transaction<Args extends unknown[], Result>(fn: (...args: Args) => Result): Transaction<Args, Result> {
    return this.db.transaction(fn) as unknown as Transaction<Args, Result>
  }
  close(): void {
    if (this.db.open) this.db.close()
  }
}

const rethrow = (error: unknown): never => {
  throw normalizeNodeSqliteError(error)
}

class NodeSqliteStatement implements SqliteStatement {
  constructor(private readonly statement: NodeStatementSync) {}
  run(...params: unknown[]): RunResult {
    try {
      return this.statement.run(...params)
    } catch (error) {
      return rethrow(error)
    }
  }
  get(...params: unknown[]): unknown {
    try {
      return this.statement.get(...params)
    } catch (error) {
      return rethrow(error)
    }
  }
  all(...params: unknown[]): unknown[] {
    try {
      return this.statement.all(...params)
    } catch (error) {
      return rethrow(error)
    }
  }
  *iterate(...params: unknown[]): IterableIterator<unknown> {
    try {
      yield* this.statement.iterate(...params)
    } catch (error) {
      rethrow(error)
    }
  }
}

class NodeSqliteDatabase implements SqliteDatabase {
  readonly driver = 'node:sqlite'
  private closed = false
  constructor(private readonly db: NodeDatabaseSync) {}

  get open(): boolean {
    return !this.closed
  }

  get inTransaction(): boolean {
    if (this.closed) return false
    if (typeof this.db.isTransaction === 'boolean') return this.db.isTransaction
    // Node.js before 22.16 has no isTransaction: BEGIN fails exactly when a transaction is open.
    try {
      this.db.exec('BEGIN')
    } catch {
      return true
    }
    this.db.exec('COMMIT')
    return false
  }

  prepare<Params extends unknown[] = unknown[], Row = unknown>(sql: string): SqliteStatement<Params, Row> {
    let statement: NodeStatementSync
    try {
      statement = this.db.prepare(sql)
    } catch (error) {
      return rethrow(error)
    }
    // better-sqlite3 ignores object keys no parameter names; node:sqlite throws unless told not to.
    statement.setAllowUnknownNamedParameters?.(true)
    return new NodeSqliteStatement(statement) as unknown as SqliteStatement<Params, Row>
  }

  exec(sql: string): void {
    try {
      this.db.exec(sql)
    } catch (error) {
      rethrow(error)
    }
  }

  pragma(source: string, options?: { simple?: boolean }): unknown {
    const rows = this.prepare<[], Record<string, unknown>>(`PRAGMA ${source}`).all()
    if (!options?.simple) return rows
    const first = rows[0]
    return first === undefined ? undefined : Object.values(first)[0]
  }

  /** better-sqlite3's semantics: BEGIN <mode> … COMMIT, or a SAVEPOINT when nested; rolled back on throw. */
  transaction<Args extends unknown[], Result>(fn: (...args: Args) => Result): Transaction<Args, Result> {
    const inMode =
      (mode: 'DEFERRED' | 'IMMEDIATE' | 'EXCLUSIVE') =>
      (...args: Args): Result => {
        const nested = this.inTransaction
        this.exec(nested ? 'SAVEPOINT auditq_nested' : `BEGIN ${mode}`)
        try {
          const result = fn(...args)
          this.exec(nested ? 'RELEASE auditq_nested' : 'COMMIT')
          return result
        } catch (error) {
          // SQLite may already have rolled the whole transaction back (e.g. SQLITE_FULL).
          if (this.inTransaction) {
            if (nested) {
              this.exec('ROLLBACK TO auditq_nested')
              this.exec('RELEASE auditq_nested')
            } else this.exec('ROLLBACK')
          }
          throw error
        }
      }
    const transaction = inMode('DEFERRED') as Transaction<Args, Result>
    transaction.deferred = inMode('DEFERRED')
    transaction.immediate = inMode('IMMEDIATE')
    transaction.exclusive = inMode('EXCLUSIVE')
    return transaction
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.db.close()
  }
}
