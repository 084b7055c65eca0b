/**
 * Over HTTP: a client numbering its own events gets the same accounting as the SDK (a refused
 * number is recorded, a number never sent is named), events come back with every auditq.v2 field,
 * and the CSV export carries the added columns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../../test/support/app.js'

describe('GET /v1/completeness and the added fields over HTTP (embedded)', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startApp('embedded', { completeness: { inFlightBoundMs: 1_000 } })
  })
  afterAll(() => app.close())

  it('accounts for a client producer: stored, refused (recorded), and the number never sent named missing after the bound', async () => {
    const events = [
      { action: 'doc.view', producer_id: 'mobile-7', producer_seq: 1, actor_name: 'Ada', targets: [{ type: 'doc', id: 'd1' }] },
      { action: 'doc.view', producer_id: 'mobile-7', producer_seq: 2, changes: { title: { before: 'a', after: 'b' } } },
      // 3 is never sent; 4 is refused by validation; 5 is stored.
      { action: 'doc.view', producer_id: 'mobile-7', producer_seq: 4, category: 'urgent' },
      { action: 'doc.view', producer_id: 'mobile-7', producer_seq: 5 },
    ]
    const ingest = await app.app.inject({ method: 'POST', url: '/v1/events', payload: events })
    expect(ingest.statusCode).toBeLessThan(300)
    expect(ingest.json().rejected).toEqual([expect.objectContaining({ index: 2 })])

    // The refusal record is written shortly after (a burst of refusals goes in one record).
    await expect.poll(async () => (await app.app.inject({ url: '/v1/completeness?producer_id=mobile-7' })).json().producers[0]?.rejected, { timeout: 10_000 }).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const response = await app.app.inject({ url: '/v1/completeness?producer_id=mobile-7' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({
      missing_events: 1,
      producers: [{ producer_id: 'mobile-7', stored: 3, rejected: 1, head: null, missing: [{ from: 3, to: 3 }], in_flight: [] }],
    })
  })

  it('returns the added fields on reads and in the CSV export', async () => {
    const page = (await app.app.inject({ url: '/v1/events?action=doc.view&limit=10' })).json()
    const first = page.events.find((e: { producer_seq: number }) => e.producer_seq === 1)
    expect(first).toMatchObject({ actor_name: 'Ada', targets: [{ id: 'd1', type: 'doc' }], changes: null, producer_id: 'mobile-7', sealed: null, subject_index: null })
    const csv = (await app.app.inject({ url: '/v1/events/export?format=csv&action=doc.view' })).body
    expect(csv.split('\r\n')[0]).toMatch(/,metadata,actor_name,targets,changes,producer_id,producer_seq,subject_index,sealed$/)
    expect(csv).toContain('"{""title"":{""after"":""b"",""before"":""a""}}"')
  })

  it('refuses a bad filter with the field named', async () => {
    const response = await app.app.inject({ url: '/v1/completeness?since=yesterday' })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ code: 'AUDITQ_BAD_REQUEST', details: [{ field: 'since', rule: 'timestamp' }] })
  })
})
