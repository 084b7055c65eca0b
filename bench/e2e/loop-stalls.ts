/**
 * `--loop-stalls`: where the open-loop caller's late answers come from. The open-loop driver asks
 * for a timer every millisecond; a gap between two ticks much longer than that is a stall of the
 * caller's event loop, and every answer due in it comes late. For each stall this records how
 * much of it the event loop's thread spent runnable but waiting for a CPU (the kernel's run-queue
 * wait, from /proc/self/schedstat, which is the main thread's), and separately how long garbage
 * collection paused the process. The rest of a stall is the process' own work. Opt-in: one small
 * /proc read per tick costs the caller about 1 % of a core, which the headline rows should not
 * carry. */
import { PerformanceObserver } from 'node:perf_hooks'
import { runQueueWaitNs } from './cpu.js'

/** A gap between timer ticks longer than this (the timer asks for 1 ms) counts as a stall. */
const STALL_MS = 3
/** A garbage-collection pause longer than this is counted as a long one. */
const LONG_GC_MS = 2

export interface LoopStalls {
  seconds: number
  ticks: number
  /** Gaps between ticks over STALL_MS. */
  stalls: number
  /** Their summed length. */
  stalledMs: number
  /** Of that, time the event loop's thread was runnable but had no CPU. */
  waitingForCpuMs: number
  /** Garbage-collection pauses over the whole window, and those over LONG_GC_MS. */
  gcMs: number
  gcPauses: number
  longGcPauses: number
}

export class StallRecorder {
  private readonly startedAt = performance.now()
  private lastTickAt = this.startedAt
  private lastWaitNs = runQueueWaitNs()
  private ticks = 0
  private stalls = 0
  private stalledMs = 0
  private waitingNs = 0
  private gcMs = 0
  private gcPauses = 0
  private longGcPauses = 0
  private readonly gc = new PerformanceObserver((list) => this.countGc(list.getEntries()))

  constructor() {
    this.gc.observe({ entryTypes: ['gc'] })
  }

  private countGc(entries: readonly PerformanceEntry[]): void {
    for (const entry of entries) {
      if (entry.startTime < this.startedAt) continue
      this.gcMs += entry.duration
      this.gcPauses++
      if (entry.duration > LONG_GC_MS) this.longGcPauses++
    }
  }

  /** Call first thing in every timer tick. */
  tick(): void {
    const now = performance.now()
    const waitNs = runQueueWaitNs()
    const gap = now - this.lastTickAt
    this.ticks++
    if (gap > STALL_MS) {
      this.stalls++
      this.stalledMs += gap
      this.waitingNs += waitNs - this.lastWaitNs
    }
    this.lastTickAt = now
    this.lastWaitNs = waitNs
  }

  stop(): LoopStalls {
    this.countGc(this.gc.takeRecords())
    this.gc.disconnect()
    return {
      seconds: (performance.now() - this.startedAt) / 1000,
      ticks: this.ticks,
      stalls: this.stalls,
      stalledMs: this.stalledMs,
      waitingForCpuMs: this.waitingNs / 1e6,
      gcMs: this.gcMs,
      gcPauses: this.gcPauses,
      longGcPauses: this.longGcPauses,
    }
  }
}
