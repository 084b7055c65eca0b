import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../support/keyed-app.js'

/** The refusals and redactions the Security section promises are visible to Prometheus. */
describe('security figures on /metrics', () => {
  let t: KeyedApp
  beforeAll(async () => {
    t = await startKeyedApp('embedded')
  })
  afterAll(async () => t?.close())

  const metric = (text: string, name: string, labels = '') => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
    return line === undefined ? undefined : Number(line.split(' ')[1])
  }

  it('counts redacted values, 401s and 403s', async () => {
    const ingest = await t.createKey('acme', ['ingest'])
    const admin = await t.createKey('acme', ['admin', 'read'])
    const post = await fetch(`${t.baseUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingest.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'user.login', actor_id: 'u1', metadata: { password: 'hunter2', nested: { api_key: 'k' } } }),
    })
    expect(post.status).toBe(202)
    expect((await fetch(`${t.baseUrl}/v1/events`)).status).toBe(401)
    expect((await fetch(`${t.baseUrl}/v1/events`, { headers: { authorization: `Bearer ${ingest.key}` } })).status).toBe(403)

    const scrape = await fetch(`${t.baseUrl}/metrics`, { headers: { authorization: `Bearer ${admin.key}` } })
    expect(scrape.status).toBe(200)
    const text = await scrape.text()
    expect(metric(text, 'auditq_metadata_values_redacted_total')).toBe(2)
    expect(metric(text, 'auditq_ip_addresses_truncated_total')).toBe(0)
    expect(metric(text, 'auditq_http_access_refusals_total', '{reason="unauthorized"}')).toBe(1)
    expect(metric(text, 'auditq_http_access_refusals_total', '{reason="forbidden"}')).toBe(1)
    expect(metric(text, 'auditq_http_access_refusals_total', '{reason="rate_limited"}')).toBe(0)
    // The key never reaches the exposition, whatever the labels.
    expect(text).not.toContain(ingest.key.slice(20))
  })
})
