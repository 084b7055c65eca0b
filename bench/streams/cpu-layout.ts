/**
 * `--layout two-hosts`: the stream bench's stand-in for the deployment docs/streaming.md
 * recommends, on one machine. The ingest side (this process: load generator and `serve`; every
 * PostgreSQL and Redis process, so the deliverers' feed reads run where the database runs) is
 * pinned to `ingest` CPUs, the delivery side (the `auditq streams run` child, the webhook receiver
 * and rsyslogd) to `delivery` CPUs, with `taskset`. Every variant of the run, the no-streams
 * baseline included, runs in that layout; the affinities found at the start are restored at exit.
 */
import { execFileSync } from 'node:child_process'

function pids(name: string): number[] {
  try {
    return execFileSync('pgrep', ['-x', name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}

/** The affinity mask of `pid` as taskset prints it (hex), or null if the process is gone. */
function maskOf(pid: number): string | null {
  try {
    return execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8' }).trim().split(': ').pop()!
  } catch {
    return null
  }
}

/** Pins every thread of `pid` to `cpus` (a taskset CPU list such as "0" or "2-3"). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' })
}

export class CpuLayout {
  private readonly saved = new Map<number, string>()

  constructor(
    readonly ingest: string,
    readonly delivery: string,
  ) {}

  /** Argv prefix that starts a command on the delivery CPUs. */
  get deliveryPrefix(): string[] {
    return ['taskset', '-c', this.delivery]
  }

  /** Pins this process, PostgreSQL and Redis to the ingest CPUs; returns what it pinned, for the log. */
  pinIngestSide(): string {
    const targets = [
      { name: 'bench', pids: [process.pid] },
      { name: 'postgres', pids: pids('postgres') },
      { name: 'redis-server', pids: pids('redis-server') },
    ]
    for (const { pids: list } of targets) {
      for (const pid of list) {
        const mask = maskOf(pid)
        if (mask === null) continue
        this.saved.set(pid, mask)
        pin(pid, this.ingest)
      }
    }
    process.once('exit', () => this.restore())
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      process.once(signal, () => {
        this.restore()
        process.exit(code)
      })
    }
    return targets.map((t) => `${t.name} ×${t.pids.length}`).join(', ')
  }

  /** Puts back the affinities found at the start (processes that exited since are skipped). */
  restore(): void {
    for (const [pid, mask] of this.saved) {
      try {
        execFileSync('taskset', ['-a', '-p', mask, String(pid)], { stdio: 'ignore' })
      } catch {
        // gone
      }
    }
    this.saved.clear()
  }
}
