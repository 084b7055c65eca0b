import { AuditqError, type ErrorCode } from '../errors.js'
import { redactEvent, type RedactionPolicy, type RedactionReport } from './redact.js'
import { reservedWriter } from './reserved.js'
import type { AuditEvent, FieldError, ValidationResult } from './types.js'
import { validateEvent } from './validate.js'

/**
 * The one intake every runtime uses (Node SDK, HTTP ingest through it, Workers edition): validation,
 * a key's tenant, reserved actions, redaction, and how a bulk call's outcomes are reported. Pure:
 * no I/O and no Node-only API, since the Workers edition bundles it. Where accepted events go is the
 * caller's `route`.
 */

/** What happened to one event of a batch: stored or accepted (queued, spilled), or the error that kept it out. */
export type EventOutcome = { ok: true } | { ok: false; error: AuditqError }

export interface RejectedEvent {
  index: number
  errors: FieldError[]
}

export interface BulkResult {
  /** Ids of the events now stored (including ones that were already stored), in input order. */
  ids: string[]
  rejected: RejectedEvent[]
}

/**
 * Failures the caller should retry with the same ids: nothing is wrong with the events themselves,
 * the place that should take them could not (store down, queue full under `drop`, spill journal
 * full or failing). Any other failure is the event's own (the store refused it for its content) and
 * is reported by index as `store_rejected`, so a client does not resend it forever.
 */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['AUDITQ_STORE_UNAVAILABLE', 'AUDITQ_QUEUE_FULL', 'AUDITQ_SPILL_FULL', 'AUDITQ_SPILL_FAILED'])

/**
 * The one rule for "critical", decided here and nowhere else: an event is critical when its
 * category is `critical` (`logCritical` sets it; a bulk or HTTP event may carry it). A critical
 * event skips everything that could hold it back or keep it away from the store — the group-commit
 * linger, the queue, the spill journal, the Workers queue — and is written to the store before its
 * call resolves. Routing looks at this, never at which method was called.
 */
export function isCritical(event: AuditEvent): boolean {
  return event.category === 'critical'
}

/** Routes accepted events; resolves with one outcome per event, in order. */
export type Route = (events: AuditEvent[]) => Promise<EventOutcome[]>

/** Sends critical events one way and the rest the other, and returns the outcomes in input order. */
export async function routeByCriticality(events: AuditEvent[], routes: { critical: Route; others: Route }): Promise<EventOutcome[]> {
  if (events.length === 0) return []
  const critical = events.filter(isCritical)
  if (critical.length === 0) return routes.others(events)
  if (critical.length === events.length) return routes.critical(events)
  const others = events.filter((event) => !isCritical(event))
  const [criticalOutcomes, otherOutcomes] = await Promise.all([routes.critical(critical), routes.others(others)])
  const byEvent = new Map<AuditEvent, EventOutcome>()
  critical.forEach((event, index) => byEvent.set(event, criticalOutcomes[index]!))
  others.forEach((event, index) => byEvent.set(event, otherOutcomes[index]!))
  return events.map((event) => byEvent.get(event)!)
}

export interface IntakeOptions {
  /** Tenant for events that name none and come without a bound tenant (validation's own default when absent). */
  defaultTenant?: string
  redaction: RedactionPolicy
  /** Told of every refused event with the rule of its first error (for per-rule counters) and the input as given. */
  onInvalid(rule: string, input: unknown): void
  /** Told of every accepted event with what redaction changed. */
  onAccepted(report: RedactionReport): void
}

export interface IntakeCall {
  /** Stamped as `received_at` on every event of the call. */
  receivedAt: Date
  /**
   * The tenant an API key is bound to: events that name none get it, and an event naming another
   * tenant is refused (`tenant_id`/`tenant_mismatch`) — never silently moved.
   */
  boundTenant?: string
}

export class Intake {
  constructor(private readonly options: IntakeOptions) {}

  /** Validates, enforces a key's tenant and the reserved actions, then redacts: what leaves here is exactly what is stored. */
  admit(input: unknown, call: IntakeCall): ValidationResult {
    const result = this.check(input, call)
    if (!result.ok) {
      this.options.onInvalid(result.errors[0]?.rule ?? 'unknown', input)
      return result
    }
    this.options.onAccepted(redactEvent(result.event, this.options.redaction))
    return result
  }

  /** One event: routed if valid, else AUDITQ_VALIDATION naming every field; resolves with its id once accepted. */
  async one(input: unknown, call: IntakeCall, route: Route): Promise<string> {
    const result = this.admit(input, call)
    if (!result.ok) {
      const summary = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ')
      throw new AuditqError('AUDITQ_VALIDATION', `invalid audit event: ${summary}`, { details: result.errors })
    }
    const [outcome] = await route([result.event])
    if (!outcome || !outcome.ok) throw outcome?.error ?? new AuditqError('AUDITQ_INTERNAL', 'no outcome for event')
    return result.event.id
  }

  /**
   * Routes every valid event; invalid ones and those the store refused are reported by index.
   * Throws only when some valid event was not accepted for a retryable reason, with the ids of both
   * parts, so a retry with the same ids is idempotent.
   */
  async bulk(inputs: readonly unknown[], call: IntakeCall, route: Route): Promise<BulkResult> {
    const valid: { index: number; event: AuditEvent }[] = []
    const rejected: RejectedEvent[] = []
    inputs.forEach((input, index) => {
      const result = this.admit(input, call)
      if (result.ok) valid.push({ index, event: result.event })
      else rejected.push({ index, errors: result.errors })
    })
    const outcomes = await route(valid.map((entry) => entry.event))
    const ids: string[] = []
    const notAccepted: string[] = []
    let retryCode: ErrorCode | undefined
    outcomes.forEach((outcome, position) => {
      const { index, event } = valid[position]!
      if (outcome.ok) ids.push(event.id)
      else if (RETRYABLE_CODES.has(outcome.error.code)) {
        notAccepted.push(event.id)
        retryCode ??= outcome.error.code
      } else rejected.push({ index, errors: [{ field: '(event)', rule: 'store_rejected', message: outcome.error.message }] })
    })
    if (notAccepted.length > 0) {
      throw new AuditqError(retryCode ?? 'AUDITQ_STORE_UNAVAILABLE', `${notAccepted.length} of ${valid.length} events were not accepted; retry them with the same ids`, {
        details: { not_stored_ids: notAccepted, stored_ids: ids },
      })
    }
    rejected.sort((a, b) => a.index - b.index)
    return { ids, rejected }
  }

  private check(input: unknown, call: IntakeCall): ValidationResult {
    const { boundTenant } = call
    const result = validateEvent(input, { receivedAt: call.receivedAt, defaultTenant: boundTenant ?? this.options.defaultTenant })
    if (!result.ok) return result
    if (boundTenant !== undefined && result.event.tenant_id !== boundTenant) {
      const message = `this API key writes only tenant ${JSON.stringify(boundTenant)}; the event names ${JSON.stringify(result.event.tenant_id)}`
      return { ok: false, errors: [{ field: 'tenant_id', rule: 'tenant_mismatch', message }] }
    }
    const writer = reservedWriter(result.event.action)
    if (writer !== undefined) {
      return { ok: false, errors: [{ field: 'action', rule: 'reserved', message: `"${result.event.action}" is written only by ${writer}` }] }
    }
    return result
  }
}
