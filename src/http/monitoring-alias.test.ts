/**
 * The older monitoring path `/api/monitoring/audit-metrics` (before the API was versioned) answers
 * as `/api/v1/monitoring/audit-metrics` does, with the same access rule, over a real socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../../test/support/keyed-app.js'

const CURRENT = '/api/v1/monitoring/audit-metrics'
const OLDER = '/api/monitoring/audit-metrics'

describe('the older monitoring path', () => {
  let t: KeyedApp
  let admin: string
  let reader: string
  beforeAll(async () => {
    t = await startKeyedApp('embedded')
    admin = (await t.createKey('acme', ['admin'])).key
    reader = (await t.createKey('acme', ['ingest', 'read'])).key
  })
  afterAll(async () => {
    await t.close()
  })

  const get = (path: string, key?: string) => fetch(`${t.baseUrl}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} })

  it('/api/monitoring/audit-metrics answers an admin key with the body of /api/v1/monitoring/audit-metrics', async () => {
    const [older, current] = await Promise.all([get(OLDER, admin), get(CURRENT, admin)])
    expect(older.status).toBe(200)
    expect(current.status).toBe(200)
    const olderBody = (await older.json()) as Record<string, unknown>
    const currentBody = (await current.json()) as Record<string, unknown>
    expect(Object.keys(olderBody).sort()).toEqual(Object.keys(currentBody).sort())
    expect(olderBody).toMatchObject({ health: { status: 'healthy' }, metrics: { mode: 'direct' }, services: currentBody.services })
  })

  it('/api/monitoring/audit-metrics refuses callers the current route refuses: 401 without a key, 403 without the admin scope', async () => {
    for (const path of [OLDER, CURRENT]) {
      const anonymous = await get(path)
      expect(anonymous.status, path).toBe(401)
      expect(await anonymous.json(), path).toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
      const notAdmin = await get(path, reader)
      expect(notAdmin.status, path).toBe(403)
      expect(await notAdmin.json(), path).toMatchObject({ code: 'AUDITQ_FORBIDDEN' })
    }
  })
})
