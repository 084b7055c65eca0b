/**
 * CPU time by role over a scenario, read from /proc (Linux): the bench process (the producer, i.e.
 * the application calling `log()`), the worker processes it spawned, PostgreSQL, Redis, and
 * everything else on the machine. The cheapest honest answer to "where did the time go", and it
 * needs no profiler attached to the servers.
 */
import { readdirSync, readFileSync } from 'node:fs'

export type Role = 'producer' | 'workers' | 'postgres' | 'redis' | 'other'
export const ROLES: readonly Role[] = ['producer', 'workers', 'postgres', 'redis', 'other']

/** Clock ticks per second on Linux (USER_HZ); /proc reports utime and stime in these. */
const TICKS = 100

export interface ProcSample {
  comm: string
  ppid: number
  ticks: number
  /** CPU of its children that exited and were reaped (cutime + cstime). */
  reapedTicks: number
}

/**
 * Roles whose exited children count as their own: a PostgreSQL backend that exits inside the window
 * (a pool closing an idle connection) is reaped by the postmaster, which then carries its CPU. The
 * bench's and the workers' children are not counted this way: a worker process reaped by the bench
 * would be charged to the producer.
 */
const COUNTS_REAPED: ReadonlySet<Role> = new Set(['postgres', 'redis'])

/** Every process's name, parent and CPU so far, from /proc (empty where /proc is missing). */
export function readProcs(): Map<number, ProcSample> {
  const procs = new Map<number, ProcSample>()
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return procs
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // comm is parenthesized and may contain spaces: split after the last ')'.
      const close = stat.lastIndexOf(')')
      const comm = stat.slice(stat.indexOf('(') + 1, close)
      const fields = stat.slice(close + 2).split(' ')
      // fields[0] is state (field 3); utime, stime, cutime, cstime are fields 14–17 → indexes 11–14.
      procs.set(Number(entry), { comm, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), reapedTicks: Number(fields[13]) + Number(fields[14]) })
    } catch {
      // The process exited between readdir and read.
    }
  }
  return procs
}

function machineBusyTicks(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
    return user! + nice! + system! + irq! + softirq! + steal!
  } catch {
    return NaN
  }
}

/** Nanoseconds this process' main thread (the event loop) spent runnable but waiting for a CPU. */
export function runQueueWaitNs(): number {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1])
  } catch {
    return NaN
  }
}

export interface CpuSplit {
  /** CPU seconds per role over the window. */
  seconds: Record<Role, number>
  /** Machine-wide busy CPU seconds (all cores) over the window. */
  machineSeconds: number
  wallSeconds: number
  /** Time the producer's event loop was ready to run but had no CPU (the kernel's run-queue wait). */
  producerRunQueueWaitSeconds: number
  /** CPU seconds of the processes set apart (see CpuMeter), counted in no role; 0 without any. */
  apartSeconds: number
}

/**
 * Call `start()` as the clock starts and `stop()` when it stops; `workerPids` are the spawned roots.
 * `apartPids` are roots whose process trees are counted on their own (with their exited children),
 * not in a role: a PostgreSQL standby on the machine is `postgres` by name but not the database
 * ingest writes to.
 */
export class CpuMeter {
  private before = new Map<number, ProcSample>()
  private machineBefore = 0
  private waitBefore = 0
  private startedAt = 0

  constructor(
    private readonly workerPids: () => number[],
    private readonly apartPids: () => number[] = () => [],
  ) {}

  start(): void {
    this.before = readProcs()
    this.machineBefore = machineBusyTicks()
    this.waitBefore = runQueueWaitNs()
    this.startedAt = performance.now()
  }

  stop(): CpuSplit {
    const after = readProcs()
    const wallSeconds = (performance.now() - this.startedAt) / 1000
    const under = (roots: Set<number>) => (pid: number): boolean => {
      for (let p = pid, depth = 0; p > 1 && depth < 8; depth++) {
        if (roots.has(p)) return true
        p = after.get(p)?.ppid ?? this.before.get(p)?.ppid ?? 0
      }
      return false
    }
    const isWorker = under(new Set(this.workerPids()))
    const isApart = under(new Set(this.apartPids()))
    const seconds: Record<Role, number> = { producer: 0, workers: 0, postgres: 0, redis: 0, other: 0 }
    let apartTicks = 0
    for (const [pid, sample] of after) {
      const before = this.before.get(pid)
      if (isApart(pid)) {
        apartTicks += sample.ticks - (before?.ticks ?? 0) + sample.reapedTicks - (before?.reapedTicks ?? 0)
        continue
      }
      const role: Role =
        pid === process.pid ? 'producer' : isWorker(pid) ? 'workers' : sample.comm.startsWith('postgres') ? 'postgres' : sample.comm.startsWith('redis') ? 'redis' : 'other'
      let ticks = sample.ticks - (before?.ticks ?? 0)
      if (COUNTS_REAPED.has(role)) ticks += sample.reapedTicks - (before?.reapedTicks ?? 0)
      if (ticks <= 0) continue
      seconds[role] += ticks / TICKS
    }
    return {
      seconds,
      machineSeconds: (machineBusyTicks() - this.machineBefore) / TICKS,
      wallSeconds,
      producerRunQueueWaitSeconds: (runQueueWaitNs() - this.waitBefore) / 1e9,
      apartSeconds: Math.max(0, apartTicks) / TICKS,
    }
  }
}
