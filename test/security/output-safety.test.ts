/**
 * What the service hands back must not attack whoever reads it: CSV exports opened in a
 * spreadsheet, and clients that see an unexpected failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { buildServer } from '../../src/http/server.js'
import { createAuditLogger } from '../../src/sdk/audit-logger.js'
import { createLogger } from '../../src/util/logger.js'
import { startApp, type TestApp } from '../support/app.js'
import { MemoryStore } from '../support/memory-store.js'

/** RFC 4180 fields of one CSV text (quoted fields may hold commas, quotes, CR and LF). */
function csvCells(text: string): string[] {
  const cells: string[] = []
  const pattern = /("(?:[^"]|"")*"|[^,\r\n]*)(,|\r\n|$)/gy
  for (let match = pattern.exec(text); match && match[0] !== ''; match = pattern.exec(text)) {
    const raw = match[1]!
    cells.push(raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw)
  }
  return cells
}

describe('CSV export over HTTP', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startApp('embedded')
  })
  afterAll(async () => t?.close())

  it('neutralizes every cell a spreadsheet would run as a formula (= + - @ tab CR, also behind spaces and line breaks)', async () => {
    const hostile = ['=HYPERLINK("http://evil","x")', '+cmd|"/c calc"!A1', '-2+3', '@SUM(A1:A9)', '\t=1+1', '\r=1+1', ' =1+1', '\n=2+2', ' \r\n @A1']
    const events = hostile.map((text, i) => ({ action: `csv.${i}`, actor_id: text.slice(0, 256), description: text, resource_id: text, error_message: text }))
    const posted = await t.app.inject({ method: 'POST', url: '/v1/events', payload: { events } })
    expect(posted.json().accepted).toBe(hostile.length)
    const csv = (await t.app.inject({ method: 'GET', url: '/v1/events/export?format=csv' })).body
    const cells = csvCells(csv)
    expect(cells.filter((cell) => hostile.some((h) => cell.endsWith(h))).length).toBe(hostile.length * 4)
    for (const cell of cells) expect(cell, JSON.stringify(cell)).not.toMatch(FORMULA_LIKE)
  })

  it('neutralizes the same cells in report CSV (top actors, resource types, failure messages)', async () => {
    const hostile = [' =1+1', '\n=2+2', ' \r\n @A1', '=HYPERLINK("http://evil","x")']
    const occurredAt = new Date().toISOString()
    const events = hostile.map((text, i) => ({ action: `report.csv.${i}`, actor_id: text, resource_type: text, success: false, error_message: text, occurred_at: occurredAt }))
    expect((await t.app.inject({ method: 'POST', url: '/v1/events', payload: { events } })).json().accepted).toBe(hostile.length)
    const from = new Date(Date.now() - 3_600_000).toISOString()
    const to = new Date(Date.now() + 3_600_000).toISOString()
    const response = await t.app.inject({ method: 'GET', url: `/v1/reports?from=${from}&to=${to}&format=csv` })
    expect(response.statusCode).toBe(200)
    const cells = csvCells(response.body)
    // Each payload appears as a top actor, a top resource type and a failure message.
    for (const text of hostile) expect(cells.filter((cell) => cell === `'${text}`).length, JSON.stringify(text)).toBeGreaterThanOrEqual(3)
    for (const cell of cells) expect(cell, JSON.stringify(cell)).not.toMatch(FORMULA_LIKE)
  })
})

/** What a spreadsheet would run: a formula trigger at the start, or behind whitespace and control characters. */
// eslint-disable-next-line no-control-regex
const FORMULA_LIKE = /^[\s\u0000-\u001f]*[=+\-@]|^[\t\r]/

describe('unexpected failures', () => {
  it('reach the client as AUDITQ_INTERNAL with the request id, never a stack or the internal message', async () => {
    const store = new MemoryStore()
    store.query = async () => {
      throw new Error('relation "secret_internal_table" does not exist at /srv/app/node_modules/pg/lib/client.js:526')
    }
    // A fault the store does not call transient (a transient one answers 503 AUDITQ_STORE_UNAVAILABLE).
    store.classifyError = () => 'data'
    const logger = createLogger({ level: 'silent' })
    const audit = await createAuditLogger({ store, logger })
    const app = await buildServer({ config: loadConfig({ security: { rateLimitPerSecond: 0 } }), audit, logger })
    try {
      const response = await app.inject({ method: 'GET', url: '/v1/events', headers: { 'x-request-id': 'req-42' } })
      expect(response.statusCode).toBe(500)
      expect(response.json()).toEqual({ statusCode: 500, code: 'AUDITQ_INTERNAL', error: 'Internal Server Error', message: 'internal error; see the server log for request req-42' })
      expect(response.body).not.toMatch(/secret_internal_table|node_modules|\bat /)
    } finally {
      await app.close()
      await audit.close()
    }
  })
})
