/// <reference lib="dom" />
/**
 * Queue mode as an on-call person meets it: `auditq serve --no-worker` (the built CLI) accepting into Redis
 * with no worker running. The page shows the degraded status and why, the queue depth climbing
 * as events are posted, and everything recovering once `auditq worker` starts.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDeployment, sleep, spawnCli, type CliProcess, type Deployment } from '../queue-mode/harness.js'
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser.js'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { openPage, postEvents } from './support.js'

const hasServices = chromiumAvailable() && (await postgresAvailable()) && (await redisAvailable())

async function listeningAddress(server: CliProcess): Promise<string> {
  for (let waited = 0; waited < 20_000; waited += 50) {
    const line = server.logs().find((l) => typeof l.address === 'string')
    if (line) return line.address as string
    await sleep(50)
  }
  throw new Error(`auditq serve did not start:\n${server.tail()}`)
}

describe.skipIf(!hasServices)('dashboard in queue mode', () => {
  let deployment: Deployment
  let server: CliProcess
  let browser: Browser
  let base: string

  beforeAll(async () => {
    ;[deployment, browser] = await Promise.all([openDeployment(), launchChromium()])
    server = spawnCli(['serve', '--port', '0', '--no-worker'], deployment.env)
    base = await listeningAddress(server)
  })
  afterAll(async () => {
    server?.kill('SIGTERM')
    await server?.exited
    await browser?.close()
    await deployment?.dispose()
  })

  it('shows the backlog growing with no worker, then draining when one starts', async () => {
    const w = await openPage(browser)
    const figure = (metric: string) => w.page.textContent(`[data-metric="${metric}"] .value`).then((text) => Number(text!.replace(/[^\d.]/g, '')))
    try {
      await w.page.goto(`${base}/`)
      await w.page.waitForSelector('#status[data-status="degraded"]')
      expect(await w.page.getAttribute('#status', 'data-level')).toBe('warn')
      expect(await w.page.textContent('#status-reasons')).toMatch(/no live queue worker/)
      expect(await w.page.textContent('#mode')).toBe('queue mode')

      for (let batch = 0; batch < 4; batch++) {
        await postEvents(base, Array.from({ length: 50 }, (_, i) => ({ action: 'queued.backlog', actor_id: `q-${batch}-${i}` })))
      }
      await w.page.waitForFunction(
        () => Number(document.querySelector('[data-metric="queue_length"] .value')?.textContent?.replace(/[^\d.]/g, '')) >= 200,
        null,
        { timeout: 10_000 },
      )
      expect(await figure('live_workers')).toBe(0)
      expect(await w.page.getAttribute('[data-metric="live_workers"]', 'data-level')).toBe('bad')
      await w.page.screenshot({ path: artifactPath('dashboard-queue-backlog'), fullPage: true })

      deployment.spawnWorker()
      await w.page.waitForSelector('#status[data-status="healthy"]', { timeout: 20_000 })
      await w.page.waitForFunction(() => document.querySelector('[data-metric="queue_length"] .value')?.textContent === '0', null, { timeout: 20_000 })
      expect(await figure('live_workers')).toBeGreaterThanOrEqual(1)
      await w.page.waitForSelector('#events-body td.action >> text=queued.backlog', { timeout: 10_000 })
      expect(await deployment.storedCount()).toBe(200)
      await w.page.screenshot({ path: artifactPath('dashboard-queue-drained'), fullPage: true })
      expect(w.pageErrors).toEqual([])
    } finally {
      await w.context.close()
    }
  })
})
