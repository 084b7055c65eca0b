import { describe, expect, it } from 'vitest'
import { AuditqError, type ErrorCode } from '../errors.js'
import { Intake, isCritical, routeByCriticality, type EventOutcome } from './intake.js'
import { redactionPolicy } from './redact.js'
import { RETENTION_ACTION } from './reserved.js'
import type { AuditEvent } from './types.js'

const receivedAt = new Date('2026-01-02T03:04:05.000Z')

function newIntake() {
  const invalid: string[] = []
  let accepted = 0
  let redacted = 0
  const subject = new Intake({
    defaultTenant: 'default',
    redaction: redactionPolicy(),
    onInvalid: (rule) => invalid.push(rule),
    onAccepted: (report) => {
      accepted += 1
      redacted += report.redactedValues
    },
  })
  return { subject, invalid, counts: () => ({ accepted, redacted }) }
}

const failing = (code: ErrorCode): EventOutcome => ({ ok: false, error: new AuditqError(code, `failed with ${code}`) })

describe('intake', () => {
  it('stamps a bound tenant on events that name none and refuses one naming another, counting the rule', () => {
    const { subject, invalid } = newIntake()
    const stamped = subject.admit({ action: 'a.b' }, { receivedAt, boundTenant: 'acme' })
    expect(stamped).toMatchObject({ ok: true, event: { tenant_id: 'acme', received_at: receivedAt.toISOString() } })
    const moved = subject.admit({ action: 'a.b', tenant_id: 'other' }, { receivedAt, boundTenant: 'acme' })
    expect(moved).toEqual({ ok: false, errors: [expect.objectContaining({ field: 'tenant_id', rule: 'tenant_mismatch' })] })
    expect(invalid).toEqual(['tenant_mismatch'])
  })

  it("refuses the retention run's reserved action from any caller", () => {
    const { subject, invalid } = newIntake()
    expect(subject.admit({ action: RETENTION_ACTION }, { receivedAt })).toEqual({ ok: false, errors: [expect.objectContaining({ field: 'action', rule: 'reserved' })] })
    expect(invalid).toEqual(['reserved'])
  })

  it('refuses every action of the auditq.* namespace, whatever its case, so no caller can forge a record of access or lifecycle', () => {
    const { subject, invalid } = newIntake()
    for (const action of ['auditq.query', 'auditq.service.stop', 'AUDITQ.export', 'auditq.not_written_yet']) {
      expect(subject.admit({ action }, { receivedAt })).toEqual({ ok: false, errors: [expect.objectContaining({ field: 'action', rule: 'reserved' })] })
    }
    expect(invalid).toEqual(['reserved', 'reserved', 'reserved', 'reserved'])
    expect(subject.admit({ action: 'auditqueue.read' }, { receivedAt })).toMatchObject({ ok: true })
  })

  it('redacts before anything leaves it, and reports what it changed', () => {
    const { subject, counts } = newIntake()
    const result = subject.admit({ action: 'a.b', metadata: { password: 'p', keep: 1 } }, { receivedAt })
    expect(result).toMatchObject({ ok: true, event: { metadata: { password: '[REDACTED]', keep: 1 } } })
    expect(counts()).toEqual({ accepted: 1, redacted: 1 })
  })

  it('one(): throws AUDITQ_VALIDATION naming every field, and routes nothing', async () => {
    const { subject } = newIntake()
    let routed = 0
    const call = subject.one({ ip_address: 'nope' }, { receivedAt }, async (events) => {
      routed += events.length
      return events.map(() => ({ ok: true }))
    })
    await expect(call).rejects.toMatchObject({ code: 'AUDITQ_VALIDATION', details: [expect.objectContaining({ field: 'action' }), expect.objectContaining({ field: 'ip_address' })] })
    expect(routed).toBe(0)
  })

  it('bulk(): the store refusing an event reports it by index; the others are stored', async () => {
    const { subject } = newIntake()
    const result = await subject.bulk([{ action: 'a.one' }, { action: 'bad action!' }, { action: 'a.three' }], { receivedAt }, async (events) => ([{ ok: true }, failing('AUDITQ_STORE_REJECTED')] as EventOutcome[]).slice(0, events.length))
    expect(result.ids).toHaveLength(1)
    expect(result.rejected.map((entry) => [entry.index, entry.errors[0]!.rule])).toEqual([
      [1, 'pattern'],
      [2, 'store_rejected'],
    ])
  })

  it.each(['AUDITQ_STORE_UNAVAILABLE', 'AUDITQ_QUEUE_FULL', 'AUDITQ_SPILL_FULL', 'AUDITQ_SPILL_FAILED'] as const)('bulk(): %s is retryable: thrown with that code and the ids of both parts', async (code) => {
    const { subject } = newIntake()
    const call = subject.bulk([{ action: 'a.one' }, { action: 'a.two' }], { receivedAt }, async () => [{ ok: true }, failing(code)])
    const error = (await call.catch((e: unknown) => e)) as AuditqError
    expect(error.code).toBe(code)
    const details = error.details as { not_stored_ids: string[]; stored_ids: string[] }
    expect(details.not_stored_ids).toHaveLength(1)
    expect(details.stored_ids).toHaveLength(1)
  })

  it('routes critical events apart and returns every outcome in input order', async () => {
    const events = ['info', 'critical', 'info', 'critical'].map((category, n) => ({ id: String(n), category }) as AuditEvent)
    const seen: { critical: string[]; others: string[] } = { critical: [], others: [] }
    const outcomes = await routeByCriticality(events, {
      critical: async (batch) => batch.map((event) => (seen.critical.push(event.id), failing('AUDITQ_STORE_UNAVAILABLE'))),
      others: async (batch) => batch.map((event) => (seen.others.push(event.id), { ok: true }) as EventOutcome),
    })
    expect(seen).toEqual({ critical: ['1', '3'], others: ['0', '2'] })
    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, false, true, false])
    expect(events.map(isCritical)).toEqual([false, true, false, true])
  })
})
