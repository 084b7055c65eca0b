/**
 * auditq's OCSF output against the official schema definitions (vendored in test/fixtures/ocsf/,
 * see its README): every required attribute present, every attribute defined for its class or
 * object, every value of its dictionary type, class and type ids as the schema computes them.
 */
import { describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { validateOcsf } from '../../../test/support/ocsf-schema.js'
import type { AuditEvent } from '../../event/types.js'
import { classOf, DEFAULT_CLASS_TABLE, parseClassTable } from './class-table.js'
import { toOcsf } from './map.js'

const HASH = 'ab'.repeat(32)
const item = (overrides: Partial<AuditEvent>) => ({ event: storedEvent(overrides), seq: 7, hash: HASH })

const BARE: Partial<AuditEvent> = { actor_id: null, actor_type: null, resource_type: null, resource_id: null }
const FULL: Partial<AuditEvent> = {
  actor_id: 'u-42',
  actor_type: 'admin',
  ip_address: '2001:db8::1',
  session_id: 's-1',
  request_id: 'r-9',
  client_id: 'web',
  user_agent: 'curl/8',
  description: 'did a thing',
  error_message: 'denied',
  success: false,
  category: 'critical',
  metadata: { reason: 'test', n: 1 },
}

const CASES: Array<[string, Partial<AuditEvent>, string]> = [
  ['document.read', { ip_address: '192.0.2.10' }, 'api_activity'],
  ['document.created', FULL, 'api_activity'],
  ['invoice.updated', BARE, 'api_activity'],
  ['file.deleted', { category: 'warning' }, 'api_activity'],
  ['report.generated', BARE, 'api_activity'],
  ['user.login', FULL, 'authentication'],
  ['user.login', BARE, 'authentication'],
  ['auth.logout', { ip_address: '192.0.2.1' }, 'authentication'],
  ['user.mfa.verify', { success: false, error_message: 'bad code' }, 'authentication'],
  ['user.created', { resource_type: 'user', resource_id: 'u-77' }, 'account_change'],
  ['user.password.reset', BARE, 'account_change'],
  ['role.assigned', FULL, 'account_change'],
  ['api_key.revoked', { resource_type: 'api_key', resource_id: 'k1' }, 'account_change'],
  ['user.mfa.enabled', {}, 'account_change'],
  ['account.locked', {}, 'account_change'],
]

describe('OCSF output against the schema definitions', () => {
  it.each(CASES)('%s maps to a valid %s event', (action, overrides, expectedClass) => {
    const ocsf = toOcsf(item({ ...overrides, action }), { productVersion: '1.2.3' })
    expect(classOf(action, DEFAULT_CLASS_TABLE)).toBe(expectedClass)
    expect(validateOcsf(expectedClass, ocsf)).toEqual([])
  })

  it('keeps the auditq id, chain seq and hash, and maps actor, source, operation, resource, status and time', () => {
    const event = storedEvent({ ...FULL, action: 'document.created', resource_type: 'document', resource_id: 'd-1', occurred_at: '2026-06-01T12:00:00.000Z' })
    const ocsf = toOcsf({ event, seq: 7, hash: HASH }) as Record<string, any>
    expect(ocsf.metadata.uid).toBe(event.id)
    expect(ocsf.metadata.sequence).toBe(7)
    expect(ocsf.unmapped.auditq).toMatchObject({ id: event.id, seq: 7, hash: HASH, tenant_id: event.tenant_id, metadata: { reason: 'test', n: 1 } })
    expect(ocsf.actor.user).toEqual({ uid: 'u-42', type: 'admin', type_id: 2 })
    expect(ocsf.src_endpoint).toEqual({ ip: '2001:db8::1' })
    expect(ocsf.api).toEqual({ operation: 'document.created', request: { uid: 'r-9' } })
    expect(ocsf.resources).toEqual([{ uid: 'd-1', type: 'document' }])
    expect([ocsf.status_id, ocsf.status, ocsf.status_detail]).toEqual([2, 'Failure', 'denied'])
    expect(ocsf.time).toBe(Date.parse('2026-06-01T12:00:00.000Z'))
    expect([ocsf.class_uid, ocsf.activity_id, ocsf.type_uid, ocsf.severity_id]).toEqual([6003, 1, 600301, 5])
  })

  it('catches what it is meant to catch: a missing required attribute, a wrong type, an unknown attribute', () => {
    const valid = toOcsf(item({ action: 'user.login' })) as Record<string, any>
    const broken = structuredClone(valid)
    delete broken.metadata.product
    broken.time = new Date(valid.time).toISOString()
    broken.src_endpoint = { ip: 'not-an-ip' }
    broken.flavour = 'x'
    delete broken.user
    const problems = validateOcsf('authentication', broken)
    expect(problems).toEqual(
      expect.arrayContaining([
        'metadata.product: required, missing',
        expect.stringMatching(/^time: .* is not an integer \(timestamp_t\)$/),
        expect.stringMatching(/^src_endpoint\.ip: .*ip_t/),
        'flavour: not an attribute of this class or object',
        'user: required, missing',
      ]),
    )
  })
})

describe('OCSF class table', () => {
  it('takes the longest matching prefix and defaults to API Activity', () => {
    expect(classOf('user.login.failed', DEFAULT_CLASS_TABLE)).toBe('authentication')
    expect(classOf('user.deleted', DEFAULT_CLASS_TABLE)).toBe('account_change')
    expect(classOf('billing.charged', DEFAULT_CLASS_TABLE)).toBe('api_activity')
  })

  it('reads a configured table, and refuses an unknown class naming the setting', () => {
    const table = parseClassTable('sso.=authentication, billing.refund=account_change')
    expect(classOf('sso.callback', table)).toBe('authentication')
    expect(classOf('user.login', table)).toBe('api_activity')
    expect(() => parseClassTable('sso.=authn')).toThrow(/AUDITQ_OCSF_CLASS_MAP: .*"sso.=authn"/)
    expect(() => parseClassTable('=authentication')).toThrow(/AUDITQ_OCSF_CLASS_MAP/)
  })
})
