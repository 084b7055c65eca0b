/**
 * The producer's accounting records, stored as events with reserved actions (so they travel the
 * same path as the events they account for — group commit, queue, spill, worker — with the same
 * durability, and are chained and tamper-evident like them). Pure: builds and reads records.
 *
 * - `auditq.producer.head`: producer id, last sequence number issued, how many were issued, and
 *   whether the producer was still holding events (spilled, unsettled) when it wrote it. Written
 *   periodically and once more, `final`, on `close()`.
 * - `auditq.producer.rejected`: sequence ranges the producer issued that will never be stored —
 *   refused by validation or by the store — each with the rule, so a refusal is not a gap.
 * - `auditq.producer.dead_lettered`: sequence ranges a queue worker moved to the dead-letter queue
 *   because the store refused their content, each with the store's error. Written by the worker
 *   before the move, so a number is never in the dead-letter queue without its record. Unlike a
 *   rejection it is not final: a dead letter replayed and stored is simply stored.
 * - `auditq.producer.purged`: sequence ranges `auditq dlq purge` deleted from the dead-letter
 *   queue for good, each with the error that dead-lettered them. Final, like a rejection: the
 *   numbers were accounted for and then discarded by an operator, they are not missing.
 */
import { v7 as uuidv7 } from 'uuid'
import { noAddedFields, type AuditEvent } from '../event/types.js'

import { PRODUCER_DEAD_LETTERED_ACTION, PRODUCER_HEAD_ACTION, PRODUCER_PURGED_ACTION, PRODUCER_REJECTED_ACTION } from '../event/reserved.js'

export { PRODUCER_DEAD_LETTERED_ACTION, PRODUCER_HEAD_ACTION, PRODUCER_PURGED_ACTION, PRODUCER_REJECTED_ACTION }
export const ACCOUNTING_ACTIONS = [PRODUCER_HEAD_ACTION, PRODUCER_REJECTED_ACTION, PRODUCER_DEAD_LETTERED_ACTION, PRODUCER_PURGED_ACTION] as const

/** The store's error kept in a dead-letter record: enough to recognise it (the DLQ keeps it whole). */
const MAX_RULE_LENGTH = 200

/** A run of sequence numbers refused for one rule. */
export interface SeqRange {
  from: number
  to: number
  rule: string
}

export interface HeadRecord {
  producer_id: string
  last_seq: number
  /** Sequence numbers issued (equal to last_seq for a producer that started at 1). */
  issued: number
  /** Events the producer still held when it wrote this (spilled to disk, or not yet settled). */
  unsettled: number
  final: boolean
}

export interface RejectedRecord {
  producer_id: string
  ranges: SeqRange[]
}

/** One accounting record as read back from the store. */
export type AccountingRecord =
  | ({ kind: 'head'; recorded_at: string } & HeadRecord)
  | ({ kind: 'rejected'; recorded_at: string } & RejectedRecord)
  | ({ kind: 'dead_lettered'; recorded_at: string } & RejectedRecord)
  | ({ kind: 'purged'; recorded_at: string } & RejectedRecord)

function systemEvent(tenant: string, now: string, action: string, metadata: Record<string, unknown>): AuditEvent {
  return {
    id: uuidv7(),
    tenant_id: tenant,
    action,
    category: 'info',
    occurred_at: now,
    received_at: now,
    actor_id: 'auditq',
    actor_type: 'system',
    resource_type: 'producer',
    resource_id: String(metadata.producer_id),
    success: true,
    error_message: null,
    description: null,
    ip_address: null,
    user_agent: null,
    session_id: null,
    request_id: null,
    client_id: null,
    metadata,
    ...noAddedFields(),
  }
}

export function headEvent(tenant: string, now: Date, head: HeadRecord): AuditEvent {
  const { producer_id, last_seq, issued, unsettled, final } = head
  return systemEvent(tenant, now.toISOString(), PRODUCER_HEAD_ACTION, { final, issued, last_seq, producer_id, unsettled })
}

export function rejectedEvent(tenant: string, now: Date, record: RejectedRecord): AuditEvent {
  return systemEvent(tenant, now.toISOString(), PRODUCER_REJECTED_ACTION, {
    producer_id: record.producer_id,
    ranges: record.ranges.map((range) => [range.from, range.to, range.rule]),
  })
}

