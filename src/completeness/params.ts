import { AuditqError } from '../errors.js'

/** A `since` time from a flag or query string: ISO-8601 (or anything Date.parse reads unambiguously), else a clear error. */
export function parseSince(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === '') return undefined
  const ms = typeof value === 'string' ? Date.parse(value) : NaN
  if (Number.isNaN(ms)) {
    const message = `${field} must be a time such as 2026-06-01T00:00:00Z`
    throw new AuditqError('AUDITQ_BAD_REQUEST', message, { details: [{ field, rule: 'timestamp', message }] })
  }
  return new Date(ms)
}

/** A producer id filter: the event field's own rule. */
export function parseProducer(value: unknown, field: string): string | undefined {
  if (value === undefined || value === '') return undefined
  if (typeof value === 'string' && /^[A-Za-z0-9._:-]{1,100}$/.test(value)) return value
  const message = `${field} must be a producer id (letters, digits and . _ : -, at most 100)`
  throw new AuditqError('AUDITQ_BAD_REQUEST', message, { details: [{ field, rule: 'pattern', message }] })
}
