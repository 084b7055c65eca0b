import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../../test/support/app.js'
import { loadConfig } from '../config.js'
import { AuditqError } from '../errors.js'
import { buildServer } from '../http/server.js'
import { createLogger } from '../util/logger.js'
import { ASSETS_DIR, DASHBOARD_CSP } from './routes.js'

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'

describe('dashboard routes', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startApp('embedded')
  })
  afterAll(async () => {
    await t.close()
  })

  it('serves the page to a browser at / with a strict CSP and the JSON index to API clients', async () => {
    const page = await t.app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP)
    expect(DASHBOARD_CSP).toMatch(/script-src 'self'(;|$)/)
    expect(page.headers.vary).toBe('Accept')
    expect(page.body).toContain('<title>auditq dashboard</title>')

    for (const accept of [undefined, '*/*', 'application/json', 'text/html;q=0, application/json']) {
      const index = await t.app.inject({ url: '/', headers: accept === undefined ? {} : { accept } })
      expect(index.statusCode).toBe(200)
      expect(index.json()).toMatchObject({ name: 'auditq', endpoints: expect.arrayContaining(['GET /v1/events']) })
    }
    const always = await t.app.inject({ url: '/dashboard' })
    expect(always.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(always.body).toBe(page.body)
  })

  it('has no inline script, event-handler attribute or inline style the CSP would have to allow', () => {
    const html = readFileSync(join(ASSETS_DIR, 'index.html'), 'utf8')
    const scripts = html.match(/<script\b[^>]*>/g) ?? []
    expect(scripts.length).toBeGreaterThan(0)
    for (const tag of scripts) expect(tag).toMatch(/\bsrc="\/dashboard\/assets\/[\w.-]+\.js"/)
    expect(html).not.toMatch(/<script\b[^>]*>[^<]+<\/script>/)
    expect(html).not.toMatch(/\son[a-z]+\s*=/i)
    expect(html).not.toMatch(/\sstyle\s*=/i)
    expect(html).not.toMatch(/https?:\/\//) // nothing from another origin: works offline
  })

  it('never turns data into markup: no innerHTML, outerHTML, insertAdjacentHTML, document.write or eval in the page scripts', () => {
    for (const file of readdirSync(ASSETS_DIR).filter((f) => f.endsWith('.js'))) {
      const source = readFileSync(join(ASSETS_DIR, file), 'utf8')
      expect(source, file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new Function/)
    }
  })

  it('serves every file the page and its modules reference, with its type, and nothing else', async () => {
    const referenced = new Set<string>()
    const html = readFileSync(join(ASSETS_DIR, 'index.html'), 'utf8')
    for (const [, name] of html.matchAll(/\/dashboard\/assets\/([\w.-]+)/g)) referenced.add(name!)
    for (const file of readdirSync(ASSETS_DIR).filter((f) => f.endsWith('.js'))) {
      const source = readFileSync(join(ASSETS_DIR, file), 'utf8')
      for (const [, name] of source.matchAll(/from '\.\/([\w.-]+)'/g)) referenced.add(name!)
    }
    // Every file on disk is reachable from the page (no dead asset), and every reference is served.
    expect([...referenced].sort()).toEqual(readdirSync(ASSETS_DIR).filter((f) => f !== 'index.html').sort())
    for (const name of referenced) {
      const response = await t.app.inject(`/dashboard/assets/${name}`)
      expect(response.statusCode, name).toBe(200)
      expect(response.headers['content-type']).toBe(name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8')
      expect(response.headers['x-content-type-options']).toBe('nosniff')
    }
    for (const name of ['index.html', 'nope.js', '..%2Froutes.ts', '..%2F..%2Fpackage.json']) {
      const response = await t.app.inject(`/dashboard/assets/${name}`)
      expect(response.statusCode, name).toBe(404)
      expect(response.json().code).toBe('AUDITQ_NOT_FOUND')
    }
  })
})

describe('dashboard access', () => {
  it('serves the page and its assets to a caller with no key while the data endpoints refuse it', async () => {
    const logger = createLogger({ level: 'silent' })
    const t = await startApp('embedded')
    const app = await buildServer({
      config: loadConfig({ logLevel: 'silent' }),
      audit: t.audit,
      logger,
      resolvePrincipal: () => {
        throw new AuditqError('AUDITQ_UNAUTHORIZED', 'no key')
      },
    })
    try {
      expect((await app.inject({ url: '/', headers: { accept: BROWSER_ACCEPT } })).statusCode).toBe(200)
      expect((await app.inject('/dashboard/assets/app.js')).statusCode).toBe(200)
      expect((await app.inject('/v1/events')).statusCode).toBe(401)
    } finally {
      await app.close()
      await t.close()
    }
  })
})
