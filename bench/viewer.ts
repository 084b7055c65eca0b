/// <reference lib="dom" />
/**
 * The embeddable viewer over a tenant with 1,000,000 events, in Chromium: from navigation to the
 * first page of rows rendered, and from scrolling to the bottom to the next page rendered.
 *
 *   npm run bench:viewer
 * Options: --rows 1000000 --runs 7 --keep
 *
 * The rows are generated inside SQLite (a recursive CTE) in a temp directory, all in one tenant
 * (`big`), spread over 30 days, 1,000 actors, 20 resource types, 3% failures. A second tenant
 * (`small`, 1,000 events of the same shape) is the same-run baseline: if keyset paging holds, the
 * big tenant's pages cost what the small one's do. Each case runs once to warm up, then `runs`
 * times in a fresh page; the table shows median, min and max. Three cases per tenant: the first
 * page unfiltered, the next page (scroll to the bottom), and a first page filtered by actor under
 * a token restricted to four resource types (the restriction ANDed in server-side).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import type { Browser, Page } from 'playwright-core'
import { loadConfig } from '../src/config.js'
import { buildServer } from '../src/http/server.js'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from '../src/store/embedded/embedded-store.js'
import { createLogger } from '../src/util/logger.js'
import { createViewerToken } from '../src/viewer/token.js'
import { launchChromium } from '../test/support/browser.js'
import { median, printTable } from './stats.js'

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '7' },
    keep: { type: 'boolean', default: false },
  },
})
const rows = Number(args.rows)
const runs = Number(args.runs)
const SECRET = 'bench-viewer-signing-secret-0123456789abcdef'
const PAGE = 50
const FROM = Date.parse('2026-11-01T00:00:00Z')
const SPAN_MS = 30 * 86_400_000

const UUID_SQL = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-7' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`

function fill(db: Database.Database, tenant: string, count: number): void {
  const insert = db.prepare(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
    INSERT INTO audit_logs (id, tenant_id, occurred_at, received_at, action, category, actor_id, actor_type,
      resource_type, resource_id, success, error_message, user_agent, metadata)
    SELECT ${UUID_SQL}, ?, t, t, 'document.' || (abs(random()) % 12), 'info', 'user-' || (abs(random()) % 1000), 'user',
      'type.' || (abs(random()) % 20), 'res-' || (abs(random()) % 500000),
      f, CASE WHEN f = 0 THEN 'permission denied' END, 'bench/1', '{"title":"Quarterly plan","pages":12}'
    FROM (SELECT ? + abs(random()) % ? AS t, CASE WHEN abs(random()) % 100 < 3 THEN 0 ELSE 1 END AS f FROM s ORDER BY t)`)
  for (let done = 0; done < count; done += 100_000) {
    const n = Math.min(100_000, count - done)
    db.transaction(() => insert.run(n, tenant, FROM, SPAN_MS))()
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-viewer-'))
  const store = await createEmbeddedStore({ dataDir })
  await store.migrate()
  const db = new Database(join(dataDir, EMBEDDED_DB_FILE))
  const started = Date.now()
  // Indexes built once after the fill instead of maintained row by row: the same indexes, loaded
  // in a fraction of the time.
  const indexes = db.prepare<[], { sql: string; name: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_logs' AND sql IS NOT NULL").all()
  for (const index of indexes) db.exec(`DROP INDEX "${index.name}"`)
  fill(db, 'big', rows)
  fill(db, 'small', 1_000)
  for (const index of indexes) db.exec(index.sql)
  db.exec('ANALYZE')
  db.close()
  log(`loaded ${rows.toLocaleString('en-US')} + 1,000 events in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  const config = loadConfig({ logLevel: 'silent', security: { rateLimitPerSecond: 0 }, viewer: { signingSecret: SECRET } })
  const logger = createLogger({ level: 'silent' })
  const audit = await createAuditLogger({ store, logger })
  const app = await buildServer({ config, audit, logger })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const browser = await launchChromium()
  const table: string[][] = []
  try {
    for (const tenant of ['small', 'big']) {
      const { token } = await createViewerToken({ secret: SECRET, tenant_id: tenant, ttl_seconds: 3600 })
      const restricted = await createViewerToken({ secret: SECRET, tenant_id: tenant, ttl_seconds: 3600, restrictions: { resource_types: ['type.1', 'type.2', 'type.3', 'type.4'] } })
      const cases: Array<[string, (page: Page) => Promise<number>]> = [
        ['first page', (page) => firstPage(page, `${base}/viewer#token=${token}`)],
        ['next page', (page) => nextPage(page, `${base}/viewer#token=${token}`)],
        ['first page, actor filter + restricted token', (page) => filteredPage(page, `${base}/viewer#token=${restricted.token}`)],
      ]
      // The server's share: the same first and next page fetched from Node, no browser.
      const api = async (cursor?: string) => {
        const started = performance.now()
        const response = await fetch(`${base}/v1/viewer/events?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: { authorization: `Bearer ${token}` } })
        const body = (await response.json()) as { next_cursor: string }
        return { ms: performance.now() - started, next: body.next_cursor }
      }
      const apiFirst: number[] = []
      const apiNext: number[] = []
      for (let i = 0; i <= runs * 3; i++) {
        const first = await api()
        const next = await api(first.next)
        if (i > 0) apiFirst.push(first.ms), apiNext.push(next.ms)
      }
      const label = tenant === 'big' ? rows.toLocaleString('en-US') : '1,000'
      table.push([label, 'API only: first page (Node fetch)', ms(median(apiFirst)), ms(Math.min(...apiFirst)), ms(Math.max(...apiFirst))])
      table.push([label, 'API only: next page (Node fetch)', ms(median(apiNext)), ms(Math.min(...apiNext)), ms(Math.max(...apiNext))])
      for (const [name, measure] of cases) {
        const times = await samples(browser, measure)
        table.push([tenant === 'big' ? rows.toLocaleString('en-US') : '1,000', name, ms(median(times)), ms(Math.min(...times)), ms(Math.max(...times))])
      }
    }
  } finally {
    await browser.close()
    await app.close()
    await audit.close()
    if (!args.keep) rmSync(dataDir, { recursive: true, force: true })
  }
  log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 cores)`)
  printTable(['events in tenant', 'case', 'median', 'min', 'max'], table)
}

/** Navigation start to the first page's rows in the DOM (performance.now() in the page: 0 = navigation start). */
async function firstPage(page: Page, url: string): Promise<number> {
  await page.goto(url)
  return page.evaluate(
    (n) =>
      new Promise<number>((resolve) => {
        const check = () => (Number(document.querySelector('auditq-viewer')?.getAttribute('data-rows')) >= n ? resolve(performance.now()) : requestAnimationFrame(check))
        check()
      }),
    PAGE,
  )
}

