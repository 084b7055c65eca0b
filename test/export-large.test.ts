/**
 * Export of 100,000 events over a real socket, for both stores: every row arrives once, newest
 * first, in both formats, while the server streams (the store reads 1,000 rows at a time).
 */
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type StoreKind, type TestApp } from './support/app.js'
import { isoAt, storedEvent } from './support/events.js'
import { postgresAvailable } from './support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']
const TOTAL = 100_000

/** Reads a streamed body chunk by chunk, keeping only counts and the first and last line. */
async function countLines(url: string) {
  const response = await fetch(url)
  let lines = 0
  let first = ''
  let last = ''
  let carry = ''
  const decoder = new TextDecoder()
  for await (const chunk of response.body!) {
    const parts = (carry + decoder.decode(chunk as Uint8Array, { stream: true })).split('\n')
    carry = parts.pop()!
    for (const line of parts) {
      if (line.length === 0) continue
      if (lines === 0) first = line
      last = line
      lines += 1
    }
  }
  if (carry.length > 0) {
    lines += 1
    last = carry
  }
  return { status: response.status, lines, first, last }
}

describe.each(kinds)('export of 100k events from the %s store', (kind) => {
  let t: TestApp
  let base: string
  beforeAll(async () => {
    t = await startApp(kind)
    for (let offset = 0; offset < TOTAL; offset += 2_000) {
      await t.store.insertBatch(
        Array.from({ length: 2_000 }, (_, i) => storedEvent({ occurred_at: isoAt(offset + i), actor_id: `a${(offset + i) % 97}` })),
      )
    }
    await t.app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
  }, 120_000)
  afterAll(async () => {
    await t.close()
  })

  it('streams every event once as NDJSON, newest first', async () => {
    const result = await countLines(`${base}/v1/events/export?format=ndjson`)
    expect(result.status).toBe(200)
    expect(result.lines).toBe(TOTAL)
    expect(JSON.parse(result.first).occurred_at).toBe(isoAt(TOTAL - 1))
    expect(JSON.parse(result.last).occurred_at).toBe(isoAt(0))
  }, 60_000)

  it('streams the same rows as CSV with a header', async () => {
    const result = await countLines(`${base}/v1/events/export?format=csv`)
    expect(result.lines).toBe(TOTAL + 1)
    expect(result.first).toMatch(/^id,tenant_id,occurred_at/)
  }, 60_000)
})
