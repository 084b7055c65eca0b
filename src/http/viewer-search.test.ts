/**
 * The viewer's search box over real HTTP on both stores: `q` on GET /v1/viewer/events (and the
 * export) finds words in the token's own tenant only, within the token's restrictions, and never
 * in another tenant's events whatever the query string says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../../test/support/keyed-app.js'
import { storedEvent } from '../../test/support/events.js'
import { postgresAvailable } from '../../test/support/services.js'
import type { StoreKind } from '../../test/support/app.js'
import { createViewerToken } from '../viewer/token.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']
const SECRET = 'viewer-search-test-secret-0123456789abcdef'

type Json = Record<string, any>

describe.each(kinds)('viewer search (%s)', (kind) => {
  let t: KeyedApp
  const get = async (path: string, token: string) => {
    const response = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
    return { status: response.status, text: await response.text() }
  }
  const found = async (path: string, token: string) => {
    const { status, text } = await get(path, token)
    expect(status, text).toBe(200)
    return (JSON.parse(text) as { events: Json[] }).events.map((e) => `${e.tenant_id}/${e.actor_id}`).sort()
  }

  beforeAll(async () => {
    t = await startKeyedApp(kind, { viewer: { signingSecret: SECRET } })
    await t.audit.store.insertBatch([
      storedEvent({ tenant_id: 'acme', actor_id: 'alice', action: 'invoice.sent', metadata: { note: 'Quarterly report for Zephyrine Ltd' } }),
      storedEvent({ tenant_id: 'acme', actor_id: 'bob', action: 'invoice.sent', metadata: { customer: { name: 'zephyrine' } } }),
      storedEvent({ tenant_id: 'acme', actor_id: 'carol', action: 'invoice.sent', metadata: { note: 'nothing to see' } }),
      storedEvent({ tenant_id: 'globex', actor_id: 'alice', action: 'invoice.sent', metadata: { note: 'zephyrine again' } }),
      storedEvent({ tenant_id: 'globex', actor_id: 'gina', action: 'doc.read', metadata: { secret_word: 'obsidian' } }),
    ])
  })
  afterAll(async () => {
    await t?.close()
  })

  it("finds a word in metadata of the token's tenant and never another tenant's", async () => {
    const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme', permissions: ['export'] })
    expect(await found('/v1/viewer/events?q=zephyrine', token)).toEqual(['acme/alice', 'acme/bob'])
    // The word exists, but only in globex: nothing, not a 403 that would confirm it.
    expect(await found('/v1/viewer/events?q=obsidian', token)).toEqual([])
    expect(await found('/v1/viewer/events?q=zephyrine%20-quarterly', token)).toEqual(['acme/bob'])
    expect((await get('/v1/viewer/events?q=zephyrine&tenant_id=globex', token)).status).toBe(403)
    // The export takes the same search, within the same bounds.
    const csv = await get('/v1/viewer/export?q=zephyrine', token)
    expect(csv.status).toBe(200)
    const rows = csv.text.trim().split('\n').slice(1)
    expect(rows).toHaveLength(2)
    expect(rows.every((row) => row.includes(',acme,') && !row.includes('globex'))).toBe(true)
  })

  it("ANDs the search with the token's restrictions", async () => {
    const { token: alice } = await createViewerToken({ secret: SECRET, tenant_id: 'acme', restrictions: { actor_id: 'alice' } })
    expect(await found('/v1/viewer/events?q=zephyrine', alice)).toEqual(['acme/alice'])
    expect(await found('/v1/viewer/events?q=zephyrine&actor_id=bob', alice)).toEqual([])
    const { token: globex } = await createViewerToken({ secret: SECRET, tenant_id: 'globex' })
    expect(await found('/v1/viewer/events?q=zephyrine', globex)).toEqual(['globex/alice'])
  })

  it('answers bad search syntax with 400 naming q, after the token is checked', async () => {
    const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme' })
    const bad = await get(`/v1/viewer/events?q=${encodeURIComponent('"open')}`, token)
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.text)).toMatchObject({ code: 'AUDITQ_BAD_REQUEST', details: [expect.objectContaining({ field: 'q' })] })
    const repeated = await get('/v1/viewer/events?q=a&q=b', token)
    expect(JSON.parse(repeated.text)).toMatchObject({ details: [{ field: 'q', rule: 'single_value' }] })
    // Without a valid token the query is not even looked at.
    const anonymous = await get('/v1/viewer/events?q=%22open&limit=0', 'not-a-token')
    expect(anonymous.status).toBe(401)
    expect(JSON.parse(anonymous.text).code).toBe('AUDITQ_VIEWER_TOKEN_INVALID')
  })
})
