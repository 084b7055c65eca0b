/// <reference lib="dom" />
/**
 * The service stops answering while the page is open: the page must not go on showing the last
 * good status. It turns red with the reason, keeps the last rows, and recovers by itself.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../support/app.js'
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser.js'
import { listen, openPage, postEvents } from './support.js'

const hasChromium = chromiumAvailable()

describe.skipIf(!hasChromium)('dashboard when the service goes away', () => {
  let t: TestApp
  let browser: Browser

  beforeAll(async () => {
    ;[t, browser] = await Promise.all([startApp('embedded'), launchChromium()])
  })
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  it('shows the service as unreachable, keeps the rows it had, and recovers when it is back', async () => {
    const base = await listen(t.app)
    const [id] = await postEvents(base, [{ action: 'before.outage', actor_id: 'u-outage' }])
    const w = await openPage(browser)
    try {
      await w.page.goto(`${base}/`)
      await w.page.waitForSelector('#status[data-status="healthy"]')
      await w.page.waitForSelector(`#events-body tr[data-id="${id}"]`)

      // Stop answering: a server that refuses connections on the same port.
      const port = new URL(base).port
      t.app.server.close()
      t.app.server.closeAllConnections()
      await w.page.waitForSelector('#status[data-status="unreachable"]')
      expect(await w.page.getAttribute('#status', 'data-level')).toBe('bad')
      expect(await w.page.textContent('#status-reasons')).toMatch(/did not answer/)
      await w.page.waitForSelector('#fetch-error:not([hidden])')
      expect(await w.page.locator(`#events-body tr[data-id="${id}"]`).count()).toBe(1)
      await w.page.screenshot({ path: artifactPath('dashboard-unreachable'), fullPage: true })

      await new Promise<void>((resolve, reject) => t.app.server.listen(Number(port), '127.0.0.1', resolve).once('error', reject))
      await w.page.waitForSelector('#status[data-status="healthy"]', { timeout: 15_000 })
      await w.page.waitForSelector('#fetch-error', { state: 'hidden' })
      expect(w.pageErrors).toEqual([])
    } finally {
      await w.context.close()
    }
  })
})
