/**
 * Load generators and the end-of-run wait.
 * - closed loop: `concurrency` callers, each awaiting its call before making the next, until
 *   `total` calls were made (throughput runs);
 * - open loop: calls started on a fixed schedule whatever the answers (latency at an offered load);
 * - `waitCommitted`: polls the table until it holds every event, which is the end of an
 *   end-to-end measurement.
 */
import type pg from 'pg'
import { percentile } from '../stats.js'
import { countRows } from './fixture.js'
import { StallRecorder, type LoopStalls } from './loop-stalls.js'

/** A call logs event `i` and resolves with the id it was stored (or queued) under. */
export type LogCall = (i: number) => Promise<string>

export interface Produced {
  latenciesMs: Float64Array
  /** Open loop only: how late each call started against its schedule (timer granularity, a busy event loop). */
  lagMs?: Float64Array
  /** Open loop with `recordStalls`: the caller's event-loop stalls and what they were made of. */
  stalls?: LoopStalls
  ids: string[]
  errors: number
  firstError?: unknown
  startedAt: number
  producedAt: number
}

export async function driveClosed(total: number, concurrency: number, call: LogCall): Promise<Produced> {
  const latenciesMs = new Float64Array(total)
  const ids: string[] = new Array(total)
  let next = 0
  let errors = 0
  let firstError: unknown
  const startedAt = performance.now()
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t0 = performance.now()
        try {
          ids[i] = await call(i)
        } catch (error) {
          errors++
          firstError ??= error
        }
        latenciesMs[i] = performance.now() - t0
      }
    }),
  )
  return { latenciesMs, ids: ids.filter((id) => id !== undefined), errors, firstError, startedAt, producedAt: performance.now() }
}

export async function driveOpen(ratePerSecond: number, seconds: number, call: LogCall, options: { recordStalls?: boolean } = {}): Promise<Produced> {
  const total = Math.max(1, Math.round(ratePerSecond * seconds))
  const latenciesMs = new Float64Array(total)
  const lagMs = new Float64Array(total)
  const ids: string[] = new Array(total)
  // Outstanding calls are counted, not kept: holding 50,000 settled promises until the end would
  // make every young-generation GC copy them, and the harness would be timing its own GC.
  let outstanding = 0
  let allStarted = false
  let allDone: () => void = () => undefined
  const finished = new Promise<void>((resolve) => (allDone = resolve))
  let errors = 0
  let firstError: unknown
  const intervalMs = 1000 / ratePerSecond
  const startedAt = performance.now()
  const recorder = options.recordStalls ? new StallRecorder() : undefined
  const settle = () => {
    outstanding--
    if (allStarted && outstanding === 0) allDone()
  }
  const fire = (i: number) => {
    const t0 = performance.now()
    lagMs[i] = t0 - (startedAt + i * intervalMs)
    outstanding++
    call(i).then(
      (id) => {
        latenciesMs[i] = performance.now() - t0
        ids[i] = id
        settle()
      },
      (error: unknown) => {
        latenciesMs[i] = performance.now() - t0
        errors++
        firstError ??= error
        settle()
      },
    )
  }
  let next = 0
  await new Promise<void>((resolve) => {
    // Timers fire about once a millisecond: each tick starts every call that is due, in order,
    // so at 5,000/s calls arrive in bursts of ~5, as requests from many clients would.
    const tick = () => {
      recorder?.tick()
      const due = Math.min(total, Math.floor(((performance.now() - startedAt) * ratePerSecond) / 1000) + 1)
      while (next < due) fire(next++)
      if (next >= total) resolve()
      else setTimeout(tick, 1)
    }
    tick()
  })
  allStarted = true
  const stalls = recorder?.stop()
  if (outstanding > 0) await finished
  return { latenciesMs, lagMs, ...(stalls ? { stalls } : {}), ids: ids.filter((id) => id !== undefined), errors, firstError, startedAt, producedAt: performance.now() }
}

export interface LatencySummary {
  p50: number
  p99: number
  p999: number
  max: number
}

export function summarize(values: Float64Array): LatencySummary {
  const sorted = Float64Array.from(values).sort()
  const list = Array.from(sorted)
  return { p50: percentile(list, 50), p99: percentile(list, 99), p999: percentile(list, 99.9), max: list.at(-1) ?? NaN }
}

export interface CommitWait {
  /** performance.now() of the poll that first saw every row (its snapshot was taken after the last commit). */
  committedAt: number
  rows: number
}

/**
 * Polls `count(*)` until the table holds `total` rows. The poll interval shrinks as the end nears
 * (aiming at half the expected remaining time, 5–200 ms), so the end is located within a few ms
 * without the polling itself loading PostgreSQL. Fails if no row arrives for `stallMs`.
 */
export async function waitCommitted(
  observer: pg.Client,
  total: number,
  startedAt: number,
  options: { stallMs: number; onProgress?: (rows: number) => void; isAlive?: () => string | undefined },
): Promise<CommitWait> {
  let lastRows = -1
  let lastChangeAt = performance.now()
  for (;;) {
    const sentAt = performance.now()
    const rows = await countRows(observer)
    options.onProgress?.(rows)
    if (rows >= total) return { committedAt: sentAt, rows }
    const now = performance.now()
    if (rows !== lastRows) {
      lastRows = rows
      lastChangeAt = now
    } else if (now - lastChangeAt > options.stallMs) {
      throw new Error(`stalled: ${rows} of ${total} rows committed, none for ${Math.round(options.stallMs / 1000)} s`)
    }
    const dead = options.isAlive?.()
    if (dead) throw new Error(`${dead} (${rows} of ${total} rows committed)`)
    const rate = rows / Math.max(1, now - startedAt)
    const expectedRemainingMs = rate > 0 ? (total - rows) / rate : 200
    await new Promise((resolve) => setTimeout(resolve, Math.max(5, Math.min(200, expectedRemainingMs / 2))))
  }
}
