/// <reference lib="dom" />
/**
 * With API keys in force: the page itself loads for anyone (it holds no data), says clearly what
 * it needs when the API refuses it, and sends the key it is given on every data call.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { AuditqError } from '../../src/errors.js'
import { buildServer } from '../../src/http/server.js'
import type { Principal, Scope } from '../../src/auth/principal.js'
import { createLogger } from '../../src/util/logger.js'
import { startApp, type TestApp } from '../support/app.js'
import { chromiumAvailable, launchChromium } from '../support/browser.js'
import { listen, openPage, postEvents } from './support.js'

const hasChromium = chromiumAvailable()

/** A stand-in for the key resolver: two keys, one per scope set. The seam is what is under test. */
const KEYS: Record<string, Scope[]> = {
  'read-only-key': ['read'],
  'admin-key': ['ingest', 'read', 'admin'],
}

describe.skipIf(!hasChromium)('dashboard with API keys', () => {
  let t: TestApp
  let app: FastifyInstance
  let base: string
  let browser: Browser
  const presented: string[] = []

  beforeAll(async () => {
    ;[t, browser] = await Promise.all([startApp('embedded'), launchChromium()])
    app = await buildServer({
      config: loadConfig({ logLevel: 'silent' }),
      audit: t.audit,
      logger: createLogger({ level: 'silent' }),
      resolvePrincipal: (request: FastifyRequest): Principal => {
        const header = request.headers.authorization ?? ''
        if (request.url.startsWith('/v1/') || request.url.startsWith('/api/')) presented.push(`${request.url.split('?')[0]} ${header}`)
        const scopes = KEYS[header.replace(/^Bearer /, '')]
        if (!scopes) throw new AuditqError('AUDITQ_UNAUTHORIZED', 'no valid API key')
        return { keyId: header, tenantId: null, scopes: new Set(scopes) }
      },
    })
    base = await listen(app)
    await postEvents(base, [{ action: 'keyed.event', actor_id: 'key-holder' }], { authorization: 'Bearer admin-key' })
  })
  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await t?.close()
  })

  it('prompts for a key on 401, shows the public status meanwhile, and works once a key is given', async () => {
    const w = await openPage(browser)
    try {
      await w.page.goto(`${base}/`)
      await w.page.waitForSelector('#auth-prompt:not([hidden])')
      expect(await w.page.textContent('#auth-prompt')).toMatch(/needs an API key/)
      // The status comes from the public health endpoint even without a key.
      await w.page.waitForSelector('#status[data-status="healthy"]')
      expect(await w.page.locator('#events-body tr.event').count()).toBe(0)

      // A read-only key: events appear; the admin-only figures are named as needing the admin scope.
      await w.page.fill('#api-key', 'read-only-key')
      await w.page.click('#key-form button[type="submit"]')
      await w.page.waitForSelector('#events-body td.actor >> text=key-holder')
      await w.page.waitForFunction(() => /admin/.test(document.getElementById('history-span')?.textContent ?? ''))
      expect(presented).toContain('/v1/events Bearer read-only-key')

      // The admin key: no prompt left; the key survives a reload (sessionStorage), not the tab.
      await w.page.fill('#api-key', 'admin-key')
      await w.page.click('#key-form button[type="submit"]')
      await w.page.waitForSelector('#auth-prompt', { state: 'hidden' })
      await w.page.reload()
      await w.page.waitForSelector('#events-body td.actor >> text=key-holder')
      expect(await w.page.inputValue('#api-key')).toBe('admin-key')
      expect(await w.page.isHidden('#auth-prompt')).toBe(true)
      const fresh = await w.context.newPage()
      await fresh.goto(`${base}/`)
      expect(await fresh.inputValue('#api-key')).toBe('')
      expect(w.pageErrors).toEqual([])
    } finally {
      await w.context.close()
    }
  })
})
