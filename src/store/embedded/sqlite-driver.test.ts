/**
 * The driver layer itself. Runs in the normal suite on the project's Node.js 20 (better-sqlite3;
 * node:sqlite absent) and again under Node.js 22 from test/node22/embedded-on-node22.test.ts,
 * which sets AUDITQ_TEST_EXPECT_DRIVER to the driver `auto` must pick there.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { isBuiltin } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { buildEmbeddedStore } from '../../../test/fixtures/embedded-child.js'
import { embeddedDriverFromEnv } from '../../config.js'
import { AuditqError } from '../../errors.js'
import { asBuffer, resolveEmbeddedDriver } from './sqlite-driver.js'
import { sqliteCodeName } from './sqlite-errors.js'

// Asked without loading it: loading it here would print the ExperimentalWarning this file checks is held back.
const hasNodeSqlite = isBuiltin('node:sqlite')

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('embedded SQLite driver selection', () => {
  it('auto takes better-sqlite3 where its binding loads, and node:sqlite where it does not', () => {
    expect(resolveEmbeddedDriver('auto').name).toBe(process.env.AUDITQ_TEST_EXPECT_DRIVER ?? 'better-sqlite3')
  })

  it('logs the driver in use once, at info, with the reason when better-sqlite3 was passed over', () => {
    const lines: Array<Record<string, unknown>> = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) })
    const driver = resolveEmbeddedDriver('auto', logger)
    resolveEmbeddedDriver('auto', logger)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 30, driver: driver.name, node: process.version })
    if (driver.name === 'node:sqlite') expect(String(lines[0]!.reason)).toMatch(/^better-sqlite3's native binding (is missing|failed to load)/)
  })

  it.runIf(!hasNodeSqlite)('forcing node:sqlite on a Node.js without it fails with AUDITQ_EMBEDDED_UNAVAILABLE naming the version that has it', () => {
    const error = (() => {
      try {
        resolveEmbeddedDriver('node:sqlite')
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(AuditqError)
    expect((error as AuditqError).code).toBe('AUDITQ_EMBEDDED_UNAVAILABLE')
    expect((error as AuditqError).message).toContain('Node.js 22.13')
  })

  it('refuses an unknown AUDITQ_EMBEDDED_DRIVER with AUDITQ_CONFIG naming the variable and the choices', () => {
    expect(embeddedDriverFromEnv({})).toBe('auto')
    expect(embeddedDriverFromEnv({ AUDITQ_EMBEDDED_DRIVER: 'node:sqlite' })).toBe('node:sqlite')
    expect(() => embeddedDriverFromEnv({ AUDITQ_EMBEDDED_DRIVER: 'sqlite3' })).toThrow(
      expect.objectContaining({ code: 'AUDITQ_CONFIG', message: expect.stringContaining('AUDITQ_EMBEDDED_DRIVER: must be one of auto, better-sqlite3, node:sqlite') }),
    )
  })
})

describe('either driver behaves as the embedded store expects (AUDITQ_EMBEDDED_DRIVER picks which)', () => {
  const driver = resolveEmbeddedDriver(embeddedDriverFromEnv(process.env))
  function fresh() {
    const dir = mkdtempSync(path.join(tmpdir(), 'auditq-driver-'))
    dirs.push(dir)
    const file = path.join(dir, 'test.db')
    const db = driver.open(file, { timeoutMs: 5_000 })
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, b BLOB) STRICT')
    return { db, file }
  }

  it('rolls a throwing transaction back, and a nested one back to its savepoint only', () => {
    const { db } = fresh()
    const insert = db.prepare<[{ id: number; v: string; extra: string }]>('INSERT INTO t (id, v) VALUES (@id, @v)')
    const inner = db.transaction((id: number) => {
      insert.run({ id, v: 'inner', extra: 'ignored like better-sqlite3 does' })
      throw new Error('inner fails')
    })
    const outer = db.transaction(() => {
      insert.run({ id: 1, v: 'outer', extra: '' })
      expect(() => inner(2)).toThrow('inner fails')
      expect(db.inTransaction).toBe(true)
      return 'committed'
    })
    expect(outer.immediate()).toBe('committed')
    expect(db.inTransaction).toBe(false)
    const failing = db.transaction(() => {
      insert.run({ id: 3, v: 'x', extra: '' })
      throw new Error('outermost fails')
    })
    expect(() => failing()).toThrow('outermost fails')
    expect(db.prepare<[], { id: number }>('SELECT id FROM t ORDER BY id').all().map((row) => row.id)).toEqual([1])
    db.close()
  })

  it("takes the write lock at BEGIN IMMEDIATE, so another connection's writer waits its busy timeout and gets SQLITE_BUSY", () => {
    const { db, file } = fresh()
    const other = driver.open(file, { timeoutMs: 50 })
    db.transaction(() => {
      const started = Date.now()
      expect(() => other.exec('BEGIN IMMEDIATE')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^SQLITE_BUSY/) }))
      expect(Date.now() - started).toBeGreaterThanOrEqual(40)
    }).immediate()
    other.close()
    db.close()
  })

  it('reads pragmas, returns BLOBs as bytes (asBuffer makes them Buffers), and throws a TypeError once closed', () => {
    const { db } = fresh()
    expect(db.pragma('journal_mode = WAL', { simple: true })).toBe('wal')
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5_000)
    db.prepare('INSERT INTO t (id, v, b) VALUES (?, ?, ?)').run(1, 'x', Buffer.from('0102', 'hex'))
    const row = db.prepare<[], { b: Uint8Array }>('SELECT b FROM t').get()!
    expect(asBuffer(row.b)).toEqual(Buffer.from('0102', 'hex'))
    expect(() => db.prepare('INSERT INTO t (id, v) VALUES (2, NULL)').run()).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_NOTNULL' }))
    db.close()
    db.close()
    expect(db.open).toBe(false)
    expect(() => db.prepare('SELECT 1')).toThrow(TypeError)
  })
})

describe("node:sqlite errors under better-sqlite3's codes", () => {
  it('names primary and extended result codes the way better-sqlite3 does', () => {
    expect(sqliteCodeName(5)).toBe('SQLITE_BUSY')
    expect(sqliteCodeName(5 | (3 << 8))).toBe('SQLITE_BUSY_TIMEOUT')
    expect(sqliteCodeName(13)).toBe('SQLITE_FULL')
    expect(sqliteCodeName(10 | (4 << 8))).toBe('SQLITE_IOERR_FSYNC')
    expect(sqliteCodeName(10 | (34 << 8))).toBe('SQLITE_IOERR_IN_PAGE')
    expect(sqliteCodeName(275)).toBe('SQLITE_CONSTRAINT_CHECK')
    expect(sqliteCodeName(19 | (12 << 8))).toBe('SQLITE_CONSTRAINT_DATATYPE')
    // An extended code newer than the table still carries its primary name.
    expect(sqliteCodeName(10 | (99 << 8))).toBe('SQLITE_IOERR')
  })
})

describe('the embedded store as an application runs it (node:sqlite where this Node.js has it)', () => {
  it("writes, reads, reports and verifies from `node --input-type=module -e` with nothing on stderr: only node:sqlite's own ExperimentalWarning is held back, others still print", async () => {
    const compiled = await buildEmbeddedStore()
    const dataDir = mkdtempSync(path.join(tmpdir(), 'auditq-node-sqlite-'))
    dirs.push(dataDir)
    try {
      const child = `
        const { createEmbeddedStore } = await import(${JSON.stringify(pathToFileURL(compiled.modulePath).href)})
        const store = await createEmbeddedStore({ dataDir: ${JSON.stringify(dataDir)}, driver: ${JSON.stringify(hasNodeSqlite ? 'node:sqlite' : 'better-sqlite3')} })
        await store.migrate()
        const now = new Date().toISOString()
        const event = { id: 'e1', tenant_id: 't', occurred_at: now, received_at: now, action: 'invoice.paid', category: 'info',
          actor_id: 'bot', actor_type: null, resource_type: 'invoice', resource_id: 'inv-1', success: true, error_message: null,
          description: null, ip_address: null, user_agent: null, session_id: null, request_id: null, client_id: null, metadata: {} }
        const inserted = await store.insertBatch([event])
        const page = await store.query({}, { limit: 10 })
        const report = await store.report({}, { topN: 5, topErrors: 5, bucket: 'day' })
        const verified = await store.integrity.snapshot(async (s) => s.heads())
        await store.close()
        console.log(JSON.stringify({ inserted, ids: page.events.map((e) => e.id), total: report.total, heads: verified.length }))
        process.emitWarning('another experimental thing', 'ExperimentalWarning')
      `
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', timeout: 60_000 })
      expect(result.status, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout.trim())).toEqual({ inserted: { inserted: 1, duplicates: 0 }, ids: ['e1'], total: 1, heads: 1 })
      const stderr = result.stderr.split('\n').filter((line) => !line.startsWith('(Use `node --trace-warnings'))
      expect(stderr.join('\n').trim()).toMatch(/^\(node:\d+\) ExperimentalWarning: another experimental thing$/)
    } finally {
      await compiled.remove()
    }
  }, 120_000)
})
