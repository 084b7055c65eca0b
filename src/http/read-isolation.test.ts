/**
 * Reads must never starve ingest. Exports are capped per tenant and per process, an export whose
 * client stops reading is aborted after the idle timeout (its cursor and connection released),
 * and on PostgreSQL every read runs on a pool of its own, so POST /v1/events keeps its latency and
 * never answers 503 while every read path is abused at once.
 */
import { connect, type Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type StoreKind, type TestApp } from '../../test/support/app.js'
import { startKeyedApp } from '../../test/support/keyed-app.js'
import { storedEvent } from '../../test/support/events.js'
import { POSTGRES_URL, postgresAvailable } from '../../test/support/services.js'
import type { PostgresStore } from '../store/postgres/postgres-store.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

/** Wide events, so an export is far larger than the socket buffers between a stalled client and the server. */
async function loadWideEvents(t: Pick<TestApp, 'store'>, count: number, tenant = 'acme'): Promise<void> {
  const blob = 'x'.repeat(4_000)
  for (let i = 0; i < count; i += 500) {
    await t.store.insertBatch(Array.from({ length: Math.min(500, count - i) }, () => storedEvent({ tenant_id: tenant, metadata: { blob } })))
  }
}

/** An export request on a raw socket that never reads its answer: the client a red team would write. */
function stalledExport(port: number, key?: string): Socket {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  const authorization = key ? `Authorization: Bearer ${key}\r\n` : ''
  socket.write(`GET /v1/events/export?format=ndjson HTTP/1.1\r\nHost: 127.0.0.1\r\n${authorization}\r\n`)
  socket.pause()
  return socket
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function listen(t: TestApp): Promise<{ port: number; base: string }> {
  await t.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (t.app.server.address() as { port: number }).port
  return { port, base: `http://127.0.0.1:${port}` }
}

describe.each(kinds)('an export whose client stops reading (%s store)', (kind) => {
  let t: TestApp
  beforeAll(async () => {
    t = await startApp(kind, { reads: { exportIdleTimeoutMs: 1_000, exportMaxPerTenant: 1, exportMaxConcurrent: 2 } })
    await loadWideEvents(t, 3_000)
  })
  afterAll(() => t.close())

  it('is aborted after the idle timeout, releasing its slot, cursor and connection', async () => {
    const { port, base } = await listen(t)
    const socket = stalledExport(port)
    try {
      // While it stalls, the open-mode caller's one export slot is taken.
      await until(async () => (await fetch(`${base}/v1/events/export?format=ndjson&action=nothing.matches`, { signal: AbortSignal.timeout(5_000) }).then(async (r) => (await r.body?.cancel(), r.status))) === 429, 5_000, 'the stalled export to hold its slot')
      // After the idle timeout the server gives up on it: the slot and (PostgreSQL) the read connection come back.
      const started = Date.now()
      await until(async () => {
        const response = await fetch(`${base}/v1/events/export?format=ndjson&action=nothing.matches`)
        return response.status === 200 && (await response.text()) === ''
      }, 10_000, 'the export slot to be freed')
      expect(Date.now() - started).toBeLessThan(10_000)
      if (kind === 'postgres') {
        const store = t.store as PostgresStore
        await until(() => store.readPoolStats().idle === store.readPoolStats().total, 5_000, 'every read connection to be idle')
        const client = new pg.Client({ connectionString: POSTGRES_URL })
        await client.connect()
        try {
          const { rows } = await client.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'auditq%' AND state LIKE 'idle in transaction%' AND query ILIKE '%FETCH%'",
          )
          expect(rows[0].n).toBe(0)
        } finally {
          await client.end()
        }
      }
      // The stalled client finds its connection closed before the export was complete.
      const received = await new Promise<number>((resolve) => {
        let bytes = 0
        socket.on('data', (chunk: Buffer) => (bytes += chunk.length))
        socket.on('close', () => resolve(bytes))
        socket.resume()
      })
      expect(received).toBeLessThan(3_000 * 4_000)
    } finally {
      socket.destroy()
    }
  })
})

