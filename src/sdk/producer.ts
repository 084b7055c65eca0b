/**
 * The SDK's producer identity and sequence: every event a caller logs gets `producer_id` and the
 * next `producer_seq` (1, 2, 3 …) in `log()`, before validation, so a refused event consumes its
 * number too and is accounted for by a rejection record instead of leaving a gap. The hot path is
 * a counter and one object copy: no I/O. Rejections are remembered in memory until a rejection
 * record carrying them has been durably accepted (the same route as events), and a head record is
 * written periodically and once more on close().
 *
 * A new logger gets a new producer id, so a restarted process starts a new sequence (its old
 * one ends at its final head record, or, after a crash, at its last stored event). A caller that
 * persists its sequence can pass `producer: { id, nextSeq }` to continue one.
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { addToRanges, headEvent, rejectedEvent, type SeqRange } from '../completeness/accounting.js'
import type { AuditEvent } from '../event/types.js'

export interface ProducerOptions {
  /**
   * Number this logger's own events (default true when producer options are given). Without it the
   * producer only accounts for refused events that callers numbered themselves (HTTP clients).
   */
  numbering?: boolean
  /** Producer id (letters, digits and . _ : -, ≤ 100); default: host, pid and a random suffix. */
  id?: string
  /** The next sequence number to issue (default 1): for a caller continuing a persisted sequence. */
  nextSeq?: number
}

const PRODUCER_ID = /^[A-Za-z0-9._:-]{1,100}$/

export function defaultProducerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 60) || 'host'
  return `${host}:${process.pid}:${randomBytes(6).toString('hex')}`
}

export class Producer {
  readonly id: string
  readonly numbering: boolean
  private next: number
  private issued = 0
  /** Numbers refused and not yet in a durably accepted rejection record, per producer id (callers may number their own). */
  private readonly unaccounted = new Map<string, SeqRange[]>()
  private lastHeadSeq = -1

  constructor(options: ProducerOptions = {}) {
    this.numbering = options.numbering ?? true
    this.id = options.id ?? defaultProducerId()
    if (!PRODUCER_ID.test(this.id)) throw new RangeError(`producer id ${JSON.stringify(this.id)}: only letters, digits and . _ : -, at most 100`)
    this.next = options.nextSeq ?? 1
    if (!Number.isSafeInteger(this.next) || this.next < 1) throw new RangeError(`producer nextSeq must be a positive integer, got ${options.nextSeq}`)
  }

  /** The last number issued (0 before the first). */
  get lastSeq(): number {
    return this.next - 1
  }

  /**
   * The input with this producer's id and next number, unless the caller numbered it itself (an
   * HTTP client with its own producer id) or it is not an object (refused anyway, and unnumbered).
   */
  number(input: unknown): unknown {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return input
    const own = input as Record<string, unknown>
    if (!this.numbering || (own.producer_id !== undefined && own.producer_id !== null)) return input
    this.issued += 1
    return { ...own, producer_id: this.id, producer_seq: this.next++ }
  }

  /** Records that `input`'s number will never be stored, for `rule`; a no-op when it carries no valid number. */
  refused(input: unknown, rule: string): void {
    if (typeof input !== 'object' || input === null) return
    const { producer_id: id, producer_seq: seq } = input as Record<string, unknown>
    if (typeof id !== 'string' || !PRODUCER_ID.test(id) || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return
    let ranges = this.unaccounted.get(id)
    if (!ranges) this.unaccounted.set(id, (ranges = []))
    addToRanges(ranges, seq, rule)
  }

  get hasUnaccounted(): boolean {
    return this.unaccounted.size > 0
  }

  /**
   * The accounting events due now: a rejection record per producer id with refusals not yet
   * recorded, and a head record when the sequence moved since the last one (always when `final`).
   * `settle(true)` once they are durably accepted forgets the refusals they carry; `settle(false)`
   * keeps them for the next attempt.
   */
  accounting(tenant: string, now: Date, state: { final: boolean; unsettled: number }): { events: AuditEvent[]; settle(ok: boolean): void } {
    // Taken out now, so refusals arriving while the record is on its way start new ranges.
    const taken = [...this.unaccounted.entries()]
    this.unaccounted.clear()
    const events = taken.map(([producer_id, ranges]) => rejectedEvent(tenant, now, { producer_id, ranges }))
    const headDue = this.numbering && (state.final || this.lastSeq !== this.lastHeadSeq)
    const headSeq = this.lastSeq
    if (headDue) events.push(headEvent(tenant, now, { producer_id: this.id, last_seq: headSeq, issued: this.issued, unsettled: state.unsettled, final: state.final }))
    return {
      events,
      settle: (ok) => {
        if (ok) {
          if (headDue) this.lastHeadSeq = headSeq
          return
        }
        // Not durable: put them back ahead of any recorded since, for the next attempt.
        for (const [id, ranges] of taken) this.unaccounted.set(id, [...ranges, ...(this.unaccounted.get(id) ?? [])])
      },
    }
  }
}
