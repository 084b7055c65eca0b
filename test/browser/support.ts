/// <reference lib="dom" />
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Browser, BrowserContext, Page } from 'playwright-core'

/** Listens on a free loopback port and answers the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}

export interface PostedEvent {
  action: string
  [field: string]: unknown
}

/** POSTs events over the real socket, as a client would; answers the ids. */
export async function postEvents(base: string, events: PostedEvent[], headers: Record<string, string> = {}): Promise<string[]> {
  const response = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ events }),
  })
  const body = (await response.json()) as { ids?: string[]; rejected?: unknown[] }
  if (response.status !== 202 || (body.rejected?.length ?? 0) > 0) throw new Error(`POST /v1/events answered ${response.status}: ${JSON.stringify(body)}`)
  return body.ids!
}

/** A page that records what the tests must see never happen: script errors and dialogs. */
export interface WatchedPage {
  context: BrowserContext
  page: Page
  dialogs: string[]
  pageErrors: string[]
}

export async function openPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  // Well under the test's own timeout, so a failure names the step that waited.
  context.setDefaultTimeout(10_000)
  const page = await context.newPage()
  const watched: WatchedPage = { context, page, dialogs: [], pageErrors: [] }
  page.on('dialog', (dialog) => {
    watched.dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  page.on('pageerror', (error) => watched.pageErrors.push(error.message))
  return watched
}

/** How many refresh cycles the page has finished (it counts them on <body data-polls>). */
export async function pollCount(page: Page): Promise<number> {
  return Number((await page.getAttribute('body', 'data-polls')) ?? 0)
}

/** Waits until the page has finished `cycles` more refreshes than now. */
export async function waitForPolls(page: Page, cycles: number): Promise<void> {
  const target = (await pollCount(page)) + cycles
  await page.waitForFunction((n) => Number(document.body.dataset.polls ?? 0) >= n, target, { timeout: 15_000 })
}

/** The text of one column for every event row, top to bottom. */
export async function columnTexts(page: Page, column: string): Promise<string[]> {
  return page.locator(`#events-body tr.event td.${column}`).allTextContents()
}