describe('export slots are per tenant', () => {
  it("refuses a tenant's second export with 429 while another tenant's key still exports, and answers a neutral 503 when the process is full", async () => {
    const t = await startKeyedApp('embedded', { reads: { exportMaxPerTenant: 1, exportMaxConcurrent: 2 } })
    await loadWideEvents({ store: t.audit.store }, 3_000, 'acme')
    await loadWideEvents({ store: t.audit.store }, 3_000, 'globex')
    const [acme, globex, initech] = await Promise.all(['acme', 'globex', 'initech'].map((tenant) => t.createKey(tenant, ['read'])))
    const port = Number(new URL(t.baseUrl).port)
    // Probes match nothing: an empty 200 when a slot is free, the refusal otherwise.
    const probe = (key: string) =>
      fetch(`${t.baseUrl}/v1/events/export?format=ndjson&action=nothing.matches`, { headers: { authorization: `Bearer ${key}` } }).then(async (r) => ({ status: r.status, body: await r.text() }))
    const sockets: Socket[] = []
    try {
      sockets.push(stalledExport(port, acme!.key))
      await until(async () => (await probe(acme!.key)).status === 429, 5_000, "acme's stalled export to hold acme's slot")
      expect(JSON.parse((await probe(acme!.key)).body)).toMatchObject({ code: 'AUDITQ_RATE_LIMITED', message: expect.stringContaining('"acme"') })
      // acme's export does not hold globex back.
      expect(await probe(globex!.key)).toEqual({ status: 200, body: '' })
      sockets.push(stalledExport(port, globex!.key))
      await until(async () => (await probe(globex!.key)).status === 429, 5_000, "globex's stalled export to hold globex's slot")
      // Both process slots are taken by others: initech learns only that the service is busy.
      const full = await probe(initech!.key)
      expect(full.status).toBe(503)
      expect(JSON.parse(full.body)).toMatchObject({ code: 'AUDITQ_BUSY' })
      expect(JSON.parse(full.body).message).not.toMatch(/acme|globex|\d+ running/)
    } finally {
      for (const socket of sockets) socket.destroy()
      await t.close()
    }
  })
})

describe.runIf(hasPostgres)('ingest while every read path is abused at once (postgres)', () => {
  let t: TestApp
  beforeAll(async () => {
    // The export idle timeout is far beyond the test: the stalled exports hold what they hold throughout.
    t = await startApp('postgres', { reads: { exportIdleTimeoutMs: 120_000 } })
    await loadWideEvents(t, 3_000)
  })
  afterAll(() => t.close())

  async function ingestLatencies(base: string, requests: number): Promise<{ latencies: number[]; statuses: number[] }> {
    const latencies: number[] = []
    const statuses: number[] = []
    // Four clients at once, as a few services sharing one auditq would send.
    await Promise.all(
      Array.from({ length: 4 }, async (_, client) => {
        // The first refusal ends the run: one is enough to fail, and waiting out the rest would take minutes.
        for (let i = client; i < requests && !statuses.some((status) => status !== 202); i += 4) {
          const body = JSON.stringify(Array.from({ length: 5 }, (_, k) => ({ tenant_id: `tenant-${k}`, action: 'doc.view', actor_id: 'u1' })))
          const started = performance.now()
          const response = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(20_000) }).catch(() => undefined)
          await response?.arrayBuffer()
          latencies.push(performance.now() - started)
          statuses.push(response?.status ?? 0)
        }
      }),
    )
    return { latencies, statuses }
  }
  const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.99) - 1)]!

  it('keeps POST /v1/events answering 202 within a generous bound of its own baseline, and the store healthy', async () => {
    const { port, base } = await listen(t)
    const baseline = await ingestLatencies(base, 80)
    expect(baseline.statuses.every((status) => status === 202)).toBe(true)

    // Twelve exports that never read, as in the attack; then pages, reports and verifications hammered until told to stop.
    const sockets = Array.from({ length: 12 }, () => stalledExport(port))
    let abusing = true
    const readStatuses: number[] = []
    const hammer = async (url: string) => {
      while (abusing) {
        const response = await fetch(`${base}${url}`, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined)
        if (response) {
          readStatuses.push(response.status)
          await response.arrayBuffer().catch(() => undefined)
        }
      }
    }
    const abusers = [
      ...Array.from({ length: 6 }, () => hammer('/v1/events?limit=200')),
      ...Array.from({ length: 3 }, () => hammer('/v1/reports?period=monthly')),
      ...Array.from({ length: 3 }, () => hammer('/v1/integrity')),
    ]
    try {
      // Give the exports time to fill their sockets and the hammering time to take every read slot.
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      const abused = await ingestLatencies(base, 80)
      const health = await fetch(`${base}/api/v1/monitoring/health`).then((r) => r.json() as Promise<{ checks?: unknown }>)
      await t.store.ping()
      const baselineP99 = p99(baseline.latencies)
      const abusedP99 = p99(abused.latencies)
      // The shared 2-core machine makes latency noisy: the bound is generous; the failure it
      // guards against is seconds (waiting for a pool connection that never comes) and 503s.
      expect({ statuses: [...new Set(abused.statuses)], baselineP99: Math.round(baselineP99) }).toEqual({ statuses: [202], baselineP99: expect.any(Number) })
      expect(abusedP99).toBeLessThan(Math.max(10 * baselineP99, 2_500))
      expect(JSON.stringify(health)).not.toMatch(/unreachable/i)
      // Reads were refused or served, never failed: 429/503 are the caps saying no.
      expect(readStatuses.filter((status) => status >= 500 && status !== 503)).toEqual([])
    } finally {
      abusing = false
      for (const socket of sockets) socket.destroy()
      await Promise.all(abusers)
    }
  }, 120_000)
})
