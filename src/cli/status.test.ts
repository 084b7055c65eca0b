import { spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../../test/support/app.js'
import { CLI, cliEnv } from '../../test/support/cli.js'
import { renderStatus, type AuditMetricsBody } from './status-view.js'


/** Runs the built CLI without blocking this process's event loop (the service answers from here). */
function auditq(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv() })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const running: TestApp[] = []
afterEach(async () => {
  for (const t of running.splice(0)) await t.close()
})

describe('auditq status', () => {
  it('prints the service figures as JSON when stdout is not a terminal; exit 0 when healthy, 1 when not', async () => {
    const t = await startApp('embedded')
    running.push(t)
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 })
    await t.audit.logBulk([{ action: 'status.one' }, { action: 'status.two' }])

    const healthy = await auditq(['status', '--url', url])
    expect(healthy.code).toBe(0)
    const body = JSON.parse(healthy.stdout)
    expect(body).toMatchObject({ health: { status: 'healthy', issues: [] }, metrics: { mode: 'direct', inserts_last_minute: 2, queue_length: 0 } })

    await t.store.close()
    const broken = await auditq(['status', '--url', url, '--json'])
    expect(broken.code).toBe(1)
    expect(JSON.parse(broken.stdout)).toMatchObject({ health: { status: 'critical', issues: ['store unreachable'] } })
  })

  it('--watch prints a fresh JSON line every interval until interrupted', async () => {
    const t = await startApp('embedded')
    running.push(t)
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 })
    const child = spawn(process.execPath, [CLI, 'status', '--url', url, '--watch', '0.2'], { env: cliEnv() })
    const lines: string[] = []
    let buffer = ''
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const parts = buffer.split('\n')
      buffer = parts.pop()!
      lines.push(...parts)
    })
    const deadline = Date.now() + 15_000
    while (lines.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    child.kill('SIGINT')
    await new Promise((resolve) => child.once('close', resolve))
    expect(lines.length).toBeGreaterThanOrEqual(3)
    const stamps = lines.slice(0, 3).map((line) => JSON.parse(line) as { health: { status: string }; timestamp: string })
    expect(stamps.every((body) => body.health.status === 'healthy')).toBe(true)
    expect(new Set(stamps.map((body) => body.timestamp)).size).toBe(3)
  })

  it('--watch stops quietly with exit 0 when the reader goes away (`| head -1`)', async () => {
    const t = await startApp('embedded')
    running.push(t)
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 })
    const child = spawn(process.execPath, [CLI, 'status', '--url', url, '--watch', '0.2'], { env: cliEnv() })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.once('data', () => child.stdout.destroy())
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
    const outcome = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000))])
    if (outcome === 'still running') child.kill('SIGKILL')
    expect(outcome).toBe(0)
    expect(stderr).toBe('')
  }, 40_000)

  it('says so when no service answers, and suggests starting one with auditq serve or pointing --url at it', async () => {
    const result = await auditq(['status', '--url', 'http://127.0.0.1:1'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/no answer from http:\/\/127\.0\.0\.1:1.*\[AUDITQ_SERVICE_UNREACHABLE\]/)
    expect(result.stderr).toMatch(/`auditq serve`/)
    expect(result.stderr).toMatch(/--url/)
  })
})

describe('the status table', () => {
  it('shows status, issues, queue, rates and the advice a person acts on', () => {
    const body: AuditMetricsBody = {
      health: { status: 'degraded', issues: ['queue backed up: 6,000 events waiting (threshold 5,000)', 'oldest unstored event is 75 s old (threshold 60 s)'] },
      services: { store: 'connected', redis: 'connected', audit_worker: 'running' },
      metrics: {
        mode: 'queue', queue_length: 6_000, oldest_event_age_seconds: 75.2, dead_letters: 0, spill_waiting_events: 0, live_workers: 2,
        arrival_rate_per_second: 3_000, ingest_rate_per_second: 1_500, store_rate_per_second: 800, inserts_last_minute: 48_000,
        failures_last_minute: 0, avg_batch_time_ms: 40, avg_batch_size: 400, current_batch_size: 500, total_dropped_events: 0,
        total_overflow_events: 0, total_spilled_events: 0,
      },
      recommendations: [{ severity: 'warning', message: '2 workers are draining 800 events/s against 3,000 arriving; add workers or raise the batch size.' }],
      timestamp: '2026-11-23T12:00:00.000Z',
    }
    expect(renderStatus(body, 'http://127.0.0.1:3000', false)).toBe(
      [
        'auditq  http://127.0.0.1:3000  queue mode  2026-11-23T12:00:00.000Z',
        'status    DEGRADED',
        'issues    - queue backed up: 6,000 events waiting (threshold 5,000)',
        '          - oldest unstored event is 75 s old (threshold 60 s)',
        'services  store connected · redis connected · audit_worker running',
        '',
        'queue     6,000 events   oldest 75.2 s   dead letters 0   spill waiting 0',
        'rates     arriving 3,000/s   stored 800/s   ingest here 1,500/s',
        'last min  inserts 48,000   failures 0   batch 40 ms, 400 events',
        'totals    dropped 0   overflowed 0   spilled 0',
        'workers   2 live',
        '',
        '> 2 workers are draining 800 events/s against 3,000 arriving; add workers or raise the batch size.',
        '',
      ].join('\n'),
    )
    expect(renderStatus(body, 'u', true)).toContain('\x1b[33mDEGRADED\x1b[0m')
  })
})