/** Scrolling the table to its end to the next page's rows in the DOM. */
async function nextPage(page: Page, url: string): Promise<number> {
  await firstPage(page, url)
  return page.evaluate(
    (n) =>
      new Promise<number>((resolve) => {
        const viewer = document.querySelector('auditq-viewer')!
        const scroller = viewer.shadowRoot!.querySelector<HTMLElement>('[part=scroller]')!
        const start = performance.now()
        scroller.scrollTop = scroller.scrollHeight
        const check = () => (Number(viewer.getAttribute('data-rows')) >= n ? resolve(performance.now() - start) : requestAnimationFrame(check))
        check()
      }),
    PAGE * 2,
  )
}

/** Typing an actor and pressing Enter, under a resource-type-restricted token, to its rows (or "no match") in the DOM. */
async function filteredPage(page: Page, url: string): Promise<number> {
  await firstPage(page, url).catch(() => undefined)
  await page.waitForFunction(() => document.querySelector('auditq-viewer')?.getAttribute('data-state') === 'ready')
  await page.fill('auditq-viewer input[name=actor_id]', 'user-7')
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const viewer = document.querySelector('auditq-viewer')!
        const input = viewer.shadowRoot!.querySelector<HTMLInputElement>('input[name=actor_id]')!
        const start = performance.now()
        input.form!.requestSubmit()
        const check = () => {
          const cells = [...viewer.shadowRoot!.querySelectorAll('td.actor')]
          const done = viewer.getAttribute('data-state') === 'ready' && cells.length > 0 && cells.every((c) => c.textContent === 'user-7')
          if (done || (viewer.getAttribute('data-state') === 'ready' && viewer.getAttribute('data-done') === 'true')) resolve(performance.now() - start)
          else requestAnimationFrame(check)
        }
        requestAnimationFrame(check)
      }),
  )
}

async function samples(browser: Browser, measure: (page: Page) => Promise<number>): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i <= runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      const time = await measure(page)
      if (i > 0) times.push(time) // the first run warms caches and the page cache
    } finally {
      await context.close()
    }
  }
  return times
}

function ms(value: number): string {
  return value < 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} ms`
}

function log(line: string): void {
  process.stderr.write(line + '\n')
}

await main()
