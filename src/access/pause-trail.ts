/**
 * auditq pausing, in the access trail (PCI DSS 10.2.1.6): the queue overflowing into the spill
 * journal or refusing events (`auditq.queue.overflow`), a worker pausing because the store is
 * unavailable (`auditq.queue.pause`). One episode per cause, not one record per event: an outage
 * writes two records, one when it begins and one when it ends (with the count and first/last
 * time in `metadata.aggregated`), however long it lasts.
 *
 * `noteOverflow` and `notePause` are called on the hot path (an enqueue that overflowed, a failed
 * insert): they only count, never wait and never throw. Records are written through the access
 * recorder, straight to the store, never through the queue that is overflowing. A worker's pause
 * begins when the store is unreachable, so its first record cannot be written then: it waits in
 * order, is retried every quarter window, and is written (dated when the pause began) once the
 * store answers. Every failed write is counted, logged at warn and in health by the recorder.
 *
 * An overflow episode ends after a quiet window with no overflow (the queue gives no signal when
 * it is under its cap again); a pause ends when the worker stores a batch again. Both end, marked
 * `ended: "stopped"`, when the service stops.
 */
import type { AuditEvent } from '../event/types.js'
import type { QueueDivert } from '../queue/overflow.js'
import type { AccessRecord, Aggregate } from './access-event.js'
import type { AccessRecorder } from './recorder.js'

export interface PauseTrailOptions {
  recorder: AccessRecorder
  /** An overflow episode ends after this long without overflow; also the retry interval's base. */
  quietMs: number
  /** Who is pausing: role, host and pid, kept in every record's `what`. */
  process: Record<string, unknown>
  now?: () => number
}

export interface PauseTrailStats {
  /** Episodes begun and not yet ended. */
  open: number
  /** Records waiting to be written (retried while the store refuses them). */
  pending: number
}

interface Episode {
  record: AccessRecord
  first: number
  last: number
  /** Events diverted (overflow) or failed insert attempts (pause) since it began. */
  count: number
}

/** The quiet window never drops below this, so a retry loop never spins. */
const MIN_TICK_MS = 250

export class PauseTrail {
  private readonly episodes = new Map<string, Episode>()
  /** Built when they happened, written in this order; the head is retried until it is stored. */
  private pending: Array<{ event: AuditEvent; record: AccessRecord }> = []
  private writing: Promise<void> | undefined
  private readonly timer: NodeJS.Timeout
  private closed = false

  constructor(private readonly options: PauseTrailOptions) {
    this.timer = setInterval(() => this.tick(), Math.max(MIN_TICK_MS, Math.floor(options.quietMs / 4)))
    this.timer.unref()
  }

  /** Events the queue could not take: counted into the open overflow episode of this cause and outcome. */
  noteOverflow(divert: QueueDivert): void {
    const what = { cause: divert.cause, outcome: divert.outcome, policy: divert.policy, ...(divert.code ? { code: divert.code } : {}) }
    this.note(`overflow:${divert.cause}:${divert.outcome}:${divert.code ?? ''}`, { kind: 'queue.overflow', what }, divert.events)
  }

  /** A worker's insert failed because the store is unavailable: the worker pauses until it answers. */
  notePause(workerId: string): void {
    this.note(`pause:${workerId}`, { kind: 'queue.pause', what: { cause: 'store_unavailable', worker_id: workerId } }, 1)
  }

  /** The worker stored a batch again: its pause ends. */
  noteResumed(workerId: string): void {
    const key = `pause:${workerId}`
    const episode = this.episodes.get(key)
    if (episode) this.end(key, episode, 'resumed')
  }

  stats(): PauseTrailStats {
    return { open: this.episodes.size, pending: this.pending.length }
  }

  /** Ends every open episode (`ended: "stopped"`) and writes what is pending; a write that fails stays counted in the recorder. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    for (const [key, episode] of [...this.episodes]) this.end(key, episode, 'stopped')
    // A write in flight may have failed before taking the records just added: one more attempt.
    await this.writing
    await this.writePending()
  }

  private note(key: string, begun: Pick<AccessRecord, 'kind' | 'what'>, count: number): void {
    if (this.closed) return
    const now = this.now()
    const open = this.episodes.get(key)
    if (open) {
      open.count += count
      open.last = now
      return
    }
    const record: AccessRecord = { kind: begun.kind, actor: { kind: 'system', id: null }, tenant: null, what: { ...this.options.process, ...begun.what } }
    this.episodes.set(key, { record, first: now, last: now, count })
    this.enqueue({ ...record, what: { ...record.what, state: 'began' } }, now)
  }

  private end(key: string, episode: Episode, ended: 'resumed' | 'quiet' | 'stopped'): void {
    this.episodes.delete(key)
    const now = this.now()
    const record: AccessRecord = { ...episode.record, what: { ...episode.record.what, state: 'ended', ended } }
    this.enqueue(record, now, {
      count: episode.count,
      first_at: new Date(episode.first).toISOString(),
      last_at: new Date(episode.last).toISOString(),
      window_ms: now - episode.first,
    })
  }

  private enqueue(record: AccessRecord, at: number, aggregate?: Aggregate): void {
    this.pending.push({ event: this.options.recorder.eventFor(record, at, aggregate), record })
    void this.writePending()
  }

  /** Ends overflow episodes that have been quiet for a window, and retries what is pending. */
  private tick(): void {
    const now = this.now()
    for (const [key, episode] of [...this.episodes]) {
      if (episode.record.kind === 'queue.overflow' && now - episode.last >= this.options.quietMs) this.end(key, episode, 'quiet')
    }
    if (this.pending.length > 0) void this.writePending()
  }

  /** Single flight, in order: one batch of everything pending; on failure it all stays for the next tick. */
  private writePending(): Promise<void> {
    this.writing ??= (async () => {
      try {
        while (this.pending.length > 0) {
          const batch = this.pending.slice()
          try {
            await this.options.recorder.writeEvents(
              batch.map((item) => item.event),
              batch[0]!.record,
            )
          } catch {
            // Counted and logged at warn by the recorder (and in health while it lasts); retried at the next tick.
            return
          }
          this.pending.splice(0, batch.length)
        }
      } finally {
        this.writing = undefined
      }
    })()
    return this.writing
  }

  private now(): number {
    return this.options.now?.() ?? Date.now()
  }
}
