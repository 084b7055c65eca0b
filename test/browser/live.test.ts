/// <reference lib="dom" />
/**
 * The dashboard as a person on call uses it: the real service on a socket (embedded store, direct
 * mode), Debian's Chromium driven by playwright-core, events posted over HTTP while the page is open.
 */
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../support/app.js'
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser.js'
import { columnTexts, listen, openPage, pollCount, postEvents, waitForPolls, type WatchedPage } from './support.js'

const hasChromium = chromiumAvailable()
const README_IMAGE_DIR = join(import.meta.dirname, '..', '..', 'docs', 'img')

describe.skipIf(!hasChromium)('dashboard in Chromium', () => {
  let t: TestApp
  let base: string
  let browser: Browser
  let w: WatchedPage

  beforeAll(async () => {
    ;[t, browser] = await Promise.all([startApp('embedded'), launchChromium()])
    base = await listen(t.app)
  })
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })
  beforeEach(async () => {
    w = await openPage(browser)
  })
  afterEach(async () => {
    // No test may leave a script error or a dialog behind, whatever it asserted.
    expect(w.pageErrors).toEqual([])
    expect(w.dialogs).toEqual([])
    await w.context.close()
  })

  it('loads with no external requests and shows the status with its reasons', async () => {
    const foreign: string[] = []
    w.page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('data:')) foreign.push(request.url())
    })
    await postEvents(base, [{ action: 'dashboard.opened', actor_id: 'oncall-1', description: 'first event' }])
    await w.page.goto(`${base}/`)
    await w.page.waitForSelector('#status[data-status="healthy"]')
    expect(await w.page.textContent('#status-text')).toBe('healthy')
    expect(await w.page.getAttribute('#status', 'data-level')).toBe('ok')
    expect(await w.page.textContent('#status-reasons')).toContain('No issues')
    await w.page.waitForSelector('#events-body tr.event')
    expect(foreign).toEqual([])
    await w.page.screenshot({ path: artifactPath('dashboard-loaded'), fullPage: true })
  })

  it('shows a posted event in the table within a few seconds, without a reload', async () => {
    await w.page.goto(`${base}/`)
    await waitForPolls(w.page, 1)
    const posted = Date.now()
    const [id] = await postEvents(base, [{ action: 'user.login', actor_id: 'live-arrival', resource_type: 'session', resource_id: 's-42' }])
    const row = w.page.locator(`#events-body tr[data-id="${id}"]`)
    await row.waitFor({ timeout: 8_000 })
    console.info(`posted event visible after ${Date.now() - posted} ms`)
    expect(await row.locator('td.actor').textContent()).toBe('live-arrival')
    expect(await row.locator('td.action').textContent()).toBe('user.login')
    expect(await row.locator('td.resource').textContent()).toBe('session/s-42')
    // The newest row is on top.
    expect(await w.page.getAttribute('#events-body tr.event >> nth=0', 'data-id')).toBe(id)
  })

  it('narrows the table with filters, keeps them across live refreshes and a reload', async () => {
    await postEvents(base, [
      { action: 'doc.read', actor_id: 'filter-alice' },
      { action: 'doc.write', actor_id: 'filter-alice', success: false, error_message: 'denied' },
      { action: 'doc.read', actor_id: 'filter-alice', category: 'warning' },
      { action: 'doc.read', actor_id: 'filter-bob' },
    ])
    await w.page.goto(`${base}/`)
    await w.page.waitForSelector('#events-body tr.event td.actor >> text=filter-bob')

    await w.page.fill('#filters input[name="actor_id"]', 'filter-alice')
    await w.page.click('#filters button[type="submit"]')
    await w.page.waitForFunction(() => [...document.querySelectorAll('#events-body td.actor')].every((td) => td.textContent === 'filter-alice'))
    expect(await columnTexts(w.page, 'actor')).toEqual(['filter-alice', 'filter-alice', 'filter-alice'])

    await w.page.selectOption('#filters select[name="success"]', 'false')
    await w.page.click('#filters button[type="submit"]')
    await w.page.waitForFunction(() => document.querySelectorAll('#events-body tr.event').length === 1)
    expect(await columnTexts(w.page, 'text')).toEqual(['denied'])
    expect(await columnTexts(w.page, 'result')).toEqual(['failed'])

    // New events that do not match arrive while the page refreshes: the filter holds.
    await postEvents(base, [{ action: 'doc.read', actor_id: 'filter-bob', success: false }])
    await waitForPolls(w.page, 2)
    expect(await columnTexts(w.page, 'actor')).toEqual(['filter-alice'])

    // Category and a time range that excludes everything so far.
    await w.page.selectOption('#filters select[name="success"]', '')
    await w.page.selectOption('#filters select[name="category"]', 'warning')
    await w.page.click('#filters button[type="submit"]')
    // The previous answer also had one row (the failed 'denied' event, category info): wait for the new one.
    await w.page.waitForFunction(() => {
      const rows = document.querySelectorAll('#events-body tr.event')
      return rows.length === 1 && (rows[0]?.textContent ?? '').includes('warning')
    })
    expect(await columnTexts(w.page, 'category')).toEqual(['warning'])
    await w.page.fill('#filters input[name="from"]', '2099-01-01T00:00:00')
    await w.page.click('#filters button[type="submit"]')
    await w.page.waitForSelector('#events-empty:not([hidden])')

    // The filters live in the URL: a reload comes back to the same view.
    await w.page.fill('#filters input[name="from"]', '')
    await w.page.click('#filters button[type="submit"]')
    expect(new URL(w.page.url()).hash).toBe('#actor_id=filter-alice&category=warning')
    await w.page.reload()
    await w.page.waitForSelector('#events-body tr.event')
    expect(await w.page.inputValue('#filters input[name="actor_id"]')).toBe('filter-alice')
    expect(await columnTexts(w.page, 'actor')).toEqual(['filter-alice'])
    await w.page.screenshot({ path: artifactPath('dashboard-filtered'), fullPage: true })

    await w.page.click('#filters-clear')
    await w.page.waitForSelector('#events-body td.actor >> text=filter-bob')
  })

  it('never draws a slow answer for the old filter over the rows of the new one', async () => {
    await postEvents(base, [{ action: 'race.probe', actor_id: 'race-kept' }, { action: 'race.probe', actor_id: 'race-other' }])
    await w.page.goto(`${base}/#action=race.probe`)
    await w.page.waitForSelector('#events-body td.actor >> text=race-other')
    // Hold back the next refresh for the unfiltered-by-actor view until the reader has moved on.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let delivered!: () => void
    const stale = new Promise<void>((resolve) => (delivered = resolve))
    let intercepted!: () => void
    const inFlight = new Promise<void>((resolve) => (intercepted = resolve))
    await w.page.route(
      (url) => url.pathname === '/v1/events' && !url.searchParams.has('actor_id'),
      async (route) => {
        intercepted()
        await held
        await route.continue()
        delivered()
      },
      { times: 1 },
    )
    await inFlight
    await w.page.fill('#filters input[name="actor_id"]', 'race-kept')
    await w.page.click('#filters button[type="submit"]')
    await w.page.waitForFunction(() => document.querySelectorAll('#events-body tr.event').length === 1)
    // Let the held refresh finish, then look before the next one could redraw anything.
    const heldRefreshDone = waitForPolls(w.page, 1)
    release()
    await stale
    await heldRefreshDone
    expect(await columnTexts(w.page, 'actor')).toEqual(['race-kept'])
  })

  it('says which filter the service refused, and keeps saying it across refreshes', async () => {
    // The inputs cap their length; a link can still carry an over-long value.
    await w.page.goto(`${base}/#actor_id=${'x'.repeat(300)}`)
    await w.page.waitForSelector('#fetch-error:not([hidden])')
    expect(await w.page.textContent('#fetch-error')).toMatch(/actor_id: must be 1–256 characters/)
    await waitForPolls(w.page, 1)
    expect(await w.page.isVisible('#fetch-error')).toBe(true)
    await w.page.click('#filters-clear')
    await w.page.waitForSelector('#fetch-error', { state: 'hidden' })
  })

  it('does not move rows under a reader on an older page: it offers the newer events instead', async () => {
    await postEvents(base, Array.from({ length: 60 }, (_, i) => ({ action: 'reader.page', actor_id: `reader-${i}` })))
    await w.page.goto(`${base}/#action=reader.page`)
    await w.page.waitForFunction(() => document.querySelectorAll('#events-body tr.event').length === 50)
    await w.page.click('#page-older')
    await w.page.waitForFunction(() => document.getElementById('page-info')?.textContent?.startsWith('page 2 '))
    const olderPage = await columnTexts(w.page, 'actor')
    expect(olderPage).toHaveLength(10)

    const [id] = await postEvents(base, [{ action: 'reader.page', actor_id: 'reader-late' }])
    await w.page.waitForSelector('#new-events:not([hidden])')
    expect(await w.page.textContent('#new-events')).toMatch(/^1 newer event/)
    expect(await columnTexts(w.page, 'actor')).toEqual(olderPage)

    await w.page.click('#new-events')
    await w.page.waitForSelector(`#events-body tr.event[data-id="${id}"]`)
    expect(await w.page.textContent('#page-info')).toMatch(/^page 1 /)
    expect(await w.page.isHidden('#new-events')).toBe(true)
  })

  it('stops refreshing while "live" is off and catches up when it is back on', async () => {
    await w.page.goto(`${base}/`)
    await waitForPolls(w.page, 1)
    await w.page.uncheck('#live')
    await w.page.waitForSelector('body[data-refreshing="false"]') // a refresh already under way may finish
    const pollsWhenPaused = await pollCount(w.page)
    const [id] = await postEvents(base, [{ action: 'paused.view', actor_id: 'while-paused' }])
    // Longer than a refresh interval (2 s): a page still polling would have drawn the row by now.
    await w.page.waitForTimeout(2_500)
    expect(await w.page.locator(`#events-body tr[data-id="${id}"]`).count()).toBe(0)
    expect(await pollCount(w.page)).toBe(pollsWhenPaused)
    await w.page.check('#live')
    await w.page.waitForSelector(`#events-body tr[data-id="${id}"]`)
  })

  it('renders hostile stored strings as text: no script runs, no element is injected', async () => {
    const payloads = {
      actor_id: '<script>window.__xss = "actor"</script>',
      description: '"><img src=x onerror="window.__xss = \'img\'; alert(1)">',
      error_message: "<svg onload=alert('svg')></svg>",
      resource_type: '</td></tr><tr><td><b>row</b>',
      resource_id: "'; alert(2); '",
      user_agent: '<iframe src="javascript:alert(3)">',
    }
    const [id] = await postEvents(base, [{ action: 'xss.probe', success: false, metadata: { note: payloads.actor_id, nested: { v: payloads.description } }, ...payloads }])
    await w.page.goto(`${base}/#action=xss.probe`)
    const row = w.page.locator(`#events-body tr[data-id="${id}"]`)
    await row.waitFor()
    expect(await row.locator('td.actor').textContent()).toBe(payloads.actor_id)
    expect(await row.locator('td.text').textContent()).toBe(payloads.error_message)
    expect(await row.locator('td.resource').textContent()).toBe(`${payloads.resource_type}/${payloads.resource_id}`)
    expect(await w.page.locator('#events-body tr').count()).toBe(1)

    // The full event in the detail row: JSON text, parsed back to exactly what was stored.
    await row.click()
    const detail = await w.page.locator('#events-body tr.detail pre').textContent()
    expect(JSON.parse(detail!)).toMatchObject({ id, ...payloads, description: payloads.description, metadata: { note: payloads.actor_id, nested: { v: payloads.description } } })

    // A payload typed into a filter is a filter value, not markup.
    await w.page.fill('#filters input[name="actor_id"]', payloads.actor_id)
    await w.page.click('#filters button[type="submit"]')
    await w.page.waitForFunction((want) => document.querySelector('#events-body td.actor')?.textContent === want, payloads.actor_id)
    await waitForPolls(w.page, 1)

    const injected = await w.page.evaluate(() => ({
      flag: (window as unknown as { __xss?: string }).__xss ?? null,
      elements: document.querySelectorAll('#events-body img, #events-body script, #events-body svg, #events-body iframe, #events-body b').length,
      scripts: [...document.scripts].map((s) => s.getAttribute('src')),
    }))
    expect(injected).toEqual({ flag: null, elements: 0, scripts: ['/dashboard/assets/app.js'] })
    await w.page.screenshot({ path: artifactPath('dashboard-xss'), fullPage: true })
  })

  it('shows stored and ingest figures rising when load is applied', async () => {
    await w.page.goto(`${base}/`)
    await w.page.waitForSelector('[data-metric="inserts_last_minute"] .value')
    await w.page.waitForFunction(() => document.querySelector('[data-metric="inserts_last_minute"] .value')?.textContent !== '–', null, { timeout: 10_000 })
    const figure = async (metric: string) => Number((await w.page.textContent(`[data-metric="${metric}"] .value`))!.replace(/[^\d.]/g, ''))
    const before = await figure('inserts_last_minute')
    for (let batch = 0; batch < 3; batch++) {
      await postEvents(base, Array.from({ length: 100 }, (_, i) => ({ action: 'load.applied', actor_id: `load-${batch}-${i}` })))
    }
    await w.page.waitForFunction(
      (want) => Number(document.querySelector('[data-metric="inserts_last_minute"] .value')?.textContent?.replace(/[^\d.]/g, '')) >= want,
      before + 300,
      { timeout: 10_000 },
    )
    expect(await figure('ingest_rate_per_second')).toBeGreaterThan(0)
    expect(await figure('store_rate_per_second')).toBeGreaterThan(0)
    // The charts draw the sampler's history: a line rising off the floor once the load shows in a sample.
    await w.page.waitForFunction(
      () => {
        const svg = document.querySelector('[data-metric="store_rate_per_second"] svg')
        const d = svg?.querySelector('path.line')?.getAttribute('d') ?? ''
        const ys = [...d.matchAll(/,([\d.]+)/g)].map((m) => Number(m[1]))
        return Number(svg?.getAttribute('data-points')) >= 2 && Math.min(...ys) < Math.max(...ys)
      },
      null,
      { timeout: 10_000 },
    )
    await w.page.screenshot({ path: artifactPath('dashboard-under-load') })
    // The dashboard picture in docs/monitoring.md is this screenshot; refresh it on purpose, not on every run.
    if (process.env.AUDITQ_UPDATE_SCREENSHOT === '1') {
      mkdirSync(README_IMAGE_DIR, { recursive: true })
      copyFileSync(artifactPath('dashboard-under-load'), join(README_IMAGE_DIR, 'dashboard.png'))
    }
  })
})
