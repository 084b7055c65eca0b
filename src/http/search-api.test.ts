/**
 * Word search over HTTP (`q` on GET /v1/events and the export) and the CLI (`auditq query
 * --search`): a key bound to a tenant searches only that tenant, bad syntax is a 400 naming `q`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../../test/support/keyed-app.js'
import { cliRunner } from '../../test/support/cli.js'

type Json = Record<string, any>

describe('GET /v1/events?q=', () => {
  let t: KeyedApp
  let acme: string
  let globex: string
  let other: string
  const get = async (key: string, url: string) => {
    const response = await fetch(`${t.baseUrl}${url}`, { headers: { authorization: `Bearer ${key}` } })
    return { status: response.status, body: (await response.text()) }
  }
  beforeAll(async () => {
    t = await startKeyedApp('embedded')
    acme = (await t.createKey('acme', ['ingest', 'read'])).key
    globex = (await t.createKey('globex', ['ingest', 'read'])).key
    other = (await t.createKey('initech', ['read'])).key
    const send = async (key: string, events: unknown[]) => {
      const response = await fetch(`${t.baseUrl}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events }) })
      expect(response.status).toBe(202)
    }
    await send(acme, [
      { action: 'invoice.paid', description: 'Invoice paid late', actor_id: 'u-42', metadata: { customer: 'Initech' } },
      { action: 'invoice.sent', description: 'Invoice sent', actor_id: 'u-42' },
    ])
    await send(globex, [{ action: 'invoice.paid', description: 'secret globex invoice', metadata: { customer: 'Hooli' } }])
  })
  afterAll(() => t?.close())

  it('finds by words, phrases and exclusions within the key\'s tenant only', async () => {
    const list = async (key: string, q: string) => ((JSON.parse((await get(key, `/v1/events?q=${encodeURIComponent(q)}`)).body) as Json).events as Json[]).map((e) => e.action)
    expect(await list(acme, 'invoice')).toEqual(['invoice.sent', 'invoice.paid'])
    expect(await list(acme, '"paid late"')).toEqual(['invoice.paid'])
    expect(await list(acme, 'invoice -late')).toEqual(['invoice.sent'])
    expect(await list(acme, 'initech')).toEqual(['invoice.paid'])
    // Words only another tenant holds find nothing, and asking for that tenant is refused.
    expect(await list(acme, 'hooli')).toEqual([])
    expect(await list(acme, 'secret globex')).toEqual([])
    expect((await get(acme, '/v1/events?q=hooli&tenant_id=globex')).status).toBe(403)
    expect(await list(globex, 'hooli')).toEqual(['invoice.paid'])
    // A key of a third tenant finds none of them.
    expect(await list(other, 'invoice')).toEqual([])
  })

  it('filters the export too', async () => {
    const { status, body } = await get(acme, '/v1/events/export?q=sent')
    expect(status).toBe(200)
    expect(body.trim().split('\n').map((line) => (JSON.parse(line) as Json).action)).toEqual(['invoice.sent'])
  })

  it('answers bad syntax with 400 AUDITQ_BAD_REQUEST naming q', async () => {
    for (const q of ['"open', '-alone', '...', '']) {
      const { status, body } = await get(acme, `/v1/events?q=${encodeURIComponent(q)}`)
      expect(status, q).toBe(400)
      expect(JSON.parse(body), q).toMatchObject({ code: 'AUDITQ_BAD_REQUEST', details: [expect.objectContaining({ field: 'q' })] })
    }
    const twice = await get(acme, '/v1/events?q=a&q=b')
    expect(JSON.parse(twice.body)).toMatchObject({ details: [{ field: 'q', rule: 'single_value' }] })
  })
})

describe('auditq query --search', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-search-cli-'))
  const auditq = cliRunner(dataDir)
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('lists the matching events, and refuses bad syntax naming --search', () => {
    expect(auditq(['migrate']).code).toBe(0)
    expect(auditq(['send'], '{"action":"invoice.paid","description":"paid late"}\n{"action":"invoice.sent"}\n').code).toBe(0)
    const found = JSON.parse(auditq(['query', '--format', 'json', '--search', 'invoice "paid late"']).stdout) as Json
    expect(found.events.map((e: Json) => e.action)).toEqual(['invoice.paid'])
    const refused = auditq(['query', '--search', '"open'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/--search: .*never closed/)
    // Four CLI processes: slow on a loaded machine.
  }, 120_000)
})
