/**
 * The HTML report in a real browser (the system Chromium through playwright-core): hostile
 * stored strings must show up as text, create no element, run nothing and load nothing.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HOSTILE, hostileReport } from '../../../test/support/report-fixture.js'
import { renderHtml } from './html.js'

const CHROMIUM = process.env.AUDITQ_CHROMIUM ?? '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM)
if (!hasChromium && process.env.CI === 'true') throw new Error(`Chromium is required in CI but missing at ${CHROMIUM}`)

describe.runIf(hasChromium)('HTML report in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('renders <script> and "><img onerror> payloads as text, runs nothing, requests nothing', async () => {
    const page = await browser.newPage()
    const requests: string[] = []
    page.on('request', (request) => requests.push(request.url()))
    await page.setContent(renderHtml(hostileReport()), { waitUntil: 'load' })
    // Runs in the page; a string, because this project compiles without the DOM library.
    const found = (await page.evaluate(`({
      pwned: window.__pwned ?? null,
      active: document.querySelectorAll('script, img, svg, iframe, object, embed, link, a').length,
      handlers: [...document.querySelectorAll('*')].flatMap((element) => [...element.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.name)),
      text: document.body.innerText,
    })`)) as { pwned: unknown; active: number; handlers: string[]; text: string }
    expect(found.pwned).toBeNull()
    expect(found.active).toBe(0)
    expect(found.handlers).toEqual([])
    for (const payload of [HOSTILE.script, HOSTILE.attribute, HOSTILE.singleQuote, HOSTILE.formula]) expect(found.text).toContain(payload)
    expect(requests.filter((url) => !url.startsWith('about:') && !url.startsWith('data:'))).toEqual([])
    await page.close()
  })
})
