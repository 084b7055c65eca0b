/**
 * Creating, listing and releasing legal holds, each change recorded in the access trail. Shared by
 * the HTTP routes and the CLI. Order matters for what a failure leaves behind: a hold is created
 * before its record is written (an unrecorded hold only keeps more), a release is recorded before
 * it takes effect (events must never become deletable without a record saying who allowed it).
 */
import { v7 as uuidv7 } from 'uuid'
import type { AccessActor, AccessRecord } from '../access/access-event.js'
import { AuditqError } from '../errors.js'
import type { LegalHold, RetentionRulesStore, TenantRetention } from './retention-rules.js'

const TENANT = /^[A-Za-z0-9._:-]{1,128}$/
const MAX_TEXT = 256
const MAX_REASON = 2_000

export interface HoldRequest {
  tenant_id: string
  actor_id?: string | undefined
  /** `TYPE:ID`, split at the first colon (an id may contain colons). */
  resource?: string | undefined
  reason: string
}

export type RecordAccess = (record: Pick<AccessRecord, 'kind' | 'what' | 'tenant'> & { success?: boolean }) => Promise<void>

function bad(field: string, rule: string, message: string): AuditqError {
  return new AuditqError('AUDITQ_BAD_REQUEST', `${field}: ${message}`, { details: [{ field, rule, message }] })
}

function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw bad(field, 'required', 'must be a non-empty string')
  if (value.length > max) throw bad(field, 'max_length', `must be at most ${max} characters`)
  if (/[\u0000-\u001f]/.test(value) && field !== 'reason') throw bad(field, 'control_characters', 'must not contain control characters')
  return value
}

export function checkTenantId(value: unknown, field = 'tenant_id'): string {
  if (typeof value !== 'string' || !TENANT.test(value)) throw bad(field, 'pattern', 'must be 1-128 letters, digits and . _ : -')
  return value
}

/** Validates a hold request, naming the field and rule of the first problem. */
export function parseHold(input: HoldRequest): Omit<LegalHold, 'id' | 'created_at' | 'created_by' | 'released_at' | 'released_by'> {
  const tenant_id = checkTenantId(input.tenant_id)
  const actor_id = input.actor_id === undefined ? null : text(input.actor_id, 'actor_id', MAX_TEXT)
  let resource_type: string | null = null
  let resource_id: string | null = null
  if (input.resource !== undefined) {
    const resource = text(input.resource, 'resource', MAX_TEXT * 2)
    const colon = resource.indexOf(':')
    if (colon <= 0 || colon === resource.length - 1) throw bad('resource', 'type_and_id', 'must be TYPE:ID, e.g. invoice:42')
    resource_type = resource.slice(0, colon)
    resource_id = resource.slice(colon + 1)
  }
  return { tenant_id, actor_id, resource_type, resource_id, reason: text(input.reason, 'reason', MAX_REASON) }
}

export function parseTenantRetention(tenant: unknown, input: { days?: unknown; keep_actions?: unknown }): Omit<TenantRetention, 'updated_at'> {
  const tenant_id = checkTenantId(tenant)
  const days = typeof input.days === 'string' && /^\d+$/.test(input.days) ? Number(input.days) : input.days
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 36_500) throw bad('days', 'range', 'must be a whole number of days from 1 to 36500')
  const keep = input.keep_actions ?? []
  if (!Array.isArray(keep) || keep.length > 100 || !keep.every((action) => typeof action === 'string' && action.length > 0 && action.length <= MAX_TEXT)) {
    throw bad('keep_actions', 'list', 'must be a list of up to 100 action names')
  }
  return { tenant_id, days, keep_actions: [...new Set(keep as string[])].sort() }
}

export class Holds {
  constructor(
    private readonly rules: RetentionRulesStore,
    private readonly record: RecordAccess,
  ) {}

  async create(request: HoldRequest, by: AccessActor): Promise<LegalHold> {
    const hold: LegalHold = { ...parseHold(request), id: uuidv7(), created_at: new Date().toISOString(), created_by: actorName(by), released_at: null, released_by: null }
    await this.rules.createHold(hold)
    await this.record({ kind: 'hold.create', tenant: hold.tenant_id, what: describe(hold) })
    return hold
  }

  list(options: { tenant_id?: string; includeReleased?: boolean }): Promise<LegalHold[]> {
    return this.rules.listHolds(options)
  }

  /** Releases one hold; `tenant` (a key's tenant) must own it. */
  async release(id: string, by: AccessActor, options: { reason?: string | undefined; tenant?: string | null } = {}): Promise<LegalHold> {
    const reason = options.reason === undefined ? undefined : text(options.reason, 'reason', MAX_REASON)
    const hold = (await this.rules.listHolds({ includeReleased: true })).find((candidate) => candidate.id === id)
    if (!hold || (options.tenant && hold.tenant_id !== options.tenant)) throw new AuditqError('AUDITQ_NOT_FOUND', `no legal hold with id ${JSON.stringify(id.slice(0, 64))}`)
    if (hold.released_at !== null) return hold
    await this.record({ kind: 'hold.release', tenant: hold.tenant_id, what: { ...describe(hold), ...(reason ? { release_reason: reason } : {}) } })
    const released = await this.rules.releaseHold(id, { released_at: new Date().toISOString(), released_by: actorName(by) })
    return released ?? hold
  }

  async setTenantRetention(tenant: unknown, input: { days?: unknown; keep_actions?: unknown }): Promise<TenantRetention> {
    const rule = { ...parseTenantRetention(tenant, input), updated_at: new Date().toISOString() }
    // Recorded first: a shorter retention deletes more, so it must never take effect unrecorded.
    await this.record({ kind: 'retention.tenant_rule', tenant: rule.tenant_id, what: { days: rule.days, keep_actions: rule.keep_actions } })
    await this.rules.setTenantRetention(rule)
    return rule
  }

  async clearTenantRetention(tenant: unknown): Promise<boolean> {
    const tenant_id = checkTenantId(tenant)
    await this.record({ kind: 'retention.tenant_rule', tenant: tenant_id, what: { cleared: true } })
    return this.rules.clearTenantRetention(tenant_id)
  }
}

function describe(hold: LegalHold): Record<string, unknown> {
  return {
    hold_id: hold.id,
    actor_id: hold.actor_id,
    resource: hold.resource_type === null ? null : `${hold.resource_type}:${hold.resource_id}`,
    reason: hold.reason,
  }
}

function actorName(actor: AccessActor): string {
  return actor.id ?? actor.kind
}
