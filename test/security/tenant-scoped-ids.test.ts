/**
 * The security review's scenario over real HTTP: ids were unique across all tenants, so a tenant
 * posting an id another tenant already held got 202 while nothing was stored (a silent
 * "duplicate"), learned that the id existed elsewhere, and could pre-occupy ids another tenant
 * would use later. Ids are unique per tenant now: both events are stored, each tenant reads its
 * own, and neither sees the other's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { v7 as uuidv7 } from 'uuid'
import type { StoreKind } from '../support/app.js'
import { startKeyedApp, type KeyedApp } from '../support/keyed-app.js'
import { postgresAvailable } from '../support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

interface Tenant {
  name: string
  ingest: string
  read: string
}

describe.each(kinds)('event ids are unique per tenant over HTTP (%s store)', (kind) => {
  let app: KeyedApp
  let acme: Tenant
  let globex: Tenant

  async function tenant(name: string): Promise<Tenant> {
    return { name, ingest: (await app.createKey(name, ['ingest'])).key, read: (await app.createKey(name, ['read'])).key }
  }
  async function post(body: unknown, key: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${app.baseUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: response.status, json: (await response.json()) as Record<string, unknown> }
  }
  async function get(path: string, key: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(app.baseUrl + path, { headers: { authorization: `Bearer ${key}` } })
    return { status: response.status, json: (await response.json()) as Record<string, unknown> }
  }
  const actionsOf = async (who: Tenant) =>
    ((await get('/v1/events?limit=1000', who.read)).json.events as { tenant_id: string; action: string }[]).map(
      (event) => `${event.tenant_id}:${event.action}`,
    )

  beforeAll(async () => {
    app = await startKeyedApp(kind)
    acme = await tenant('acme')
    globex = await tenant('globex')
  })
  afterAll(async () => app?.close())

  it("stores a tenant's event whose id another tenant already holds, and each reads only its own", async () => {
    const id = uuidv7()
    const first = await post({ id, action: 'globex.invoice.paid', metadata: { owner: 'globex' } }, globex.ingest)
    expect(first.status).toBe(202)
    expect(first.json.ids).toEqual([id])

    const duplicatesBefore = app.audit.stats().duplicates
    const second = await post({ id, action: 'acme.login', metadata: { owner: 'acme' } }, acme.ingest)
    expect(second.status).toBe(202)
    expect(second.json).toMatchObject({ accepted: 1, ids: [id], rejected: [] })
    // Stored, not swallowed as an idempotent repeat.
    expect(app.audit.stats().duplicates).toBe(duplicatesBefore)

    const acmeView = await get(`/v1/events/${id}`, acme.read)
    expect(acmeView.status).toBe(200)
    expect(acmeView.json).toMatchObject({ id, tenant_id: 'acme', action: 'acme.login', metadata: { owner: 'acme' } })
    const globexView = await get(`/v1/events/${id}`, globex.read)
    expect(globexView.status).toBe(200)
    expect(globexView.json).toMatchObject({ id, tenant_id: 'globex', action: 'globex.invoice.paid', metadata: { owner: 'globex' } })

    expect(await actionsOf(acme)).toEqual(['acme:acme.login'])
    expect(await actionsOf(globex)).toEqual(['globex:globex.invoice.paid'])
  })

  it('a pre-occupied id no longer drops the later tenant\'s event; a retry within a tenant is still idempotent', async () => {
    const predictable = uuidv7()
    // acme takes the id first, as an attacker guessing globex's next client-supplied id would.
    expect((await post({ id: predictable, action: 'acme.squat' }, acme.ingest)).status).toBe(202)
    expect((await post({ id: predictable, action: 'globex.order.created' }, globex.ingest)).status).toBe(202)
    expect((await get(`/v1/events/${predictable}`, globex.read)).json).toMatchObject({ tenant_id: 'globex', action: 'globex.order.created' })

    // globex retries the same event: one row, counted as a duplicate.
    const duplicatesBefore = app.audit.stats().duplicates
    expect((await post({ id: predictable, action: 'globex.order.created' }, globex.ingest)).status).toBe(202)
    expect(app.audit.stats().duplicates).toBe(duplicatesBefore + 1)
    const globexIds = ((await get('/v1/events?action=globex.order.created', globex.read)).json.events as { id: string }[]).map((e) => e.id)
    expect(globexIds).toEqual([predictable])
    expect((await get(`/v1/events/${predictable}`, acme.read)).json).toMatchObject({ tenant_id: 'acme', action: 'acme.squat' })
  })
})
