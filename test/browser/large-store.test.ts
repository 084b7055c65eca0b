/// <reference lib="dom" />
/**
 * 100,000 stored events: the page holds one keyset page at a time, so the first page, the next
 * page and a filtered page each answer quickly however large the store is. The bounds are
 * generous on purpose (a shared CI machine); the measured times are printed for the record.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../support/app.js'
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser.js'
import { isoAt, storedEvent } from '../support/events.js'
import { columnTexts, listen, openPage } from './support.js'

const hasChromium = chromiumAvailable()
const TOTAL = 100_000
const CHUNK = 5_000
const ACTORS = 200
const GENEROUS_MS = 15_000

describe.skipIf(!hasChromium)(`dashboard over ${TOTAL.toLocaleString('en-US')} stored events`, () => {
  let t: TestApp
  let base: string
  let browser: Browser

  beforeAll(async () => {
    ;[t, browser] = await Promise.all([startApp('embedded'), launchChromium()])
    const started = Date.now()
    for (let offset = 0; offset < TOTAL; offset += CHUNK) {
      const events = Array.from({ length: CHUNK }, (_, i) => {
        const n = offset + i
        // One event every 0.5 s: 100k events span about 14 hours, newest last.
        return storedEvent({ occurred_at: isoAt(n / 2), actor_id: `actor-${n % ACTORS}`, action: n % 7 === 0 ? 'doc.delete' : 'doc.read', success: n % 13 !== 0 })
      })
      await t.store.insertBatch(events)
    }
    console.info(`stored ${TOTAL} events in ${Date.now() - started} ms`)
    base = await listen(t.app)
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  it('renders the newest page, pages on and filters, one page of rows at a time', async () => {
    const w = await openPage(browser)
    try {
      const timings: Record<string, number> = {}
      const timed = async (name: string, action: () => Promise<unknown>) => {
        const start = Date.now()
        await action()
        timings[name] = Date.now() - start
      }
      await timed('first page', async () => {
        await w.page.goto(`${base}/`)
        await w.page.waitForFunction(() => document.querySelectorAll('#events-body tr.event').length === 50, null, { timeout: GENEROUS_MS })
      })
      // Newest first: the last stored event (n = TOTAL - 1) is on top.
      expect((await columnTexts(w.page, 'time'))[0]).toBe(isoAt((TOTAL - 1) / 2).replace('T', ' ').replace('Z', ''))
      const firstPageTop = await w.page.getAttribute('#events-body tr.event >> nth=0', 'data-id')

      for (const pageNumber of [2, 3]) {
        await timed(`page ${pageNumber}`, async () => {
          await w.page.click('#page-older')
          await w.page.waitForFunction((n) => document.getElementById('page-info')?.textContent?.startsWith(`page ${n} `), pageNumber, { timeout: GENEROUS_MS })
        })
        expect(await w.page.locator('#events-body tr.event').count()).toBe(50)
      }
      // Page 3 starts exactly 100 events below the top: no gap, no overlap.
      expect((await columnTexts(w.page, 'time'))[0]).toBe(isoAt((TOTAL - 101) / 2).replace('T', ' ').replace('Z', ''))

      await timed('filtered page', async () => {
        await w.page.fill('#filters input[name="actor_id"]', 'actor-7')
        await w.page.selectOption('#filters select[name="success"]', 'false')
        await w.page.click('#filters button[type="submit"]')
        await w.page.waitForFunction(
          () => {
            const actors = [...document.querySelectorAll('#events-body td.actor')].map((td) => td.textContent)
            return actors.length > 0 && actors.every((a) => a === 'actor-7')
          },
          null,
          { timeout: GENEROUS_MS },
        )
      })
      expect(new Set(await columnTexts(w.page, 'result'))).toEqual(new Set(['failed']))
      await w.page.click('#filters-clear')
      await w.page.waitForFunction((top) => document.querySelector('#events-body tr.event')?.getAttribute('data-id') === top, firstPageTop, { timeout: GENEROUS_MS })

      // The page stays responsive: a script turn completes promptly while polling continues.
      await timed('script turn', () => w.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve))))
      console.info(`dashboard over ${TOTAL} events (ms): ${JSON.stringify(timings)}`)
      await w.page.screenshot({ path: artifactPath('dashboard-100k'), fullPage: true })
      expect(w.pageErrors).toEqual([])
    } finally {
      await w.context.close()
    }
  })
})
