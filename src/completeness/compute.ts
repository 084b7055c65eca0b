/**
 * Completeness of each producer's sequence: which numbers it issued are neither stored nor
 * accounted for. Pure: given the stored islands (maximal runs of consecutive stored sequence
 * numbers, from the runs the store recorded as it inserted) and the accounting records, it lists the gaps
 * and classifies each.
 *
 * A gap is a range of numbers that were issued — a later number is stored, or a head record says
 * so — yet are neither stored nor in a rejection record. When were they issued? No later than the
 * first evidence of a higher number: the `received_at` of the next stored event (numbers are
 * issued in order, and received_at is stamped in the same call), or the time of the first head
 * record covering them. If that is older than the bound, and the producer's newest head record
 * does not say it still holds events (spilled while Redis was away), the gap is `missing`;
 * otherwise it is `in_flight` (queued, spilled, pending in a worker). Numbers above both the last
 * stored one and the newest head are unknown and not reported: a producer that never writes a
 * head record (an HTTP client numbering its own events) is checked up to its last stored event.
 *
 * Numbers in a dead-letter record (a worker moved them to the dead-letter queue) are neither: they
 * are `dead_lettered`, whatever their age, until a replay stores them — then they are no longer a
 * gap at all, so a stored number always wins over its dead-letter record. Numbers in a purge
 * record (`auditq dlq purge` deleted their dead letters for good) are `purged`: accounted for and
 * discarded by an operator, final like a rejection, and no longer waiting in the dead-letter queue.
 */
import type { AccountingRecord, SeqRange } from './accounting.js'

/** A maximal run of consecutive stored sequence numbers of one producer. */
export interface Island {
  producer_id: string
  first: number
  last: number
  /** received_at of the run's first event (the earliest, since numbers are issued in order). */
  first_received_at: string
}

export interface Gap {
  from: number
  to: number
  state: 'missing' | 'in_flight'
  /** When the numbers were issued at the latest (the first evidence of a higher number). */
  issued_by: string
}

export interface ProducerCompleteness {
  producer_id: string
  stored: number
  rejected: number
  /** The refused numbers, by rule (validation rules, or the error code that refused the event, e.g. AUDITQ_QUEUE_FULL under `drop`). */
  rejected_ranges: SeqRange[]
  /** Numbers waiting in the dead-letter queue (the store refused their content), never stored since. */
  dead_lettered: number
  /** Those numbers, by the store's error (replayed and stored ones are left out). */
  dead_lettered_ranges: SeqRange[]
  /** Numbers whose dead letters `auditq dlq purge` deleted for good, never stored. */
  purged: number
  /** Those numbers, by the error that dead-lettered them. */
  purged_ranges: SeqRange[]
  last_stored_seq: number
  head: { last_seq: number; recorded_at: string; final: boolean; unsettled: number } | null
  missing: Gap[]
  in_flight: Gap[]
}

export interface CompletenessOptions {
  now: Date
  /** Gaps whose numbers were issued more recently than this are still in flight. */
  inFlightBoundMs: number
  /** Only numbers issued at or after this (the first stored event at or after it starts the check). */
  since?: Date
}

export function computeCompleteness(islands: readonly Island[], records: readonly AccountingRecord[], options: CompletenessOptions): ProducerCompleteness[] {
  const byProducer = new Map<string, { islands: Island[]; records: AccountingRecord[] }>()
  const entry = (id: string) => {
    let value = byProducer.get(id)
    if (!value) byProducer.set(id, (value = { islands: [], records: [] }))
    return value
  }
  for (const island of islands) entry(island.producer_id).islands.push(island)
  for (const record of records) entry(record.producer_id).records.push(record)
  return [...byProducer.keys()].sort().map((id) => producerCompleteness(id, byProducer.get(id)!, options))
}