/** The worker's record that these numbers went to the dead-letter queue (the rule is the store's error). */
export function deadLetteredEvent(tenant: string, now: Date, record: RejectedRecord, action: typeof PRODUCER_DEAD_LETTERED_ACTION | typeof PRODUCER_PURGED_ACTION = PRODUCER_DEAD_LETTERED_ACTION): AuditEvent {
  return systemEvent(tenant, now.toISOString(), action, {
    producer_id: record.producer_id,
    ranges: record.ranges.map((range) => [range.from, range.to, range.rule.slice(0, MAX_RULE_LENGTH)]),
  })
}

/**
 * The dead-letter records for events the store refused with `error`: one per tenant and producer
 * (in the event's tenant, so a tenant-scoped check sees it); unnumbered events need none.
 */
export function deadLetterRecords(events: readonly AuditEvent[], error: string, now: Date): AuditEvent[] {
  return rangeRecords(events, () => error, now, PRODUCER_DEAD_LETTERED_ACTION)
}

/**
 * The records of dead letters purged for good, each event with the error that dead-lettered it:
 * one per tenant and producer; unnumbered events need none.
 */
export function purgedRecords(letters: ReadonlyArray<{ event: AuditEvent; error: string }>, now: Date): AuditEvent[] {
  const errors = new Map(letters.map((letter) => [letter.event, letter.error]))
  return rangeRecords(letters.map((letter) => letter.event), (event) => errors.get(event) ?? '', now, PRODUCER_PURGED_ACTION)
}

function rangeRecords(events: readonly AuditEvent[], ruleOf: (event: AuditEvent) => string, now: Date, action: typeof PRODUCER_DEAD_LETTERED_ACTION | typeof PRODUCER_PURGED_ACTION): AuditEvent[] {
  const byKey = new Map<string, { tenant: string; producer: string; seqs: Map<number, string> }>()
  for (const event of events) {
    const { producer_id: producer, producer_seq: seq } = event
    if (typeof producer !== 'string' || typeof seq !== 'number') continue
    const key = JSON.stringify([event.tenant_id, producer])
    const entry = byKey.get(key) ?? { tenant: event.tenant_id, producer, seqs: new Map<number, string>() }
    entry.seqs.set(seq, ruleOf(event))
    byKey.set(key, entry)
  }
  return [...byKey.values()].map(({ tenant, producer, seqs }) => {
    const ranges: SeqRange[] = []
    for (const seq of [...seqs.keys()].sort((a, b) => a - b)) addToRanges(ranges, seq, seqs.get(seq)!.slice(0, MAX_RULE_LENGTH))
    return deadLetteredEvent(tenant, now, { producer_id: producer, ranges }, action)
  })
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

/** An accounting record from a stored event, or null when its metadata is not one (never trusted blindly). */
export function readAccounting(action: string, receivedAt: string, metadata: Record<string, unknown>): AccountingRecord | null {
  const producer = metadata.producer_id
  if (typeof producer !== 'string') return null
  if (action === PRODUCER_HEAD_ACTION) {
    const { last_seq, issued, unsettled, final } = metadata
    if (!isCount(last_seq) || !isCount(issued) || !isCount(unsettled)) return null
    return { kind: 'head', recorded_at: receivedAt, producer_id: producer, last_seq, issued, unsettled, final: final === true }
  }
  if ((action === PRODUCER_REJECTED_ACTION || action === PRODUCER_DEAD_LETTERED_ACTION || action === PRODUCER_PURGED_ACTION) && Array.isArray(metadata.ranges)) {
    const ranges: SeqRange[] = []
    for (const item of metadata.ranges as unknown[]) {
      if (!Array.isArray(item)) return null
      const [from, to, rule] = item as unknown[]
      if (!isCount(from) || !isCount(to) || from < 1 || to < from || typeof rule !== 'string') return null
      ranges.push({ from, to, rule })
    }
    return { kind: action === PRODUCER_REJECTED_ACTION ? 'rejected' : action === PRODUCER_PURGED_ACTION ? 'purged' : 'dead_lettered', recorded_at: receivedAt, producer_id: producer, ranges }
  }
  return null
}

/** Adds `seq` to sorted, merged ranges (same rule merges with a neighbour). */
export function addToRanges(ranges: SeqRange[], seq: number, rule: string): void {
  const last = ranges.at(-1)
  if (last && last.rule === rule && last.to + 1 === seq) last.to = seq
  else ranges.push({ from: seq, to: seq, rule })
}
