import { createHash } from 'node:crypto'
import { AuditqError } from '../errors.js'
import { uuidV8FromDigest } from '../event/derived-id.js'
import { Intake } from '../event/intake.js'
import { redactionPolicy, type RedactionOptions } from '../event/redact.js'
import type { AuditEvent, FieldError } from '../event/types.js'
import { insertIsolating } from '../store/isolating-insert.js'
import type { Store } from '../store/store.js'

/**
 * What every importer shares: turning an old queue's item into a stored event through the same
 * validation, reserved-action check and redaction the SDK applies, under an id derived from the
 * item itself, so a re-run after a crash finds the event already stored instead of storing it twice.
 */

/** Running totals of one import, reported as progress and as the final summary. */
export interface ImportSummary {
  /** Events written by this run. */
  imported: number
  /** Valid events that were already stored (by an earlier, interrupted run): nothing written. */
  duplicates: number
  /** Items set aside with their reason instead of being stored. */
  invalid: number
  /** Items still in the source when the run ended (added by producers after its last look). */
  remaining: number
  /** Items left in the source untouched because they are not audit events (BullMQ jobs of other names). */
  skipped: number
}

export function emptySummary(): ImportSummary {
  return { imported: 0, duplicates: 0, invalid: 0, remaining: 0, skipped: 0 }
}

export interface ImportTarget {
  store: Store
  defaultTenant: string
  redaction?: RedactionOptions
  now?: () => Date
}

/** One source item, already parsed, with the id it gets when it names none. */
export interface SourceItem {
  /** The parsed JSON value, or `undefined` with `parseError` when the bytes were not JSON. */
  value: unknown
  parseError?: string
  derivedId: string
}

export type ItemOutcome = { ok: true } | { ok: false; errors: FieldError[] }

/**
 * A UUID (version 8, RFC 9562 "custom") from a SHA-256 of the given parts: the same item always
 * gets the same id, different items practically never share one. Parts are length-prefixed so
 * ("ab", "c") and ("a", "bc") differ.
 */
export function stableId(...parts: ReadonlyArray<string | Buffer>): string {
  const hash = createHash('sha256')
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part
    hash.update(`${bytes.length}:`)
    hash.update(bytes)
  }
  return uuidV8FromDigest(hash.digest())
}

export class EventPreparer {
  private readonly intake: Intake
  private readonly now: () => Date

  constructor(private readonly target: ImportTarget) {
    // The SDK's own intake: validation, reserved actions and redaction are exactly what `log()` applies.
    this.intake = new Intake({ defaultTenant: target.defaultTenant, redaction: redactionPolicy(target.redaction), onInvalid: () => undefined, onAccepted: () => undefined })
    this.now = target.now ?? (() => new Date())
  }

  /** Validates an item as the SDK would; an item without an `id` gets its derived one. */
  prepare(item: SourceItem): { ok: true; event: AuditEvent } | { ok: false; errors: FieldError[] } {
    if (item.parseError !== undefined) {
      return { ok: false, errors: [{ field: '(root)', rule: 'json', message: `the item is not valid JSON: ${item.parseError}` }] }
    }
    return this.intake.admit(withId(item.value, item.derivedId), { receivedAt: this.now() })
  }

  /**
   * Stores the valid items of a batch and returns one outcome per item. Throws (an AuditqError
   * AUDITQ_STORE_UNAVAILABLE) when the store could not take them: the caller then keeps the whole
   * batch in its source, to be retried, rather than set anything aside.
   */
  async store(items: readonly SourceItem[], summary: ImportSummary): Promise<ItemOutcome[]> {
    const outcomes: ItemOutcome[] = new Array(items.length)
    const valid: { index: number; event: AuditEvent }[] = []
    items.forEach((item, index) => {
      const prepared = this.prepare(item)
      if (prepared.ok) valid.push({ index, event: prepared.event })
      else outcomes[index] = prepared
    })
    const report = await insertIsolating(this.target.store, valid.map((entry) => entry.event))
    const unavailable = report.outcomes.find((outcome) => !outcome.ok && outcome.error.code !== 'AUDITQ_STORE_REJECTED')
    if (unavailable && !unavailable.ok) throw unavailable.error
    report.outcomes.forEach((outcome, position) => {
      const index = valid[position]!.index
      outcomes[index] = outcome.ok ? { ok: true } : { ok: false, errors: [{ field: '(event)', rule: 'store_rejected', message: outcome.error.message }] }
    })
    summary.imported += report.inserted
    summary.duplicates += report.duplicates
    summary.invalid += outcomes.filter((outcome) => !outcome.ok).length
    return outcomes
  }

  /** Dry run: what `store` would do, without writing. */
  async assess(items: readonly SourceItem[], summary: ImportSummary): Promise<ItemOutcome[]> {
    const outcomes: ItemOutcome[] = []
    for (const item of items) {
      const prepared = this.prepare(item)
      if (!prepared.ok) {
        summary.invalid += 1
        outcomes.push(prepared)
        continue
      }
      const existing = await this.target.store.getById(prepared.event.id)
      if (existing) summary.duplicates += 1
      else summary.imported += 1
      outcomes.push({ ok: true })
    }
    return outcomes
  }
}

/** `{ ...value, id }` for an object that names no id; anything else as it is (validation reports it). */
function withId(value: unknown, id: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const sent = (value as Record<string, unknown>).id
  return sent === undefined || sent === null || sent === '' ? { ...value, id } : value
}

export function parseItem(raw: string, derivedId: string): SourceItem {
  try {
    return { value: JSON.parse(raw) as unknown, derivedId }
  } catch (error) {
    return { value: undefined, parseError: (error as Error).message, derivedId }
  }
}

/** One line naming every failing field, for a side list entry or a failed job's reason. */
export function describeErrors(errors: readonly FieldError[]): string {
  return errors.map((error) => `${error.field} (${error.rule}): ${error.message}`).join('; ')
}

export function assertPositiveInt(value: number, flag: string, max: number): void {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new AuditqError('AUDITQ_BAD_REQUEST', `${flag} must be a whole number from 1 to ${max}`)
  }
}
