/// <reference lib="dom" />
/**
 * The embeddable viewer in real Chromium, as a customer meets it: the example app (one origin)
 * signs a user in and embeds <auditq-viewer> served by auditq (another origin). A token for one
 * tenant never shows another's events, whatever is typed or tampered with; an expired or invalid
 * token gets a clear message; restrictions hold against the filters; every field and template
 * renders as text; axe-core finds no serious violations; the keyboard reaches everything.
 */
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createViewerToken } from '../../src/viewer/token.js'
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser.js'
import { openPage, postEvents, type WatchedPage } from './support.js'
import { runExample, type RunningExample } from './viewer-example.js'

const hasChromium = chromiumAvailable()
const SECRET = randomBytes(32).toString('base64url')
const AXE = join(import.meta.dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js')
const DOCS_IMAGE = join(import.meta.dirname, '..', '..', 'docs', 'img', 'viewer.png')

/** Markup and script in every shape a field might carry; each must show as these very characters. */
const XSS = `<img src=x onerror="window.__xss=1">"><script>window.__xss=1</script>`
const TEMPLATES = { 'user.invited': '{actor_name} invited {targets.user.name} to {targets.team.name}', 'doc.shared': `{actor_id} shared {resource_id} <b onmouseover="window.__xss=1">now</b>`, 'doc.missing': '{actor_name} did {targets.user.name}' }

const rows = (page: Page) => page.locator('auditq-viewer tbody tr')
const viewerState = (page: Page, state: string) => page.waitForFunction((s) => document.querySelector('auditq-viewer')?.getAttribute('data-state') === s, state)

describe.skipIf(!hasChromium)('the embeddable viewer in Chromium', { timeout: 60_000 }, () => {
  let example: RunningExample
  let browser: Browser

  beforeAll(async () => {
    ;[example, browser] = await Promise.all([runExample({ AUDITQ_VIEWER_SECRET: SECRET, AUDITQ_DISPLAY_TEMPLATES: JSON.stringify(TEMPLATES) }), launchChromium()])
    // The example records events for acme (Alice's customer) and globex (Gary's); these join acme's log.
    await postEvents(example.auditqUrl, [
      {
        tenant_id: 'acme',
        action: 'doc.shared',
        actor_name: XSS,
        targets: [{ type: 'user', id: XSS, name: XSS }],
        changes: { [XSS]: { before: XSS, after: { nested: XSS } } },
        actor_id: XSS,
        actor_type: XSS,         resource_type: XSS,
        resource_id: XSS,
        description: XSS,
        error_message: XSS,
        success: false,
        user_agent: XSS,
        session_id: 'sess-1',
        metadata: { [XSS]: XSS, note: XSS },
      },
      { tenant_id: 'acme', action: 'doc.missing', actor_id: 'carol', resource_type: 'document', resource_id: 'doc-x' },
    ])
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await example?.stop()
  })

  async function signIn(user: 'alice' | 'gary'): Promise<WatchedPage> {
    const w = await openPage(browser)
    await w.page.goto(example.appUrl)
    await w.page.selectOption('select[name=user]', user)
    await w.page.click('form[action="/login"] button')
    await w.page.waitForURL(`${example.appUrl}/audit-log`)
    await viewerState(w.page, 'ready')
    return w
  }

  it('embeds the viewer from another origin and shows only the signed-in customer’s events', async () => {
    const w = await signIn('alice')
    try {
      const script = await w.page.getAttribute('script[type=module]', 'src')
      expect(new URL(script!).origin).toBe(example.auditqUrl)
      expect(new URL(w.page.url()).origin).not.toBe(example.auditqUrl)
      await w.page.waitForFunction(() => Number(document.querySelector('auditq-viewer')?.getAttribute('data-rows')) >= 43)
      const text = (await rows(w.page).allTextContents()).join('\n')
      expect(text).toContain('document.viewed')
      expect(text).not.toMatch(/gary|invoice/)
      expect(w.pageErrors).toEqual([])
      // The picture in docs/viewer.md: Alice's own events, the newest one's details open.
      await w.page.fill('auditq-viewer input[name=actor_id]', 'alice')
      await w.page.press('auditq-viewer input[name=actor_id]', 'Enter')
      await w.page.waitForFunction(() => Number(document.querySelector('auditq-viewer')?.getAttribute('data-rows')) === 21)
      // The newest is the invitation, shown through its display template.
      expect(await w.page.locator('auditq-viewer td.summary button >> nth=0').textContent()).toBe('Alice Adams invited Carol to Finance')
      await w.page.locator('auditq-viewer td.summary button >> nth=0').click()
      await w.page.waitForSelector('auditq-viewer [part=drawer]:not([hidden])')
      await w.page.screenshot({ path: artifactPath('viewer-example') })
      mkdirSync(join(DOCS_IMAGE, '..'), { recursive: true })
      copyFileSync(artifactPath('viewer-example'), DOCS_IMAGE)

      const g = await signIn('gary')
      try {
        const garyText = (await rows(g.page).allTextContents()).join('\n')
        expect(garyText).toContain('invoice.paid')
        expect(garyText).not.toMatch(/alice|document/)
      } finally {
        await g.context.close()
      }
    } finally {
      await w.context.close()
    }
  })

  it('never leaves its tenant, whatever is typed or tampered (filters, query, cursor, token)', async () => {
    const w = await signIn('alice')
    try {
      // Typed: another customer's actor gives nothing.
      await w.page.fill('auditq-viewer input[name=actor_id]', 'gary')
      await w.page.press('auditq-viewer input[name=actor_id]', 'Enter')
      await w.page.waitForFunction(() => document.querySelector('auditq-viewer')?.shadowRoot?.querySelector('[part=status]')?.textContent === 'No events match.')
      expect(await rows(w.page).count()).toBe(0)

      // The page's own script, with the token from the attribute: another tenant's id is refused,
      // and a cursor taken from globex's log only positions within acme's.
      const globex = await createViewerToken({ secret: SECRET, tenant_id: 'globex' })
      const globexPage = (await (await fetch(`${example.auditqUrl}/v1/viewer/events?limit=2`, { headers: { authorization: `Bearer ${globex.token}` } })).json()) as { next_cursor: string }
      const probe = await w.page.evaluate(
        async ({ base, cursor }) => {
          const token = document.querySelector('auditq-viewer')!.getAttribute('token')!
          const call = (query: string) => fetch(`${base}/v1/viewer/events?${query}`, { headers: { authorization: `Bearer ${token}` } })
          const tenant = (await call('tenant_id=globex')).status
          const paged = (await (await call(`limit=100&cursor=${encodeURIComponent(cursor)}`)).json()) as { events: Array<{ tenant_id: string }> }
          return { tenant, tenants: [...new Set(paged.events.map((e) => e.tenant_id))] }
        },
        { base: example.auditqUrl, cursor: globexPage.next_cursor },
      )
      expect(probe.tenant).toBe(403)
      expect(probe.tenants).toEqual(['acme'])

      // A token whose claims were edited to name globex: refused, with a message, not a blank table.
      const token = (await w.page.getAttribute('auditq-viewer', 'token'))!
      const [head, body, signature] = token.split('.')
      const claims = JSON.parse(Buffer.from(body!, 'base64url').toString()) as Record<string, unknown>
      const forged = `${head}.${Buffer.from(JSON.stringify({ ...claims, tid: 'globex' })).toString('base64url')}.${signature}`
      await w.page.evaluate((t) => document.querySelector('auditq-viewer')!.setAttribute('token', t), forged)
      await viewerState(w.page, 'error')
      expect(await w.page.getAttribute('auditq-viewer [part=message]', 'data-code')).toBe('AUDITQ_VIEWER_TOKEN_INVALID')
      expect(await w.page.textContent('auditq-viewer [part=message]')).toMatch(/not valid/)
      expect(await rows(w.page).count()).toBe(0)
    } finally {
      await w.context.close()
    }
  })

  it('says an expired token has expired instead of showing an empty table', async () => {
    const expired = await createViewerToken({ secret: SECRET, tenant_id: 'acme', now: new Date(Date.now() - 20 * 60_000) })
    const w = await openPage(browser)
    try {
      await w.page.goto(`${example.auditqUrl}/viewer#token=${expired.token}`)
      await viewerState(w.page, 'error')
      expect(await w.page.getAttribute('auditq-viewer [part=message]', 'data-code')).toBe('AUDITQ_VIEWER_TOKEN_EXPIRED')
      expect(await w.page.textContent('auditq-viewer [part=message]')).toMatch(/expired/)
      expect(await w.page.isVisible('auditq-viewer [part=message]')).toBe(true)
    } finally {
      await w.context.close()
    }
  })

  it('keeps an actor-restricted token to that actor, whatever the filters ask', async () => {
    const bob = await createViewerToken({ secret: SECRET, tenant_id: 'acme', restrictions: { actor_id: 'bob' } })
    const w = await openPage(browser)
    try {
      await w.page.goto(`${example.auditqUrl}/viewer#token=${bob.token}`)
      await viewerState(w.page, 'ready')
      await w.page.waitForFunction(() => Number(document.querySelector('auditq-viewer')?.getAttribute('data-rows')) === 20)
      expect(new Set(await w.page.locator('auditq-viewer td.actor').allTextContents())).toEqual(new Set(['bob']))
      expect(await w.page.getAttribute('auditq-viewer input[name=actor_id]', 'readonly')).not.toBeNull()
      // Unlock the field from the page and ask for alice: the service still answers only bob's events.
      await w.page.evaluate(() => {
        const input = document.querySelector('auditq-viewer')!.shadowRoot!.querySelector<HTMLInputElement>('input[name=actor_id]')!
        input.readOnly = false
        input.value = 'alice'
      })
      await w.page.press('auditq-viewer input[name=actor_id]', 'Enter')
      await w.page.waitForFunction(() => document.querySelector('auditq-viewer')?.shadowRoot?.querySelector('[part=status]')?.textContent === 'No events match.')
      // No export button: this token may only read.
      expect(await w.page.isHidden('auditq-viewer [part~=export-button]')).toBe(true)
    } finally {
      await w.context.close()
    }
  })

  it('renders payloads in every field and in templates as text, in the table and the drawer', async () => {
    const w = await signIn('alice')
    try {
      const row = w.page.locator('auditq-viewer tbody tr', { hasText: 'doc.shared' })
      // The template filled with the payloads, its own markup shown as characters.
      expect(await row.locator('td.summary').textContent()).toBe(`${XSS} shared ${XSS} <b onmouseover="window.__xss=1">now</b>`)
      expect(await row.locator('td.actor').textContent()).toBe(XSS)
      // A template with a missing field falls back to the plain line.
      expect(await w.page.locator('auditq-viewer tbody tr', { hasText: 'doc.missing' }).locator('td.summary').textContent()).toBe('carol · doc.missing · document/doc-x')
      await row.locator('td.summary').hover()
      await row.locator('td.summary button').click()
      await w.page.waitForSelector('auditq-viewer [part=drawer]:not([hidden])')
      const drawer = w.page.locator('auditq-viewer [part=drawer]')
      for (const field of ['actor_name', 'actor_id', 'actor_type', 'resource_type', 'resource_id', 'description', 'error_message', 'user_agent']) {
        expect(await drawer.locator(`dd[data-field=${field}]`).textContent(), field).toBe(XSS)
      }
      expect(await drawer.locator('[part=drawer-metadata]').textContent()).toContain(JSON.stringify(XSS).slice(1, -1))
      expect(await drawer.locator('[part=drawer-targets] li').textContent()).toBe(`user: ${XSS} (${XSS})`)
      // Changes as a before/after table, each value as text.
      const change = drawer.locator('[part=drawer-changes] tbody tr')
      expect(await change.locator('th').textContent()).toBe(XSS)
      expect(await change.locator('td.before').textContent()).toBe(XSS)
      expect(JSON.parse((await change.locator('td.after').textContent())!)).toEqual({ nested: XSS })
      // The service checked the event's place in the hash chain.
      await w.page.waitForSelector('auditq-viewer [part=drawer-integrity][data-integrity=intact]')
      const injected = await w.page.evaluate(() => {
        const root = document.querySelector('auditq-viewer')!.shadowRoot!
        return { xss: (window as { __xss?: number }).__xss ?? null, elements: root.querySelectorAll('img, script, b').length }
      })
      expect(injected).toEqual({ xss: null, elements: 0 })
      expect(w.dialogs).toEqual([])
    } finally {
      await w.context.close()
    }
  })

  it('renders the same templates as text in the dashboard', async () => {
    const w = await openPage(browser)
    try {
      await w.page.goto(`${example.auditqUrl}/dashboard`)
      const cell = w.page.locator('#events-body tr.event', { hasText: 'doc.shared' }).locator('td.text')
      await w.page.waitForFunction(() => [...document.querySelectorAll('#events-body td.text')].some((td) => td.textContent?.includes(' shared ')))
      expect(await cell.textContent()).toBe(`${XSS} shared ${XSS} <b onmouseover="window.__xss=1">now</b>`)
      expect(await w.page.locator('#events-body tr.event', { hasText: 'doc.missing' }).locator('td.text').textContent()).toBe('carol · doc.missing · document/doc-x')
      expect(await w.page.evaluate(() => ({ xss: (window as { __xss?: number }).__xss ?? null, injected: document.querySelectorAll('#events-body img, #events-body script, #events-body b').length }))).toEqual({ xss: null, injected: 0 })
      expect(w.dialogs).toEqual([])
    } finally {
      await w.context.close()
    }
  })

  it('is usable from the keyboard, and axe-core finds no serious or critical violations', async () => {
    const w = await signIn('alice')
    try {
      const first = w.page.locator('auditq-viewer tbody tr >> nth=0').locator('td.summary button')
      await first.focus()
      await w.page.keyboard.press('Enter')
      await w.page.waitForSelector('auditq-viewer [part=drawer]:not([hidden])')
      expect(await w.page.evaluate(() => document.querySelector('auditq-viewer')!.shadowRoot!.activeElement?.getAttribute('aria-label'))).toBe('Close details')
      const withDrawer = await axe(w.page)
      await w.page.keyboard.press('Escape')
      await w.page.waitForSelector('auditq-viewer [part=drawer]', { state: 'hidden' })
      expect(await w.page.evaluate(() => document.querySelector('auditq-viewer')!.shadowRoot!.activeElement?.getAttribute('part'))).toBe('row-button')
      const plain = await axe(w.page)
      expect([...withDrawer, ...plain]).toEqual([])
    } finally {
      await w.context.close()
    }
  })

  it('exports CSV when the token allows it, within its tenant', async () => {
    const w = await signIn('alice')
    try {
      const [download] = await Promise.all([w.page.waitForEvent('download'), w.page.click('auditq-viewer [part~=export-button]')])
      const path = await download.path()
      const { readFileSync } = await import('node:fs')
      const lines = readFileSync(path, 'utf8').trim().split('\n')
      expect(lines.length).toBeGreaterThanOrEqual(42)
      expect(lines.slice(1).every((line) => line.includes(',acme,'))).toBe(true)
    } finally {
      await w.context.close()
    }
  })
})

/** axe-core from npm, injected into the page; answers the serious and critical violations, described. */
async function axe(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE })
  return page.evaluate(async () => {
    const result = await (window as unknown as { axe: { run(context: Document): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown }> }> }> } }).axe.run(document)
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${JSON.stringify(v.nodes.map((n) => n.target))}`)
  })
}