function producerCompleteness(id: string, data: { islands: Island[]; records: AccountingRecord[] }, options: CompletenessOptions): ProducerCompleteness {
  const islands = [...data.islands].sort((a, b) => a.first - b.first)
  const heads = data.records.filter((r) => r.kind === 'head').sort((a, b) => a.recorded_at.localeCompare(b.recorded_at) || a.last_seq - b.last_seq)
  const rejected: SeqRange[] = data.records.flatMap((r) => (r.kind === 'rejected' ? r.ranges : [])).sort((a, b) => a.from - b.from)
  // A worker that died between its record and the move, or a replayed letter refused again, writes
  // the same numbers twice: subtract() and intersect() take overlapping ranges as they come.
  const deadLetters: SeqRange[] = data.records.flatMap((r) => (r.kind === 'dead_lettered' ? r.ranges : [])).sort((a, b) => a.from - b.from)
  const purges: SeqRange[] = data.records.flatMap((r) => (r.kind === 'purged' ? r.ranges : [])).sort((a, b) => a.from - b.from)
  const newestHead = heads.reduce<(typeof heads)[number] | undefined>((best, h) => (!best || h.last_seq > best.last_seq || (h.last_seq === best.last_seq && h.recorded_at > best.recorded_at) ? h : best), undefined)
  const lastStored = islands.at(-1)?.last ?? 0
  const horizon = Math.max(lastStored, newestHead?.last_seq ?? 0, [...deadLetters, ...purges].reduce((n, r) => Math.max(n, r.to), 0))

  // Where the check starts: 1, or with `since` the first stored number issued at or after it.
  let start = 1
  if (options.since) {
    const sinceIso = options.since.toISOString()
    const first = islands.find((island) => island.first_received_at >= sinceIso)
    start = first ? first.first : horizon + 1
  }

  // Raw gaps between the islands, and above the last one up to the newest head.
  const raw: Array<{ from: number; to: number; evidence: string | undefined }> = []
  let expected = start
  for (const island of islands) {
    if (island.last < start) continue
    if (island.first > expected) raw.push({ from: expected, to: island.first - 1, evidence: island.first_received_at })
    expected = Math.max(expected, island.last + 1)
  }
  if (horizon >= expected) raw.push({ from: expected, to: horizon, evidence: undefined })

  const boundIso = new Date(options.now.getTime() - options.inFlightBoundMs).toISOString()
  // A producer that says (in a head record younger than the bound) it still holds events has not lost them yet.
  const stillHolding = newestHead !== undefined && newestHead.unsettled > 0 && newestHead.recorded_at >= boundIso
  const missing: Gap[] = []
  const inFlight: Gap[] = []
  const deadLettered: SeqRange[] = []
  const purged: SeqRange[] = []
  for (const gap of raw) {
    const unpurged: Array<{ from: number; to: number }> = []
    for (const part of subtract(gap.from, gap.to, rejected)) {
      purged.push(...intersect(part.from, part.to, purges))
      unpurged.push(...subtract(part.from, part.to, purges))
    }
    for (const part of unpurged) deadLettered.push(...intersect(part.from, part.to, deadLetters))
    for (const part of unpurged.flatMap((run) => subtract(run.from, run.to, deadLetters))) {
      const headEvidence = heads.find((h) => h.last_seq >= part.to)?.recorded_at
      const issuedBy = [gap.evidence, headEvidence].filter((t): t is string => t !== undefined).sort()[0]
      if (issuedBy === undefined) continue
      const state = issuedBy < boundIso && !stillHolding ? 'missing' : 'in_flight'
      ;(state === 'missing' ? missing : inFlight).push({ from: part.from, to: part.to, state, issued_by: issuedBy })
    }
  }
  return {
    producer_id: id,
    stored: islands.reduce((n, island) => n + island.last - island.first + 1, 0),
    rejected: rejected.reduce((n, range) => n + range.to - range.from + 1, 0),
    rejected_ranges: rejected,
    dead_lettered: deadLettered.reduce((n, range) => n + range.to - range.from + 1, 0),
    dead_lettered_ranges: deadLettered,
    purged: purged.reduce((n, range) => n + range.to - range.from + 1, 0),
    purged_ranges: purged,
    last_stored_seq: lastStored,
    head: newestHead ? { last_seq: newestHead.last_seq, recorded_at: newestHead.recorded_at, final: newestHead.final, unsettled: newestHead.unsettled } : null,
    missing,
    in_flight: inFlight,
  }
}

/** [from, to] minus the (sorted) ranges, as the runs left. */
function subtract(from: number, to: number, ranges: readonly SeqRange[]): Array<{ from: number; to: number }> {
  const out: Array<{ from: number; to: number }> = []
  let cursor = from
  for (const range of ranges) {
    if (range.to < cursor) continue
    if (range.from > to) break
    if (range.from > cursor) out.push({ from: cursor, to: range.from - 1 })
    cursor = Math.max(cursor, range.to + 1)
    if (cursor > to) break
  }
  if (cursor <= to) out.push({ from: cursor, to })
  return out
}

/** The parts of [from, to] the (sorted, possibly overlapping) ranges cover, each with its range's rule. */
function intersect(from: number, to: number, ranges: readonly SeqRange[]): SeqRange[] {
  const out: SeqRange[] = []
  let cursor = from
  for (const range of ranges) {
    if (range.to < cursor) continue
    if (range.from > to) break
    const start = Math.max(cursor, range.from)
    const end = Math.min(to, range.to)
    out.push({ from: start, to: end, rule: range.rule })
    cursor = end + 1
    if (cursor > to) break
  }
  return out
}

/** Numbers reported missing, summed over producers: what the gauge shows. */
export function missingCount(report: readonly ProducerCompleteness[]): number {
  return report.reduce((n, p) => n + p.missing.reduce((m, gap) => m + gap.to - gap.from + 1, 0), 0)
}
