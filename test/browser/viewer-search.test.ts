/// <reference lib="dom" />
/**
 * The viewer's search box in real Chromium, on both stores: a user types words, a quoted phrase
 * and an exclusion, and the table shows exactly the tenant's events that match, never another
 * tenant's with the same words. On the embedded store one event was stored before word search
 * and filled in by the backfill: the box finds it like any other.
 */
import { randomBytes } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runSearchBackfill } from '../../src/query/search/backfill.js'
import { createViewerToken } from '../../src/viewer/token.js'
import { startApp, type StoreKind, type TestApp } from '../support/app.js'
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser.js'
import { openEmbeddedConnection } from '../support/embedded-connection.js'
import { isoAt, storedEvent } from '../support/events.js'
import { postgresAvailable } from '../support/services.js'
import { listen, openPage } from './support.js'

const hasChromium = chromiumAvailable()
const hasPostgres = await postgresAvailable()
const SECRET = randomBytes(32).toString('base64url')

/** acme's events, one actor each, oldest first; globex holds the same words and must never show. */
const EVENTS = [
  { actor_id: 'ann', description: 'Invoice paid late by the customer' },
  { actor_id: 'bob', description: 'Invoice paid on time' },
  { actor_id: 'cat', description: 'Refund for an invoice that was paid late', metadata: { reason: 'duplicate' } },
  { actor_id: 'dan', description: 'Late fee waived, then paid' },
  { actor_id: 'eve', description: 'Sent a reminder', metadata: { document: 'Invoice INV-1001' } },
]

/** Actors in the table, top to bottom (newest first). */
const shownActors = (page: Page) => page.locator('auditq-viewer tbody tr td.actor').allTextContents()

/** Types `q` into the search box as a user would and waits for the table to settle on `expected`. */
async function search(page: Page, q: string, expected: string[]): Promise<void> {
  const box = page.locator('auditq-viewer input[name=q]')
  await box.fill('')
  await box.pressSequentially(q, { delay: 5 })
  await box.press('Enter')
  await page
    .waitForFunction(
    (want) => {
      const viewer = document.querySelector('auditq-viewer')
      const actors = [...(viewer?.shadowRoot?.querySelectorAll('tbody tr td.actor') ?? [])].map((td) => td.textContent)
      const empty = viewer?.shadowRoot?.querySelector('[part=status]')?.textContent === 'No events match.'
      return viewer?.getAttribute('data-state') === 'ready' && (want.length === 0 ? empty && actors.length === 0 : JSON.stringify(actors) === JSON.stringify(want))
    },
    expected,
  )
    .catch(async (error: Error) => {
      const seen = await page.evaluate(() => {
        const viewer = document.querySelector('auditq-viewer')
        return { state: viewer?.getAttribute('data-state'), status: viewer?.shadowRoot?.querySelector('[part=status]')?.textContent, actors: [...(viewer?.shadowRoot?.querySelectorAll('tbody tr td.actor') ?? [])].map((td) => td.textContent) }
      })
      throw new Error(`searching ${JSON.stringify(q)} for ${JSON.stringify(expected)}, the viewer shows ${JSON.stringify(seen)}: ${error.message}`)
    })
}

describe.skipIf(!hasChromium).each(['embedded', 'postgres'] as StoreKind[])('the viewer’s search box in Chromium (%s)', { timeout: 60_000 }, (kind) => {
  let t: TestApp
  let base: string
  let browser: Browser

  beforeAll(async () => {
    if (kind === 'postgres' && !hasPostgres) return
    ;[t, browser] = await Promise.all([startApp(kind, { viewer: { signingSecret: SECRET } }), launchChromium()])
    const acme = EVENTS.map((e, i) => storedEvent({ tenant_id: 'acme', action: 'billing.changed', occurred_at: isoAt(i), resource_type: 'bill', resource_id: `r${i}`, ...e }))
    const globex = storedEvent({ tenant_id: 'globex', action: 'billing.changed', actor_id: 'zed', description: 'Invoice paid late', occurred_at: isoAt(10) })
    await t.store.insertBatch([...acme, globex])
    if (kind === 'embedded') {
      // Eve's event as stored before word search (no entry), then filled by the backfill.
      // The embedded store's description is its file's path.
      const raw = openEmbeddedConnection(t.store.description, { timeoutMs: 5_000 })
      raw.prepare<[string], never>('DELETE FROM audit_logs_fts WHERE rowid = (SELECT rowid FROM audit_logs WHERE id = ?)').run(acme[4]!.id)
      // Where migration 88 would have started on a store that held it then.
      raw.prepare<[string], never>('UPDATE auditq_search_backfill SET below = (SELECT rowid + 1 FROM audit_logs WHERE id = ?)').run(acme[4]!.id)
      raw.close()
      expect(await t.store.searchBackfill!.countUnindexed()).toBe(1)
      expect(await runSearchBackfill(t.store.searchBackfill!, { batchRows: 10, pauseMs: 0 })).toMatchObject({ filled: 1, remaining: 0 })
    }
    base = await listen(t.app)
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  it.skipIf(kind === 'postgres' && !hasPostgres)('shows the rows that match words, a quoted phrase and an exclusion, within the token’s tenant', async () => {
    const w = await openPage(browser)
    try {
      const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme' })
      await w.page.goto(`${base}/viewer#token=${token}`)
      await w.page.waitForFunction(() => document.querySelector('auditq-viewer')?.getAttribute('data-state') === 'ready')
      expect(await shownActors(w.page)).toEqual(['eve', 'dan', 'cat', 'bob', 'ann'])

      // Words: every one must be there, anywhere, any case (Eve's is a metadata value).
      await search(w.page, 'invoice paid', ['cat', 'bob', 'ann'])
      await search(w.page, 'INVOICE', ['eve', 'cat', 'bob', 'ann'])
      // A quoted phrase: the words next to each other, in order ("Late fee waived, then paid" is not).
      await search(w.page, '"paid late"', ['cat', 'ann'])
      await w.page.screenshot({ path: artifactPath(`viewer-search-${kind}`) })
      // Exclusions, of a word and beside a phrase.
      await search(w.page, 'invoice -refund', ['eve', 'bob', 'ann'])
      await search(w.page, '"paid late" -refund', ['ann'])
      // Punctuation splits words: INV-1001 is the phrase "inv 1001".
      await search(w.page, 'inv-1001', ['eve'])
      // Nothing matches: the message, not a blank table.
      await search(w.page, 'invoice -paid -invoice', [])
      // Globex's "Invoice paid late" never shows, whatever is searched.
      await search(w.page, 'zed', [])

      // Cleared: the whole log again.
      await w.page.locator('auditq-viewer input[name=q]').fill('')
      await w.page.locator('auditq-viewer input[name=q]').press('Enter')
      await w.page.waitForFunction(() => document.querySelector('auditq-viewer')?.getAttribute('data-rows') === '5')
      expect(await shownActors(w.page)).toEqual(['eve', 'dan', 'cat', 'bob', 'ann'])
      expect(w.pageErrors).toEqual([])
    } finally {
      await w.context.close()
    }
  })
})
